"""``/metrics``: the runtime's figures in the Prometheus text format, through ``prometheus_client``.

A custom collector reads the figures when scraped (nothing is counted twice and the hot path pays nothing), in
its own registry so one process can hold several servers. Names follow the Prometheus conventions with an
``mcp_trio_`` prefix; where the OpenTelemetry semantic conventions for MCP name a metric, ours says which in its
help text.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

import trio
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from mcp_trio.observability.health import Observer

__all__ = ["MetricsCollector", "exposition", "CONTENT_TYPE"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class MetricsCollector(Collector):
    """Everything ``Observer`` knows, as metric families."""

    def __init__(self, observer: Observer) -> None:
        self.observer = observer

    def collect(self) -> Iterator[Metric]:
        observer = self.observer
        runtime = observer.runtime
        shards = runtime.statistics()
        admission: dict[str, Any] = runtime.admission.statistics()
        connections = GaugeMetricFamily("mcp_trio_connections", "Open connections, by shard.", labels=["shard"])
        sessions = GaugeMetricFamily("mcp_trio_sessions", "Legacy HTTP sessions, by shard.", labels=["shard"])
        requests = GaugeMetricFamily(
            "mcp_trio_requests_running", "Requests running as tasks, by shard.", labels=["shard"]
        )
        failed = CounterMetricFamily(
            "mcp_trio_failed_requests", "Requests whose task ended abnormally, by shard.", labels=["shard"]
        )
        for figures in shards:
            connections.add_metric([figures.name], figures.connections)
            sessions.add_metric([figures.name], figures.sessions)
            requests.add_metric([figures.name], figures.requests)
            failed.add_metric([figures.name], figures.failed_requests)
        yield from (connections, sessions, requests, failed)
        yield GaugeMetricFamily("mcp_trio_in_flight", "Requests in flight, server-wide.", value=admission["in_flight"])
        yield GaugeMetricFamily(
            "mcp_trio_listen_streams", "Open subscriptions/listen streams.", value=admission["listen_streams"]
        )
        refusals = CounterMetricFamily(
            "mcp_trio_refusals", "Work refused under overload (-32000 / 503), by reason.", labels=["reason"]
        )
        for reason, count in admission["refusals"].items():
            refusals.add_metric([reason], count)
        yield refusals
        yield GaugeMetricFamily(
            "mcp_trio_shedding", "1 while the server sheds load.", value=0 if admission["shedding"] == "normal" else 1
        )
        yield GaugeMetricFamily("mcp_trio_draining", "1 once shutdown began.", value=1 if observer.draining else 0)
        gc = observer.gc
        collections = CounterMetricFamily(
            "mcp_trio_gc_collections", "Garbage collections, by generation.", labels=["generation"]
        )
        for generation, count in enumerate(gc.collections):
            collections.add_metric([str(generation)], count)
        yield collections
        yield CounterMetricFamily(
            "mcp_trio_gc_pause_seconds", "Time spent in garbage collection pauses.", value=gc.total_seconds
        )
        yield GaugeMetricFamily("mcp_trio_gc_pause_max_seconds", "The longest collection pause.", value=gc.longest)
        yield GaugeMetricFamily(
            "mcp_trio_gc_pause_p99_seconds",
            "The 99th percentile of recent collection pauses.",
            value=gc.percentile(0.99),
        )
        memory = observer.memory.report()
        if memory["rss_bytes"] is not None:
            yield GaugeMetricFamily(
                "mcp_trio_resident_memory_bytes", "RSS at the last snapshot.", value=memory["rss_bytes"]
            )
        yield GaugeMetricFamily(
            "mcp_trio_memory_growth_mb_per_hour", "Least-squares RSS growth.", value=memory["growth_mb_per_hour"]
        )
        yield GaugeMetricFamily(
            "mcp_trio_ready", "1 while ready for traffic (/ready).", value=1 if observer.ready() else 0
        )
        yield from _request_families(getattr(runtime.host, "metrics", None))
        yield from _breaker_families(getattr(runtime.host, "tools", None))


def _breaker_families(tools: Any) -> Iterator[Metric]:
    """Each tool breaker's state (0 closed, 1 half-open, 2 open) and how often it opened and refused."""
    breakers = [(name, tool.breaker) for name, tool in (tools or {}).items() if tool.breaker is not None]
    if not breakers:
        return
    now = trio.current_time()
    state = GaugeMetricFamily(
        "mcp_trio_breaker_state", "A tool's circuit breaker: 0 closed, 1 half-open, 2 open.", labels=["tool"]
    )
    opened = CounterMetricFamily("mcp_trio_breaker_opened", "Times a tool's circuit opened.", labels=["tool"])
    rejected = CounterMetricFamily(
        "mcp_trio_breaker_rejections", "Calls a tool's open circuit refused.", labels=["tool"]
    )
    for name, breaker in sorted(breakers):
        figures = breaker.statistics(now)
        state.add_metric([name], _BREAKER_STATES.get(str(figures.state), 0))
        opened.add_metric([name], figures.times_opened)
        rejected.add_metric([name], figures.rejections)
    yield from (state, opened, rejected)


_BREAKER_STATES: Final = {"closed": 0, "half_open": 1, "open": 2}


def _request_families(metrics: Any) -> Iterator[Metric]:
    """Requests per method and tool: counts by outcome and the latency histogram (``RequestMetrics``)."""
    if metrics is None:
        return
    requests = CounterMetricFamily(
        "mcp_trio_requests", "Requests answered, by method, tool and outcome.", labels=["method", "tool", "outcome"]
    )
    duration = HistogramMetricFamily(
        "mcp_server_operation_duration_seconds",
        "Seconds from dispatch to the encoded answer (OpenTelemetry: mcp.server.operation.duration).",
        labels=["method", "tool"],
    )
    for (method, tool), series in sorted(metrics.series.items(), key=lambda item: (item[0][0], item[0][1] or "")):
        labels = [method, tool or ""]
        requests.add_metric([*labels, "ok"], series.count - series.errors)
        requests.add_metric([*labels, "error"], series.errors)
        cumulative, buckets = 0, []
        for bound, count in zip([*map(str, metrics.buckets), "+Inf"], series.buckets, strict=True):
            cumulative += count
            buckets.append((bound, cumulative))
        duration.add_metric(labels, buckets, sum_value=series.total_seconds)
    yield requests
    yield duration


def exposition(observer: Observer) -> bytes:
    """The text format of one scrape."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(MetricsCollector(observer))
    return generate_latest(registry)
