"""The HTML report of a soak run (``--html FILE``): one self-contained page a person can open and read.

No script, no stylesheet or font from the network: the charts are inline SVG drawn by ``soak.svg``, the style is
in the page. It shows the verdict, the summary figures, the SLA gates, the charts over time, our server's memory
profiler snapshots and baseline (when the server is ours), and the scenario's parameters and target. Every text
taken from the report (a target is whatever the user typed) is escaped.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from html import escape
from typing import Any, Final

from soak.charts import charts_of
from soak.svg import line_chart

__all__ = ["render_html"]

_STYLE: Final = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1a1a1a; margin: 2em auto;
       max-width: 820px; padding: 0 1em; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; } h2 { font-size: 1.15em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.5em 0; } td, th { padding: 2px 12px 2px 0; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; } th { border-bottom: 1px solid #ccc; }
.verdict { display: inline-block; padding: 2px 10px; border-radius: 4px; color: #fff; font-weight: 600; }
.pass { background: #007a4d; } .fail { background: #b3261e; } .muted { color: #666; }
figure { margin: 1em 0; } figcaption { color: #555; font-size: 0.9em; }
svg.chart { max-width: 100%; height: auto; font: 11px system-ui, sans-serif; }
.chart-title { font-weight: 600; font-size: 13px; } .tick { fill: #555; } .legend { fill: #222; }
.grid { stroke: #eee; } .axis { stroke: #888; } .frame { fill: none; stroke: #bbb; } .empty { fill: #777; }
"""


def _e(value: Any) -> str:
    return escape(str(value), quote=True)


def _number(value: Any, shape: str = "{:,}") -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    try:
        return shape.format(value)
    except (TypeError, ValueError):
        return str(value)


def _mib(value: Any) -> str:
    return "-" if not isinstance(value, int | float) else f"{value / 2**20:,.1f} MiB"


def _table(rows: Iterable[Sequence[Any]], header: Sequence[str] | None = None) -> str:
    """Rows of cells (already text); numbers are right-aligned."""
    out = ["<table>"]
    if header is not None:
        out.append("<tr>" + "".join(f"<th>{_e(cell)}</th>" for cell in header) + "</tr>")
    for row in rows:
        label, *cells = row
        out.append(f"<tr><td>{_e(label)}</td>" + "".join(f'<td class="n">{_e(cell)}</td>' for cell in cells) + "</tr>")
    out.append("</table>")
    return "".join(out)


def _when(stamp: Any) -> str:
    if not isinstance(stamp, int | float):
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(stamp))


def _summary(report: dict[str, Any]) -> str:
    totals = report.get("totals") or {}
    server = report.get("server") or {}
    errors = totals.get("errors") or {}
    refused_by = ", ".join(f"{k.removeprefix('refused:')} {v:,}" for k, v in errors.items() if k.startswith("refused:"))
    failed_by = ", ".join(f"{k} {v:,}" for k, v in errors.items() if not k.startswith("refused:"))
    rows: list[tuple[str, str]] = [
        ("calls sent", _number(totals.get("sent"))),
        ("answered ok", _number(totals.get("ok"))),
        ("refused (overload)", _number(totals.get("refused")) + (f" ({refused_by})" if refused_by else "")),
        ("failed", _number(totals.get("failed")) + (f" ({failed_by})" if failed_by else "")),
        ("error rate (failed / sent)", _number(totals.get("error_rate"), "{:.4%}")),
        ("late sends (> 10 ms after their time)", _number(totals.get("late_sends"))),
        ("every call answered exactly once", _number(totals.get("exactly_one_answer"))),
        (
            "p50 / p95 / p99 / max",
            " / ".join(_number(totals.get(f"{p}_ms"), "{:.2f}") for p in ("p50", "p95", "p99", "max")) + " ms",
        ),
        (
            "the same from each call's actual send",
            " / ".join(_number(totals.get(f"service_{p}_ms"), "{:.2f}") for p in ("p50", "p95", "p99", "max")) + " ms",
        ),
        ("sessions opened", _number(totals.get("sessions_opened"))),
        (
            "sessions that failed to open / were lost",
            f"{_number(totals.get('sessions_failed_to_open'))} / {_number(totals.get('sessions_lost'))}",
        ),
    ]
    if totals.get("pings_answered"):
        rows.append(("pings answered after idling", _number(totals.get("pings_answered"))))
    if "returned_to_baseline" in totals:
        rows.append(("server back to its baseline after", _number(totals.get("returned_to_baseline"))))
    if server.get("rss_start"):
        rows += [
            (
                "server RSS start / max / end",
                f"{_mib(server.get('rss_start'))} / {_mib(server.get('rss_max'))} / {_mib(server.get('rss_end'))}",
            ),
            ("server RSS growth", _number(server.get("rss_growth"), "{:+.1%}")),
        ]
    if server.get("bytes_per_session") is not None:
        rows.append(("server memory per idle session", _number(server.get("bytes_per_session")) + " bytes"))
    return _table(rows)


