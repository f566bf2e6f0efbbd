"""PNG charts of a soak report (``--png DIR``), one file per chart of ``soak.charts``, drawn by matplotlib.

matplotlib is optional (the ``charts`` extra) and heavy, so it is imported only here and only when asked;
``require_matplotlib`` lets the command refuse ``--png`` before a run rather than after it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from soak.charts import charts_of

__all__ = ["require_matplotlib", "write_pngs", "MatplotlibMissing"]


class MatplotlibMissing(RuntimeError):
    """``--png`` without matplotlib installed."""


def require_matplotlib() -> None:
    """Raises:
    MatplotlibMissing: matplotlib cannot be imported (the message says how to install it).
    """
    try:
        import matplotlib  # noqa: F401
    except ImportError as error:
        raise MatplotlibMissing(
            f"--png needs matplotlib, which is not installed ({error}): pip install 'mcp-trio[charts]', "
            "or use --html (no dependency)"
        ) from None


def write_pngs(report: dict[str, Any], directory: Path) -> list[Path]:
    """Draw every chart of ``report`` into ``directory`` (created if missing); the files written."""
    require_matplotlib()
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    from matplotlib import pyplot

    directory.mkdir(parents=True, exist_ok=True)
    name = (report.get("scenario") or {}).get("name", "soak")
    written = []
    for chart in charts_of(report):
        figure, axes = pyplot.subplots(figsize=(9, 3.2), dpi=100)
        try:
            for series in chart.series:
                values = [float("nan") if value is None else value for value in series.values]
                axes.plot(chart.xs, values, label=series.name, color=series.color, linewidth=1.4)
            if chart.empty:
                axes.text(0.5, 0.5, chart.note or "no data", ha="center", va="center", transform=axes.transAxes)
            elif chart.series:
                axes.legend(loc="upper left", fontsize=8, ncols=min(4, len(chart.series)), frameon=False)
            axes.set_title(f"{name}: {chart.title}", fontsize=10, loc="left")
            axes.set_xlabel("seconds")
            axes.set_ylabel(chart.unit)
            axes.set_ylim(bottom=0)
            axes.grid(color="#eeeeee")
            figure.tight_layout()
            path = directory / f"{name}-{chart.slug}.png"
            figure.savefig(path)
            written.append(path)
        finally:
            pyplot.close(figure)
    return written
