"""Line charts as inline SVG, so the HTML report is one self-contained file that needs no library, no script
and no network to open.

Deliberately small: a y axis from zero with round ticks, seconds on the x axis, one polyline per series (broken
where a second has no figure), a legend. Every text that reaches the markup is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape
from typing import Final

from soak.charts import Chart

__all__ = ["line_chart", "nice_ticks", "short_number"]

_LEFT: Final = 64
_RIGHT: Final = 16
_TOP: Final = 48
_BOTTOM: Final = 34
_CHAR: Final = 6.6  # average glyph width at the legend's font size, to lay the legend out without a font engine


def short_number(value: float) -> str:
    """``12K``, ``1.5M``, ``0.25``: an axis label that stays narrow."""
    magnitude = abs(value)
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "K")):
        quotient = value / limit
        if magnitude >= limit and (magnitude >= 10 * limit or round(quotient, 1) == quotient):
            return f"{quotient:.3g}{suffix}"
    return f"{value:.3g}" if magnitude < 1000 else f"{value:.0f}"


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering ``[low, high]``: steps of 1, 2, 2.5 or 5 times a power of ten."""
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        high = low + 1
    raw = (high - low) / max(1, count - 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.floor(low / step) * step
    ticks = []
    value = first
    while value < high + step * 0.999:
        ticks.append(round(value, 10))
        value += step
    return ticks


def _runs(xs: Sequence[float], values: Sequence[float | None]) -> list[list[tuple[float, float]]]:
    """The stretches of consecutive seconds that have a figure."""
    runs: list[list[tuple[float, float]]] = []
    current: list[tuple[float, float]] = []
    for x, y in zip(xs, values, strict=False):
        if y is None or not math.isfinite(y):
            if current:
                runs.append(current)
            current = []
        else:
            current.append((x, y))
    if current:
        runs.append(current)
    return runs


def line_chart(chart: Chart, *, width: int = 760, height: int = 260) -> str:
    """``chart`` as an ``<svg>`` element (see the module docstring)."""
    title = escape(chart.title)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{title}">',
        f"<title>{title}</title>",
        f'<text x="{_LEFT}" y="16" class="chart-title">{title}</text>',
    ]
    plot_w, plot_h = width - _LEFT - _RIGHT, height - _TOP - _BOTTOM
    if chart.empty:
        parts.append(
            f'<rect x="{_LEFT}" y="{_TOP}" width="{plot_w}" height="{plot_h}" class="frame"/>'
            f'<text x="{_LEFT + plot_w / 2}" y="{_TOP + plot_h / 2}" text-anchor="middle" class="empty">'
            f"{escape(chart.note or 'no data')}</text></svg>"
        )
        return "".join(parts)
    x_low, x_high = min(chart.xs), max(chart.xs)
    if x_high <= x_low:
        x_low, x_high = x_low - 1, x_high + 1
    peak = max((v for s in chart.series for v in s.values if v is not None and math.isfinite(v)), default=0.0)
    y_ticks = nice_ticks(0.0, peak if peak > 0 else 1.0)
    y_high = y_ticks[-1]
    x_ticks = [t for t in nice_ticks(x_low, x_high, 8) if x_low <= t <= x_high]

    def sx(x: float) -> float:
        return round(_LEFT + (x - x_low) / (x_high - x_low) * plot_w, 1)

    def sy(y: float) -> float:
        return round(_TOP + plot_h - y / y_high * plot_h, 1)

    for tick in y_ticks:
        y = sy(tick)
        parts.append(
            f'<line x1="{_LEFT}" y1="{y}" x2="{_LEFT + plot_w}" y2="{y}" class="grid"/>'
            f'<text x="{_LEFT - 6}" y="{y + 4}" text-anchor="end" class="tick">{escape(short_number(tick))}</text>'
        )
    for tick in x_ticks:
        x = sx(tick)
        parts.append(
            f'<line x1="{x}" y1="{_TOP + plot_h}" x2="{x}" y2="{_TOP + plot_h + 4}" class="axis"/>'
            f'<text x="{x}" y="{_TOP + plot_h + 17}" text-anchor="middle" class="tick">{escape(short_number(tick))}s'
            "</text>"
        )
    parts.append(f'<rect x="{_LEFT}" y="{_TOP}" width="{plot_w}" height="{plot_h}" class="frame"/>')
    parts.append(
        f'<text x="14" y="{_TOP + plot_h / 2}" transform="rotate(-90 14 {_TOP + plot_h / 2})" '
        f'text-anchor="middle" class="tick">{escape(chart.unit)}</text>'
    )
    legend_x = float(_LEFT)
    for series in chart.series:
        color = escape(series.color)
        name = escape(series.name)
        parts.append(
            f'<rect x="{legend_x:.1f}" y="26" width="12" height="4" fill="{color}"/>'
            f'<text x="{legend_x + 16:.1f}" y="32" class="legend">{name}</text>'
        )
        legend_x += 28 + _CHAR * len(series.name)
        for run in _runs(chart.xs, series.values):
            if len(run) == 1:
                x, y = run[0]
                parts.append(f'<circle cx="{sx(x)}" cy="{sy(y)}" r="2" fill="{color}"><title>{name}</title></circle>')
                continue
            points = " ".join(f"{sx(x)},{sy(y)}" for x, y in run)
            parts.append(
                f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="1.5" '
                f'stroke-linejoin="round"><title>{name}</title></polyline>'
            )
    parts.append("</svg>")
    return "".join(parts)