def _bomb(report: dict[str, Any]) -> str:
    bomb = (report.get("totals") or {}).get("bomb")
    if not isinstance(bomb, dict):
        return ""
    recovery = bomb.get("recovery_seconds")
    rows = [
        ("offered while bombing", _number(bomb.get("offered_per_second"), "{:,.0f}") + " calls/s"),
        ("answered ok while bombing (goodput)", _number(bomb.get("goodput_per_second"), "{:,.0f}") + " calls/s"),
        ("the best second", _number(bomb.get("peak_per_second")) + " calls/s"),
        ("goodput / best second", _number(bomb.get("goodput_of_peak"), "{:.1%}")),
        ("refused while bombing", _number(bomb.get("refused_per_second"), "{:,.0f}") + " calls/s"),
        ("failed while bombing", _number(bomb.get("failed"))),
        ("accepted p50 / p99", f"{_number(bomb.get('accepted_p50_ms'))} / {_number(bomb.get('accepted_p99_ms'))} ms"),
        (
            "accepted p50 / p99 from the actual send",
            f"{_number(bomb.get('accepted_service_p50_ms'))} / {_number(bomb.get('accepted_service_p99_ms'))} ms",
        ),
        ("server RSS growth over pre-bombing", _number(bomb.get("rss_growth"), "{:+.1%}")),
        ("warm-up p99", _number(bomb.get("warmup_p99_ms")) + " ms"),
        ("latency back to the warm-up's after", "never" if recovery is None else f"{recovery:g} s"),
    ]
    return "<h2>Bombing</h2>" + _table(rows)


def _gates(report: dict[str, Any]) -> str:
    gates = report.get("gates") or []
    if not gates:
        return '<p class="muted">No SLA gate was set (<code>--sla</code>).</p>'
    rows = []
    for gate in gates:
        name = str(gate.get("gate", ""))
        value = gate.get("value")
        shown = (
            _number(value * 1000, "{:.2f} ms")
            if name.startswith("p") and isinstance(value, int | float)
            else _number(value, "{:.3%}")
        )
        rows.append((name, shown, "met" if gate.get("ok") else "BREACHED"))
    return _table(rows, ("gate", "measured", "outcome"))


def _memory(report: dict[str, Any]) -> str:
    snapshots = report.get("server_memory")
    if not isinstance(snapshots, dict):
        return ""
    start, end = snapshots.get("start") or {}, snapshots.get("end") or {}

    def memory(snapshot: dict[str, Any], key: str) -> Any:
        return (snapshot.get("memory") or {}).get(key)

    def gc(snapshot: dict[str, Any], key: str) -> Any:
        return (snapshot.get("gc") or {}).get(key)

    rows = [
        ("taken", _when(start.get("taken_at")), _when(end.get("taken_at"))),
        ("status", _number(start.get("status")), _number(end.get("status"))),
        ("problems", ", ".join(start.get("problems") or []) or "-", ", ".join(end.get("problems") or []) or "-"),
        ("RSS (profiler's last sample)", _mib(memory(start, "rss_bytes")), _mib(memory(end, "rss_bytes"))),
        (
            "Python heap blocks",
            _number(memory(start, "python_heap_blocks")),
            _number(memory(end, "python_heap_blocks")),
        ),
        ("connections", _number(start.get("connections")), _number(end.get("connections"))),
        (
            "bytes per connection",
            _number(memory(start, "bytes_per_connection")),
            _number(memory(end, "bytes_per_connection")),
        ),
        ("growth (MB/h)", _number(memory(start, "growth_mb_per_hour")), _number(memory(end, "growth_mb_per_hour"))),
        ("leak suspected", _number(memory(start, "leak_suspected")), _number(memory(end, "leak_suspected"))),
        (
            "GC pause max / p99 (ms)",
            f"{_number(gc(start, 'max_ms'))} / {_number(gc(start, 'p99_ms'))}",
            f"{_number(gc(end, 'max_ms'))} / {_number(gc(end, 'p99_ms'))}",
        ),
        ("GC time (s)", _number(gc(start, "total_seconds")), _number(gc(end, "total_seconds"))),
        ("refusals so far", _kinds(start.get("refusals")), _kinds(end.get("refusals"))),
    ]
    out = ["<h2>Server memory profiler</h2>", "<p>From the server's <code>/health</code> before and after the run.</p>"]
    out.append(_table(rows, ("", "start", "end")))
    workers = end.get("workers")
    if isinstance(workers, list) and workers:
        out.append("<p>Workers at the end:</p>")
        out.append(
            _table(
                (
                    (
                        f"worker {w.get('slot')} (pid {w.get('pid')})",
                        _mib(w.get("rss")),
                        _number(w.get("connections")),
                        _number(w.get("growth_mb_per_hour")),
                        _number(w.get("gc_pause_max_ms")),
                    )
                    for w in workers
                    if isinstance(w, dict)
                ),
                ("", "RSS", "connections", "growth MB/h", "GC pause max ms"),
            )
        )
    server = report.get("server") or {}
    before, after = server.get("before"), server.get("after")
    if isinstance(before, dict):
        after = after if isinstance(after, dict) else {}
        out.append("<p>Its connections, sessions and requests, before and after:</p>")
        out.append(
            _table(
                ((key, _number(value), _number(after.get(key))) for key, value in before.items()),
                ("", "before", "after"),
            )
        )
    return "".join(out)


