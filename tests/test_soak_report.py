"""``mcp-trio soak`` reports and progress: the SVG charts, the self-contained HTML report, PNG charts, live and
plain progress, source addresses, and our server's memory-profiler snapshots in the JSON report."""

from __future__ import annotations

import collections
import io
import json
import math
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing
from hdrh.histogram import HdrHistogram  # type: ignore[import-untyped]

from mcp_trio.cli import main
from soak.charts import Chart, Series, charts_of
from soak.generator import Generator
from soak.html_report import render_html
from soak.progress import PlainProgress, RichProgress, Tick, make_progress
from soak.runner import _bomb, _keep_reading, default_source_addresses
from soak.scenarios import Scenario
from soak.svg import line_chart, nice_ticks, short_number

SVG = "{http://www.w3.org/2000/svg}"


class Page(HTMLParser):
    """Every start tag (with its attributes) and the visible text of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def count(self, tag: str) -> int:
        return sum(1 for name, _ in self.tags if name == tag)


def parse(page: str) -> Page:
    parser = Page()
    parser.feed(page)
    parser.close()
    return parser


def a_report(target: str = "tcp://127.0.0.1:9") -> dict[str, Any]:
    seconds = [
        {"second": 1, "sent": 100, "ok": 100, "failed": 0, "refused": 0, "errors": {}, "open": 10, "rss": 40 << 20,
         "cpu": 0.5, "p50_ms": 2.0, "p95_ms": 4.0, "p99_ms": 9.0},
        {"second": 2, "sent": 100, "ok": 90, "failed": 4, "refused": 6,
         "errors": {"timeout": 4, "refused:in_flight": 6}, "open": 10, "rss": 41 << 20, "cpu": 0.7,
         "p50_ms": 3.0, "p95_ms": 7.0, "p99_ms": 12.5},
        {"second": 3, "sent": 0, "ok": 0, "failed": 0, "refused": 0, "errors": {}, "open": 0, "rss": 41 << 20},
    ]  # fmt: skip
    return {
        "scenario": {"name": "bomb", "sessions": 10, "rate": 50.0, "duration": 2.0, "depth": 4},
        "target": target,
        "seconds": seconds,
        "totals": {"sent": 200, "ok": 190, "errors": {"timeout": 4, "refused:in_flight": 6}, "refused": 6,
                   "failed": 4, "late_sends": 0, "exactly_one_answer": True, "error_rate": 0.02,
                   "sessions_opened": 10, "p50_ms": 2.5, "p95_ms": 6.5, "p99_ms": 12.25, "max_ms": 30.0,
                   "returned_to_baseline": True,
                   "bomb": {"offered_per_second": 19_500.0, "goodput_per_second": 1_950.0, "peak_per_second": 2_000,
                            "goodput_of_peak": 0.975, "accepted_p99_ms": 14.5, "recovery_seconds": None}},
        "server": {"rss_start": 40 << 20, "rss_end": 41 << 20, "rss_max": 41 << 20, "rss_growth": 0.025,
                   "before": {"connections": 0}, "after": {"connections": 0}},
        "gates": [{"gate": "p99 <= 50 ms", "value": 0.01225, "ok": True},
                  {"gate": "errors <= 0.1%", "value": 0.02, "ok": False}],
        "run": {"processes": 2, "workers": 1, "era": "auto", "engine": "lean",
                "source_addresses": ["127.0.0.1", "127.0.0.2"], "started": 1_800_000_000.0,
                "finished": 1_800_000_004.0},
        "server_log": ["WARNING mcp_trio.watchdog: event loop blocked for 250 ms <in Shard.run>"],
        "server_memory": {
            "start": {"status": "ok", "memory": {"rss_bytes": 40 << 20, "python_heap_blocks": 1000},
                      "gc": {"max_ms": 1.0}},
            "end": {"status": "degraded", "problems": ["shedding (in_flight)"], "memory": {"rss_bytes": 41 << 20,
                    "leak_suspected": False}, "gc": {"max_ms": 2.5}, "refusals": {"in_flight": 6},
                    "workers": [{"slot": 0, "pid": 42, "rss": 41 << 20, "connections": 0}]},
        },
        "passed": False,
    }  # fmt: skip


def test_an_svg_chart_is_well_formed_escaped_and_broken_at_gaps() -> None:
    chart = Chart(
        "latency",
        'p99 <script>alert("x")</script> & co',
        "ms",
        (1.0, 2.0, 3.0, 4.0, 5.0),
        (Series("p<99>", (1.0, 2.0, None, 4.0, 5.0), "#000000"), Series("flat", (0.0,) * 5, "#0072b2")),
    )
    svg = line_chart(chart)
    root = ET.fromstring(svg)  # well-formed XML, or this raises
    assert root.tag == f"{SVG}svg"
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    lines = root.findall(f"{SVG}polyline")
    assert len(lines) == 3  # the gap splits the first series in two
    assert [line.find(f"{SVG}title").text for line in lines] == ["p<99>", "p<99>", "flat"]  # type: ignore[union-attr]
    empty = line_chart(Chart("errors", "Errors", "/s", (1.0, 2.0), (), "no call failed"))
    assert "no call failed" in empty
    assert ET.fromstring(empty).findall(f"{SVG}polyline") == []


def test_axis_ticks_are_round_and_labels_short() -> None:
    assert nice_ticks(0, 9.3) == [0, 2.5, 5, 7.5, 10]
    assert nice_ticks(0, 27_670) == [0, 10_000, 20_000, 30_000]
    assert nice_ticks(0, 0) == [0, 0.25, 0.5, 0.75, 1]
    shown = [short_number(v) for v in (0.25, 100, 1234, 1500, 2000, 25_000, 123_456, 1_500_000)]
    assert shown == ["0.25", "100", "1234", "1.5K", "2K", "25K", "123K", "1.5M"]


def test_the_html_report_is_self_contained_and_shows_every_part() -> None:
    page = render_html(a_report(target='python -m "server" <b>&'))
    parsed = parse(page)
    text = " ".join(parsed.text)
    assert parsed.count("svg") == len(charts_of(a_report())) == 6  # latency, throughput, errors, sessions, RSS, CPU
    assert parsed.count("script") == parsed.count("link") == parsed.count("img") == 0
    assert not [attrs for _, attrs in parsed.tags if "src" in attrs or "href" in attrs]  # nothing to fetch
    assert parsed.count("b") == 0  # the target's markup was escaped, not interpreted
    assert 'python -m "server" <b>&' in text
    for figure in ("FAILED", "200", "190", "in_flight 6", "timeout 4", "12.25", "BREACHED", "met", "+2.5%"):
        assert figure in text, figure
    assert "Server memory profiler" in text
    assert "19,500 calls/s" in text  # the bombing's own figures
    assert "97.5%" in text
    assert "never" in text  # no recovery
    assert "shedding (in_flight)" in text
    assert "worker 0 (pid 42)" in text
    assert "127.0.0.1, 127.0.0.2" in text  # the source addresses, with the other parameters
    assert "depth" in text
    assert "load engine" in text
    assert "event loop blocked for 250 ms <in Shard.run>" in text  # the server's log tail, escaped
    titles = [t for t in parsed.text if t.startswith(("Latency", "Throughput", "Errors", "Sessions", "Server"))]
    assert {"Throughput", "Errors and refusals by kind", "Sessions open"} <= set(titles)


def test_the_plain_progress_is_one_line_a_second() -> None:
    lines: list[str] = []
    progress = make_progress("auto", lines.append, terminal=False)
    assert isinstance(progress, PlainProgress)
    progress.start("flood", "tcp://127.0.0.1:1")
    progress.update(a_tick())
    progress.stop()
    assert len(lines) == 1
    assert re.search(r"soak flood +7s: sessions +1234 sent +900/s ok +880 errors +5 refused +15 ", lines[0])
    assert "p50/p95/p99 1.5/3.2/8.0 ms RSS 64.0 MiB" in lines[0]
    assert make_progress("none", print) is None
    with pytest.raises(ValueError, match="--progress must be one of"):
        make_progress("fancy", print)


def test_the_rich_progress_redraws_a_table() -> None:
    from rich.console import Console

    assert isinstance(make_progress("auto", print, terminal=True), RichProgress)
    out = io.StringIO()
    progress = RichProgress(Console(file=out, force_terminal=True, width=140))
    progress.start("flood", "tcp://127.0.0.1:1")
    progress.update(a_tick())
    progress.update(a_tick(second=8, p99_ms=11.0))
    progress.stop()
    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.getvalue())
    assert "mcp-trio soak flood -> tcp://127.0.0.1:1" in shown
    assert "p99" in shown
    assert "CPU" in shown  # 140 columns: CPU too
    assert "8.0" in shown  # both seconds' rows
    assert "11.0" in shown
    assert "calls 5,000" in shown


def a_tick(second: int = 7, p99_ms: float = 8.0) -> Tick:
    return Tick(
        scenario="flood", second=second, of=60, sessions=1234, sent=900, ok=880, refused=15, failed=5, late=0,
        p50_ms=1.5, p95_ms=3.2, p99_ms=p99_ms, rss=64 << 20, cpu=0.5, total_sent=5000, total_failed=20,
        total_refused=40, sessions_failed=0,
    )  # fmt: skip


def test_default_source_addresses_keep_each_under_20k_sessions() -> None:
    assert default_source_addresses(10_000, None) == 1  # ours: tcp://127.0.0.1
    assert default_source_addresses(20_001, None) == 2
    assert default_source_addresses(100_000, "http://127.0.0.1:8000/mcp") == 5
    assert default_source_addresses(100_000, "http://localhost:8000/mcp") == 1  # only 127.0.0.1 is spread
    assert default_source_addresses(100_000, "python -m server") == 1


def soak_in_process(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_:
        main(["soak", *args])
    return int(exit_.value.code or 0), capsys.readouterr().err


def test_png_without_matplotlib_is_refused_before_the_run(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib raises ImportError
    code, err = soak_in_process(capsys, "baseline", "--duration", "1", "--png", str(tmp_path / "charts"))
    assert code == 2
    assert "--png needs matplotlib" in err
    assert "mcp-trio[charts]" in err
    assert "started our server" not in err  # nothing ran
    assert not (tmp_path / "charts").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--target", "python -m server", "--source-addresses", "2"], "needs a tcp://, http(s):// or ws(s):// target"),
        (["--source-addresses", "0"], "between 1 and 254"),
        (["--admin", "http://127.0.0.1:1"], "--admin is for a --target"),
        (["--target", "tcp://127.0.0.1:1", "--admin", "ftp://x"], "expected http://HOST:PORT"),
        (["--html", "/nonexistent/dir/r.html"], "--html /nonexistent/dir/r.html: not a file in an existing directory"),
        (["--progress", "fancy"], "invalid choice: 'fancy'"),
    ],
)
def test_bad_report_and_source_arguments_exit_2(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, err = soak_in_process(capsys, "baseline", "--duration", "1", *args)
    assert code == 2
    assert message in err
    assert "started our server" not in err


def test_an_admin_endpoint_that_does_not_answer_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = soak_in_process(
        capsys, "baseline", "--duration", "1", "--target", "tcp://127.0.0.1:9", "--admin", "127.0.0.1:9"
    )
    assert code == 2
    assert "no health document at http://127.0.0.1:9/health" in err


@pytest.mark.slow
def test_a_short_run_writes_every_report(tmp_path: Path) -> None:
    report, html, charts = tmp_path / "r.json", tmp_path / "r.html", tmp_path / "charts"
    argv = [sys.executable, "-m", "mcp_trio", "soak", "baseline", "--sessions", "4", "--rate", "20", "--duration"]
    argv += ["2", "--source-addresses", "2", "--progress", "plain", "--sla", "p99=1s"]
    argv += ["--report", str(report), "--html", str(html), "--png", str(charts)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    # Plain progress: a line per second on stderr.
    assert re.search(r"soak baseline +1s: sessions +4 sent +80/s", done.stderr), done.stderr
    document = json.loads(report.read_text())
    assert document["run"]["source_addresses"] == ["127.0.0.1", "127.0.0.2"]
    assert document["totals"]["ok"] == document["totals"]["sent"] >= 150
    # The memory profiler's snapshots of our server, before and after.
    memory = document["server_memory"]
    assert memory["start"]["memory"]["rss_bytes"] > 10 << 20
    assert memory["end"]["memory"]["rss_bytes"] > 10 << 20
    assert memory["end"]["taken_at"] > memory["start"]["taken_at"]
    assert memory["end"]["status"] == "ok"
    assert "max_ms" in memory["end"]["gc"]
    parsed = parse(html.read_text())
    assert parsed.count("svg") == 6
    text = " ".join(parsed.text)
    assert f"{document['totals']['sent']:,}" in text
    assert "PASSED" in text
    assert "p99 <= 1000 ms" in text
    assert "Server memory profiler" in text
    pngs = sorted(path.name for path in charts.iterdir())
    assert pngs == [f"baseline-{name}.png" for name in ("cpu", "errors", "latency", "rss", "sessions", "throughput")]
    assert all((charts / name).read_bytes().startswith(b"\x89PNG\r\n\x1a\n") for name in pngs)


@pytest.mark.slow
def test_an_external_mcp_trio_server_is_snapshotted_through_its_admin_endpoint(tmp_path: Path) -> None:
    server = subprocess.Popen(
        [sys.executable, "-m", "mcp_trio", "serve", "--tcp", "127.0.0.1:0", "--admin", "127.0.0.1:0"],
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert server.stderr is not None
        seen = ""
        while not (re.search(r"listening on (tcp://\S+)", seen) and re.search(r"admin on (http://\S+)", seen)):
            line = server.stderr.readline()
            assert line, seen
            seen += line
        target = re.search(r"listening on (tcp://\S+)", seen)[1]  # type: ignore[index]
        admin = re.search(r"admin on (http://\S+)", seen)[1]  # type: ignore[index]
        report = tmp_path / "r.json"
        done = subprocess.run(
            [sys.executable, "-m", "mcp_trio", "soak", "baseline", "--sessions", "2", "--rate", "10", "--duration",
             "1", "--target", target, "--admin", admin, "--progress", "none", "--report", str(report)],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        document = json.loads(report.read_text())
        assert document["server_memory"]["end"]["memory"]["rss_bytes"] > 0
        assert document["totals"]["returned_to_baseline"] is True
        assert document["run"]["admin"] == admin
        assert "soak baseline " not in done.stderr  # --progress none
    finally:
        server.terminate()
        server.wait(timeout=30)
        if server.stderr is not None:
            server.stderr.close()


async def test_a_bomb_window_holds_sends_back_and_counts_what_never_went(autojump_clock: object) -> None:
    class SlowClient:
        async def request(self, method: str, params: dict[str, object], **options: float) -> object:
            await trio.sleep(0.25)
            return object()

    generator = Generator({"tool": "echo", "depth": 4})
    begin = math.ceil(trio.current_time()) + 1.0
    # 64 calls due in one second, at most 4 unanswered, each answered after 0.25 s: 4 go out every 0.25 s.
    await generator.paced(SlowClient(), 64, begin, begin + 1, window=4)
    counts = generator.tally.counts
    assert counts["sent"] == counts["ok"] == 16
    assert counts["unsent"] == 48
    assert counts["late"] == 12  # all but the first four waited for a place
    # The 16th was due at 15/64 s, sent at 0.75 + 3/64 s, answered 0.25 s later: 812.5 ms from when it was due.
    assert generator.tally.second.get_max_value() == pytest.approx(812_500, abs=1000)


def test_the_bomb_figures_come_from_its_phases() -> None:
    def slot(ok: int, latency_ms: float, rss: int, refused: int = 0) -> dict[str, Any]:
        hist = HdrHistogram(1, 120_000_000, 3)
        for _ in range(ok):
            hist.record_value(int(latency_ms * 1000))
        errors = {"refused:in_flight": refused} if refused else {}
        return {"sent": ok + refused, "ok": ok, "unsent": 0, "errors": errors, "rss": rss, "hist": hist}

    scenario = Scenario("bomb", sessions=2, rate=10, duration=2, warmup=2, cooldown=3, bomb_rate=1000)
    per_second = {
        1: slot(20, 9.0, 100), 2: slot(20, 2.0, 100),  # warm-up (its first second is left out)
        3: slot(900, 20.0, 110, refused=1000), 4: slot(700, 40.0, 120, refused=1300),  # bombing
        5: slot(20, 30.0, 115), 6: slot(20, 2.5, 110), 7: slot(20, 2.0, 100),  # cooling down
    }  # fmt: skip
    bomb = _bomb(scenario, per_second)
    assert bomb["warmup_p99_ms"] == pytest.approx(2.0, rel=0.01)
    assert bomb["goodput_per_second"] == 800
    assert bomb["peak_per_second"] == 900
    assert bomb["goodput_of_peak"] == pytest.approx(0.8889, abs=1e-4)
    assert bomb["refused_per_second"] == 1150
    assert bomb["offered_per_second"] == 1950
    assert bomb["accepted_p99_ms"] == pytest.approx(40.0, rel=0.01)
    assert bomb["rss_growth"] == pytest.approx(0.2)
    assert bomb["recovery_seconds"] == 2  # the first cooling second still queued; the second was back


async def test_the_servers_log_is_read_to_its_end_and_its_tail_kept() -> None:
    # A server whose stderr pipe nobody reads blocks in its first write past the pipe's 64 KiB, logging lock held:
    # a 10K-session flood once stalled that way on its loop-lag warnings. Far more than a pipe holds goes through.
    send, receive = trio.testing.memory_stream_pair()
    tail: collections.deque[str] = collections.deque(maxlen=50)
    lines = [f"WARNING loop lag {i} ms".encode() for i in range(20_000)]
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_keep_reading, receive, tail)
        for start in range(0, len(lines), 1000):
            await send.send_all(b"\n".join(lines[start : start + 1000]) + b"\n")
        await send.aclose()
    assert list(tail) == [line.decode() for line in lines[-50:]]


def test_idle_sessions_ping_after_the_same_hold_in_the_order_they_opened() -> None:
    from soak.plan import session_plan

    config = {"scenario": "idle", "sessions": 4, "ramp": 8.0, "rate": 0.0, "warmup": 0.0, "duration": 10.0}
    plans = [session_plan(config, index, 100.0) for index in range(4)]
    assert [plan.opens for plan in plans] == [100.0, 102.0, 104.0, 106.0]
    assert [plan.ping_at for plan in plans] == [118.0, 120.0, 122.0, 124.0]  # not 100,000 pings in one instant
