"""GC pause timing and the memory profiler's estimates (time and RSS injected: no real sleeps)."""

from __future__ import annotations

import gc

from mcp_trio.observability import GcPauses, MemoryProfiler


def test_collections_are_timed_per_generation_and_summarised() -> None:
    pauses = GcPauses(capacity=3).start()
    try:
        for _ in range(5):
            gc.collect()
    finally:
        pauses.stop()
    assert pauses.collections[2] >= 5
    assert pauses.total_seconds > 0
    assert 0 < pauses.percentile(0.99) <= pauses.longest
    summary = pauses.summary()
    assert summary["recent"] == 3  # the ring keeps the most recent only
    gc.collect()
    assert pauses.collections[2] < 7  # stopped: nothing more is counted


def test_percentiles_of_known_pauses() -> None:
    pauses = GcPauses()
    pauses._ring = [0.001 * n for n in range(1, 101)]
    assert pauses.percentile(0.99) == 0.099
    assert pauses.percentile(0.5) == 0.05
    assert GcPauses().percentile(0.99) == 0.0


def test_steady_growth_is_estimated_and_flagged_as_a_leak() -> None:
    now = [0.0]
    rss = [100_000_000]
    open_connections = [0]
    profiler = MemoryProfiler(
        lambda: now[0], lambda: open_connections[0], leak_mb_per_hour=50, min_samples=10, read_rss=lambda: rss[0]
    )
    profiler.sample()  # the no-connection baseline
    for minute in range(1, 20):
        now[0] = minute * 60.0
        rss[0] += 2_000_000  # 2 MB a minute: 120 MB/h
        open_connections[0] = 1_000
        profiler.sample()
    assert round(profiler.growth_mb_per_hour()) == 120
    assert profiler.leaking()
    assert profiler.per_connection() == (rss[0] - 100_000_000) / 1_000
    report = profiler.report()
    assert report["leak_suspected"] is True
    assert report["bytes_per_connection"] == 38_000
    assert "growth_mb_per_hour: 120.0" in profiler.report_text()


def test_flat_memory_is_not_a_leak_and_few_samples_never_are() -> None:
    now = [0.0]
    profiler = MemoryProfiler(lambda: now[0], read_rss=lambda: 50_000_000, min_samples=5)
    for second in range(10):
        now[0] = float(second)
        profiler.sample()
    assert profiler.growth_mb_per_hour() == 0
    assert not profiler.leaking()
    early = MemoryProfiler(lambda: now[0], read_rss=lambda: int(now[0] * 1e9), min_samples=5)
    for second in range(3):
        now[0] = float(second)
        early.sample()
    assert early.growth_mb_per_hour() > 1000
    assert not early.leaking()  # too few samples to say


def test_request_metrics_bucket_latency_count_errors_and_bound_their_series() -> None:
    import time

    from mcp_trio.server.metrics import RequestMetrics

    metrics = RequestMetrics(max_series=2)
    now = time.perf_counter()
    metrics.observe("tools/call", "echo", now - 0.00005, now, False)
    metrics.observe("tools/call", "echo", now - 0.003, now, True)
    metrics.observe("tools/list", None, now - 0.2, now, False)
    metrics.observe("prompts/get", None, now - 0.2, now, False)  # past max_series: counted as "other"
    echo = metrics.series[("tools/call", "echo")]
    assert echo.count == 2
    assert echo.errors == 1
    assert echo.buckets[0] == 1  # <= 100 us
    assert echo.buckets[metrics.buckets.index(0.005)] == 1  # <= 5 ms
    assert ("other", None) in metrics.series
    assert ("prompts/get", None) not in metrics.series
    rate, error_rate = metrics.last_minute()
    assert rate == 4 / 60
    assert error_rate == 0.25


async def test_request_metrics_can_be_turned_off() -> None:
    from mcp_trio import ServerConfig
    from mcp_trio.demo import build_demo_server
    from mcp_trio.testing import open_client

    for enabled in (True, False):
        server = build_demo_server(ServerConfig(request_metrics=enabled))
        async with open_client(server) as client:
            await client.initialize()
            await client.request("tools/call", {"name": "echo", "arguments": {"text": "x"}})
        assert bool(server.metrics.series) is enabled


async def test_tool_breakers_are_exported_with_their_state() -> None:
    from prometheus_client.parser import text_string_to_metric_families

    from mcp_trio import BreakerSettings, Server
    from mcp_trio.observability import Observer

    server = Server("breakers")

    def flaky() -> str:
        raise RuntimeError("down")

    server.add_tool(flaky, breaker=BreakerSettings(failure_threshold=1), blocking=False)
    async with server.open_runtime() as runtime:
        breaker = server.tools["flaky"].breaker
        assert breaker is not None
        import trio

        assert breaker.allow(trio.current_time())
        breaker.record_failure(trio.current_time())  # one failure opens it (failure_threshold=1)
        text = Observer(runtime).metrics().decode()
    families = {family.name: family for family in text_string_to_metric_families(text)}
    state = families["mcp_trio_breaker_state"].samples[0]
    assert state.labels == {"tool": "flaky"}
    assert state.value == 2  # open
