"""The charts of a soak report, as data: which series over time each one plots.

Both renderers draw these same charts: ``soak.svg`` (inline SVG for the HTML report, no dependency) and
``soak.png`` (matplotlib). Keeping the choice of figures here means the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import attrs

__all__ = ["Chart", "Series", "charts_of", "PALETTE"]

#: Colour-blind-safe (Okabe-Ito), in the order series take them.
PALETTE: Final = ("#0072b2", "#e69f00", "#d55e00", "#009e73", "#cc79a7", "#56b4e9", "#f0e442", "#000000")


@attrs.frozen
class Series:
    name: str
    values: tuple[float | None, ...]  # one per x; None where that second has no figure (a gap, not a zero)
    color: str


@attrs.frozen
class Chart:
    slug: str  # a file name for the PNG
    title: str
    unit: str  # the y axis
    xs: tuple[float, ...]  # seconds since the start
    series: tuple[Series, ...]
    note: str = ""  # shown under the chart (what an empty chart means, say)

    @property
    def empty(self) -> bool:
        return not self.xs or all(value is None for series in self.series for value in series.values)


def _column(rows: Sequence[dict[str, Any]], key: str, scale: float = 1.0) -> tuple[float | None, ...]:
    values: list[float | None] = []
    for row in rows:
        value = row.get(key)
        values.append(float(value) * scale if isinstance(value, int | float) and not isinstance(value, bool) else None)
    return tuple(values)


def charts_of(report: dict[str, Any]) -> list[Chart]:
    """Latency percentiles, throughput, errors by kind, sessions, and (when a server process was sampled) its
    memory and CPU, each per second of the run."""
    rows = [row for row in report.get("seconds") or [] if isinstance(row, dict)]
    xs = tuple(float(row.get("second", index + 1)) for index, row in enumerate(rows))
    charts = [
        Chart(
            "latency",
            "Latency percentiles, from the intended send time",
            "ms",
            xs,
            (
                *(
                    Series(name, _column(rows, f"{name}_ms"), PALETTE[i])
                    for i, name in enumerate(("p50", "p95", "p99"))
                ),
                Series("p99 from the actual send", _column(rows, "service_p99_ms"), PALETTE[4]),
            ),
            "from the actual send: the server's share alone, when the load generator could not send on time",
        ),
        Chart(
            "throughput",
            "Throughput",
            "calls/s",
            xs,
            (
                Series("sent/s", _column(rows, "sent"), PALETTE[5]),
                Series("ok/s", _column(rows, "ok"), PALETTE[3]),
                Series("errors/s", _column(rows, "failed"), PALETTE[2]),
                Series("refusals/s", _column(rows, "refused"), PALETTE[1]),
            ),
            "errors are failures (timeouts, closed connections, error answers); refusals are the server "
            "shedding load on purpose",
        ),
    ]
    kinds = sorted({kind for row in rows for kind in (row.get("errors") or {})})
    charts.append(
        Chart(
            "errors",
            "Errors and refusals by kind",
            "per second",
            xs,
            tuple(
                Series(kind, tuple(float((row.get("errors") or {}).get(kind, 0)) for row in rows), PALETTE[i % 8])
                for i, kind in enumerate(kinds)
            ),
            "" if kinds else "no call failed and none was refused",
        )
    )
    charts.append(
        Chart("sessions", "Sessions open", "sessions", xs, (Series("open", _column(rows, "open"), PALETTE[0]),))
    )
    if any(row.get("rss") for row in rows):
        charts.append(
            Chart(
                "rss",
                "Server memory (resident set, all its processes)",
                "MiB",
                xs,
                (Series("RSS", _column(rows, "rss", 1 / 2**20), PALETTE[4]),),
            )
        )
        charts.append(
            Chart(
                "cpu",
                "Server CPU (100% is one core)",
                "%",
                xs,
                (Series("CPU", _column(rows, "cpu", 100.0), PALETTE[7]),),
            )
        )
    return charts