def _kinds(refusals: Any) -> str:
    if not isinstance(refusals, dict) or not refusals:
        return "-"
    return ", ".join(f"{kind} {count}" for kind, count in refusals.items())


def _parameters(report: dict[str, Any]) -> str:
    scenario = report.get("scenario") or {}
    run = report.get("run") or {}
    rows = [(key, _number(value, "{}")) for key, value in scenario.items()]
    labels = {
        "processes": "generator processes",
        "engine": "load engine",
        "workers": "our server's workers",
        "era": "era",
        "admin": "admin",
    }
    rows += [(label, _number(run.get(key), "{}")) for key, label in labels.items() if run.get(key) is not None]
    sources = run.get("source_addresses")
    rows.append(("source addresses", ", ".join(map(str, sources)) if sources else "the kernel's choice"))
    return _table(rows)


def _server_log(report: dict[str, Any]) -> str:
    lines = report.get("server_log") or []
    if not lines:
        return ""
    return f"<h2>Our server's last log lines</h2><pre>{_e(chr(10).join(map(str, lines)))}</pre>"


def render_html(report: dict[str, Any]) -> str:
    """The page for ``report`` (the JSON report's dictionary, as ``SoakReport.as_dict`` gives it)."""
    scenario = report.get("scenario") or {}
    run = report.get("run") or {}
    name = scenario.get("name", "?")
    passed = bool(report.get("passed"))
    verdict = '<span class="verdict pass">PASSED</span>' if passed else '<span class="verdict fail">FAILED</span>'
    figures = []
    for chart in charts_of(report):
        caption = f"<figcaption>{_e(chart.note)}</figcaption>" if chart.note and not chart.empty else ""
        figures.append(f"<figure>{line_chart(chart)}{caption}</figure>")
    started, finished = run.get("started"), run.get("finished")
    took = (
        f", {finished - started:,.0f} s"
        if isinstance(started, int | float) and isinstance(finished, int | float)
        else ""
    )
    return "".join(
        [
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
            f"<title>mcp-trio soak {_e(name)}</title><style>{_STYLE}</style></head><body>",
            f"<h1>mcp-trio soak: {_e(name)}</h1>",
            f"<p>{verdict} against <code>{_e(report.get('target', '?'))}</code>",
            f'<span class="muted"> &middot; {_e(_when(started))}{_e(took)}</span></p>',
            "<h2>Summary</h2>",
            _summary(report),
            _bomb(report),
            "<h2>SLA gates</h2>",
            _gates(report),
            "<h2>Over time</h2>",
            *figures,
            _memory(report),
            "<h2>Scenario and target</h2>",
            f"<p>Target: <code>{_e(report.get('target', '?'))}</code></p>",
            _parameters(report),
            _server_log(report),
            '<p class="muted">Latency counts from each call\'s intended send time (open loop), so queueing in the '
            "server is not hidden by a waiting client. Generated by <code>mcp-trio soak</code>.</p>",
            "</body></html>\n",
        ]
    )
