"""``mcp-trio soak compare A.json B.json ...``: the key figures of several reports side by side."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

__all__ = ["compare_reports"]

#: (row label, where it is in a report, how to show it).
_ROWS: Final = (
    ("scenario", ("scenario", "name"), "{}"),
    ("target", ("target",), "{}"),
    ("sessions", ("scenario", "sessions"), "{:,}"),
    ("calls sent", ("totals", "sent"), "{:,}"),
    ("answered ok", ("totals", "ok"), "{:,}"),
    ("refused (overload)", ("totals", "refused"), "{:,}"),
    ("failed", ("totals", "failed"), "{:,}"),
    ("late sends", ("totals", "late_sends"), "{:,}"),
    ("every call answered once", ("totals", "exactly_one_answer"), "{}"),
    ("p50 (ms)", ("totals", "p50_ms"), "{:.2f}"),
    ("p95 (ms)", ("totals", "p95_ms"), "{:.2f}"),
    ("p99 (ms)", ("totals", "p99_ms"), "{:.2f}"),
    ("max (ms)", ("totals", "max_ms"), "{:.2f}"),
    ("server RSS growth", ("server", "rss_growth"), "{:.1%}"),
    ("sessions failed to open", ("totals", "sessions_failed_to_open"), "{:,}"),
    ("bombing: offered (/s)", ("totals", "bomb", "offered_per_second"), "{:,.0f}"),
    ("bombing: answered ok (/s)", ("totals", "bomb", "goodput_per_second"), "{:,.0f}"),
    ("bombing: ok / best second", ("totals", "bomb", "goodput_of_peak"), "{:.1%}"),
    ("bombing: accepted p99 (ms)", ("totals", "bomb", "accepted_p99_ms"), "{:.2f}"),
    ("bombing: RSS growth", ("totals", "bomb", "rss_growth"), "{:.1%}"),
    ("recovery (s)", ("totals", "bomb", "recovery_seconds"), "{:g}"),
    ("SLA passed", ("passed",), "{}"),
)


def _lookup(document: dict[str, Any], path: Sequence[str]) -> Any:
    value: Any = document
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def compare_reports(reports: Sequence[tuple[str, dict[str, Any]]]) -> str:
    """A text table: one column per report (named by its file), one row per key figure; ``-`` where absent."""
    header = ["", *(name for name, _ in reports)]
    rows = [header]
    for label, path, shape in _ROWS:
        cells = [label]
        for _, document in reports:
            value = _lookup(document, path)
            try:
                cells.append("-" if value is None else shape.format(value))
            except (TypeError, ValueError):
                cells.append(str(value))
        rows.append(cells)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows)
    return "\n".join(line.rstrip() for line in lines)
