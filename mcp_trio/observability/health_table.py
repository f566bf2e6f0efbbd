"""The health document (``/health``) as rich tables, for ``mcp-trio health``.

Renders both shapes of the document: one process's (``Observer.health``: shards, admission, memory, GC, event
loop) and a ``--workers`` parent's (``WorkersObserver.health``: totals and one row per worker). Figures a shape
lacks are left out rather than shown as zero. rich is imported when a document is rendered, not with this
package: a serving process never renders one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

__all__ = ["render_health"]

_STATUS_STYLE: Final = {"ok": "bold green", "degraded": "bold yellow", "draining": "bold magenta"}
_SHARD_FIGURES: Final = ("connections", "sessions", "requests", "in_flight")
_SHARD_FAILURES: Final = ("failed_connections", "failed_requests", "abandoned")


def render_health(document: Mapping[str, Any]) -> Group:
    """The document as a rich renderable: status and problems, traffic, shards, the process (memory, GC, event
    loop, supervision tree), workers."""
    from rich.console import Group

    parts: list[Any] = [_headline(document)]
    parts += [_text(f"  ! {problem}", "yellow") for problem in document.get("problems") or []]
    parts.append(_traffic(document))
    shards = _shards(document.get("shards") or [])
    if shards is not None:
        parts.append(shards)
    parts.append(_resources(document))
    workers = document.get("workers") or []
    if workers:
        parts.append(_workers(workers))
    return Group(*parts)


def _headline(document: Mapping[str, Any]) -> Text:
    from rich.text import Text

    status = str(document.get("status"))
    line = Text("status ")
    line.append(status, _STATUS_STYLE.get(status, "bold red"))
    ready = document.get("ready")
    line.append("   ready ")
    line.append(str(ready).lower(), "green" if ready else "yellow")
    uptime = document.get("uptime_seconds")
    if uptime is not None:
        line.append(f"   uptime {_duration(float(uptime))}")
    return line


def _traffic(document: Mapping[str, Any]) -> Table:
    admission = document.get("admission") or {}
    table = _pairs("traffic")
    connections = _number(document.get("connections", "-"))
    by_transport = document.get("connections_by_transport") or {}
    if by_transport:
        connections += "  (" + ", ".join(f"{kind} {count:,}" for kind, count in sorted(by_transport.items())) + ")"
    if admission.get("max_connections"):
        connections += f"  of {admission['max_connections']:,}"
    table.add_row("connections", connections)
    table.add_row("legacy sessions", _number(document.get("legacy_sessions", "-")))
    in_flight = _number(document.get("in_flight", "-"))
    if admission.get("max_in_flight"):
        in_flight += f"  of {admission['max_in_flight']:,}"
    table.add_row("in flight", in_flight)
    table.add_row("listen streams", _number(document.get("listen_streams", "-")))
    if "requests_per_second" in document:
        table.add_row("requests/s (last minute)", str(document["requests_per_second"]))
        error_rate = float(document.get("error_rate") or 0.0)
        table.add_row("error rate", _text(f"{error_rate:.2%}", "red" if error_rate else ""))
    shedding = admission.get("shedding")
    if shedding is not None:
        reason = admission.get("shedding_reason")
        table.add_row("shedding", _text(shedding + (f" ({reason})" if reason else ""), _level(shedding != "normal")))
    refusals = admission.get("refusals") if admission else document.get("refusals")
    table.add_row("refusals", _counts(refusals or {}))
    return table


def _shards(shards: list[Mapping[str, Any]]) -> Table | Text | None:
    """The busy shards (any non-zero figure); idle ones are only counted."""
    if not shards:
        return None
    busy = [shard for shard in shards if any(shard.get(key) for key in _SHARD_FIGURES + _SHARD_FAILURES)]
    if not busy:
        return _text(f"shards: {len(shards)}, all idle", "")
    idle = len(shards) - len(busy)
    table = _table("shards", caption=f"and {idle} idle" if idle else None)
    for heading in ("shard", "conns", "sessions", "requests", "in flight", "failed conn/req", "abandoned"):
        table.add_column(heading, justify="left" if heading == "shard" else "right", no_wrap=True)
    for shard in busy:
        cells = [_number(shard.get(key, 0)) for key in _SHARD_FIGURES]
        failures = [_number(shard.get(key, 0)) for key in _SHARD_FAILURES]
        failed = any(shard.get(key) for key in _SHARD_FAILURES)
        table.add_row(
            str(shard.get("name")), *cells, "/".join(failures[:2]), failures[2], style="red" if failed else None
        )
    return table


def _resources(document: Mapping[str, Any]) -> Table:
    memory = document.get("memory") or {}
    table = _pairs("process")
    rss = memory.get("rss_bytes") if memory else document.get("rss")
    table.add_row("RSS", _mib(rss))
    if memory:
        leak = bool(memory.get("leak_suspected"))
        growth = f"{memory.get('growth_mb_per_hour')} MB/h" + ("  (leak suspected)" if leak else "")
        table.add_row("memory growth", _text(growth, _level(leak)))
        per_connection = memory.get("bytes_per_connection")
        if per_connection is not None:
            table.add_row("bytes per connection", f"{per_connection:,}")
    gc = document.get("gc")
    if gc:
        table.add_row("GC pause max / p99", f"{gc.get('max_ms')} / {gc.get('p99_ms')} ms")
        table.add_row("GC collections (gen 0/1/2)", " / ".join(str(count) for count in gc.get("collections") or []))
    loop = document.get("event_loop")
    if loop:
        stalled = bool(loop.get("stalled"))
        line = f"{loop.get('stalls')} stalls, longest {loop.get('longest_stall_seconds')} s"
        table.add_row("event loop", _text(("STALLED; " if stalled else "") + line, _level(stalled)))
    tree = document.get("tree")
    if tree:
        down = [f"{child} {state}" for child, state in tree.items() if state != "running"]
        summary = ", ".join(down) if down else f"{len(tree)} children running"
        table.add_row("supervision tree", _text(summary, _level(bool(down))))
    return table


def _workers(rows: list[Mapping[str, Any]]) -> Table:
    table = _table("workers", caption="MB/h: memory growth; GC: longest and p99 pause, ms")
    # Their problems are in the document's, which the headline lists.
    for heading in ("worker", "pid", "status", "conns", "sessions", "in flight", "RSS", "MB/h", "GC"):
        table.add_column(heading, justify="left" if heading in ("worker", "status") else "right", no_wrap=True)
    for row in rows:
        status = str(row.get("status"))
        table.add_row(
            str(row.get("slot")),
            str(row.get("pid", "-")),
            _text(status, _STATUS_STYLE.get(status, "bold red")),
            _number(row.get("connections", "-")),
            _number(row.get("sessions", "-")),
            _number(row.get("in_flight", "-")),
            _mib(row.get("rss")),
            str(row.get("growth_mb_per_hour", "-")),
            f"{row.get('gc_pause_max_ms', '-')}/{row.get('gc_pause_p99_ms', '-')}",
        )
    return table


def _table(title: str, caption: str | None = None) -> Table:
    from rich import box
    from rich.table import Table

    return Table(
        title=title,
        title_justify="left",
        title_style="bold",
        caption=caption,
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )


def _pairs(title: str) -> Table:
    """A two-column table of names and values."""
    table = _table(title)
    table.box = None
    table.show_header = False
    table.add_column("what", no_wrap=True)
    table.add_column("value")
    return table


def _text(value: str, style: str) -> Text:
    from rich.text import Text

    return Text(value, style)


def _level(bad: bool) -> str:
    return "bold red" if bad else "green"


def _counts(counts: Mapping[str, int]) -> Text:
    """Refusals by reason, the largest first; none in green."""
    if not counts:
        return _text("none", "green")
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return _text(", ".join(f"{reason} {count:,}" for reason, count in ordered), "yellow")


def _number(value: object) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


def _mib(value: object) -> str:
    return f"{value / 2**20:,.1f} MiB" if isinstance(value, int | float) else "-"


def _duration(seconds: float) -> str:
    minutes, second = divmod(int(seconds), 60)
    hours, minute = divmod(minutes, 60)
    days, hour = divmod(hours, 24)
    if days:
        return f"{days}d {hour}h {minute}m"
    if hours:
        return f"{hours}h {minute}m"
    return f"{minutes}m {second}s" if minutes else f"{seconds:.1f}s"
