"""What a soak run shows while it runs, once a second: sessions open, calls/s, p50/p95/p99, failures and overload
refusals apart, and the server's memory.

``RichProgress`` redraws a small table in place (rich's ``Live``, on stderr) for a person at a terminal;
``PlainProgress`` prints one line per second, which logs, CI and tests can read; ``make_progress("auto")`` picks
the first when stderr is a terminal.
"""

from __future__ import annotations

import sys
from collections import deque
from collections.abc import Callable
from typing import Any, Final, Protocol

import attrs

__all__ = ["Tick", "Progress", "PlainProgress", "RichProgress", "make_progress", "PROGRESS_MODES"]

PROGRESS_MODES: Final = ("auto", "rich", "plain", "none")
_HISTORY: Final = 8  # seconds the rich table keeps on screen


@attrs.frozen
class Tick:
    """One completed second of a run, every generator's figures merged."""

    scenario: str
    second: int
    of: float  # the scenario's planned seconds (closing may take a little longer)
    sessions: int  # open at the end of the second
    sent: int
    ok: int
    refused: int  # overload refusals (-32000 with a reason): the server protecting itself
    failed: int  # every other error: timeouts, closed connections, other error codes, tool errors
    late: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    rss: int | None  # the server's resident memory, bytes (None when no server process is known)
    cpu: float | None  # the server's CPU seconds in that second
    total_sent: int
    total_failed: int
    total_refused: int
    sessions_failed: int  # sessions that failed to open or were lost, so far


class Progress(Protocol):
    def start(self, scenario: str, target: str) -> None: ...

    def update(self, tick: Tick) -> None: ...

    def stop(self) -> None: ...


def _mib(rss: int | None) -> str:
    return "-" if rss is None else f"{rss / 2**20:.1f} MiB"


class PlainProgress:
    """One line per second through ``emit`` (the format the runner has always printed, plus sessions and
    p50/p95)."""

    def __init__(self, emit: Callable[[str], None]) -> None:
        self.emit = emit

    def start(self, scenario: str, target: str) -> None:
        pass

    def update(self, tick: Tick) -> None:
        self.emit(
            f"soak {tick.scenario} {tick.second:>4}s: sessions {tick.sessions:>6} sent {tick.sent:>6}/s "
            f"ok {tick.ok:>6} errors {tick.failed:>5} refused {tick.refused:>5} "
            f"p50/p95/p99 {tick.p50_ms:.1f}/{tick.p95_ms:.1f}/{tick.p99_ms:.1f} ms RSS {_mib(tick.rss)}"
        )

    def stop(self) -> None:
        pass


class RichProgress:
    """A live table on stderr: the last few seconds, one row each, under a line of running totals."""

    def __init__(self, console: Any = None) -> None:
        from rich.console import Console

        self.console = console if console is not None else Console(stderr=True)
        self.rows: deque[Tick] = deque(maxlen=_HISTORY)
        self.live: Any = None
        self.title = ""

    def start(self, scenario: str, target: str) -> None:
        from rich.live import Live

        self.title = f"mcp-trio soak {scenario} -> {target}"
        # No refresh thread: the run redraws once a second from its own loop (Trio owns this process's threads).
        self.live = Live(self.render(), console=self.console, auto_refresh=False, transient=False)
        self.live.start()

    def update(self, tick: Tick) -> None:
        self.rows.append(tick)
        if self.live is not None:
            self.live.update(self.render(), refresh=True)

    def stop(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None

    def render(self) -> Any:
        from rich import box
        from rich.table import Table
        from rich.text import Text

        last = self.rows[-1] if self.rows else None
        caption = (
            f"{last.second}/{last.of:g} s  calls {last.total_sent:,}  failed {last.total_failed:,}  "
            f"refused {last.total_refused:,}  sessions lost or unopened {last.sessions_failed:,}"
            if last is not None
            else "starting"
        )
        wide = self.console.width >= 92  # CPU too; 80 columns hold the others
        table = Table(
            title=Text(self.title),
            caption=Text(caption + "\nper second; latency in ms, server RSS in MiB"),
            box=box.SIMPLE_HEAD,
            pad_edge=False,
        )
        headers = ("s", "sessions", "sent", "ok", "p50", "p95", "p99", "errors", "refused", "RSS")
        for header in (*headers, "CPU") if wide else headers:
            table.add_column(header, justify="right", no_wrap=True)
        for tick in self.rows:
            cells: list[Any] = [
                str(tick.second),
                f"{tick.sessions:,}",
                f"{tick.sent:,}",
                f"{tick.ok:,}",
                f"{tick.p50_ms:.1f}",
                f"{tick.p95_ms:.1f}",
                f"{tick.p99_ms:.1f}",
                Text(f"{tick.failed:,}", style="bold red" if tick.failed else ""),
                Text(f"{tick.refused:,}", style="yellow" if tick.refused else ""),
                "-" if tick.rss is None else f"{tick.rss / 2**20:,.1f}",
            ]
            if wide:
                cells.append("-" if tick.cpu is None else f"{tick.cpu:.0%}")
            table.add_row(*cells)
        return table


def make_progress(mode: str, emit: Callable[[str], None], *, terminal: bool | None = None) -> Progress | None:
    """The display ``mode`` names (``auto``: rich when stderr is a terminal, plain otherwise; ``none``: nothing).

    Raises:
        ValueError: a mode not in ``PROGRESS_MODES``.
    """
    if mode not in PROGRESS_MODES:
        raise ValueError(f"--progress must be one of {', '.join(PROGRESS_MODES)}, not {mode!r}")
    if mode == "none":
        return None
    if mode == "auto":
        mode = "rich" if (sys.stderr.isatty() if terminal is None else terminal) else "plain"
    return RichProgress() if mode == "rich" else PlainProgress(emit)
