"""Keeping the cyclic garbage collector's full passes short, by moving long-lived objects out of its reach.

Theory of operation: CPython's full collection walks every object it tracks. An open connection holds about 30
(its task's chain of coroutines, their frames and cells), and the collector starts a full pass each time the
long-lived heap has grown by a quarter. So a ramp of new connections gets several passes, each longer than the
last: 66 ms with 5,000 connections open and up to 236 ms with 10,000, measured. That pause is the p99 of every
request in flight at the time.

``gc.freeze()`` moves every tracked object into a permanent generation that collections never walk. Objects
there are still freed by reference counting. ``GcFreezer`` runs every ``gc_freeze_interval``: a young
collection first (so what is about to die is not frozen), then a freeze. A full pass then walks only what
arrived since the last freeze.

The price is that garbage in a reference cycle among frozen objects is not collected. Closed sessions leave
none: the driver breaks the framing <-> driver cycle when it closes, and a test pins that. Whatever else leaks
that way is reclaimed every ``gc_thaw_interval``: everything is unfrozen, collected in one full pass (one long
pause, at a known time, counted in the collector's statistics), and frozen again.
"""

from __future__ import annotations

import gc
import logging

import trio

__all__ = ["GcFreezer"]

logger = logging.getLogger("mcp_trio.runtime")


class GcFreezer:
    """Freeze what survived every ``interval`` seconds; thaw and collect everything every ``thaw_interval``
    (``None``: never)."""

    def __init__(self, interval: float, thaw_interval: float | None) -> None:
        self.interval = interval
        self.thaw_interval = thaw_interval
        self.freezes = 0
        self.thaws = 0
        self._next_thaw: float | None = None

    async def run(self, *, task_status: trio.TaskStatus[GcFreezer] = trio.TASK_STATUS_IGNORED) -> None:
        """Freeze (and thaw) on schedule until cancelled; reports ready with the freezer itself."""
        task_status.started(self)
        if self.thaw_interval is not None:
            self._next_thaw = trio.current_time() + self.thaw_interval
        while True:
            await trio.sleep(self.interval)
            self.step(trio.current_time())

    def step(self, now: float) -> None:
        """One round: thaw and collect everything when a thaw is due, else collect the young and freeze."""
        if self._next_thaw is not None and self.thaw_interval is not None and now >= self._next_thaw:
            self._next_thaw = now + self.thaw_interval
            gc.unfreeze()
            freed = gc.collect()
            self.thaws += 1
            logger.info("collector: thawed and collected everything, %d unreachable objects freed", freed)
        else:
            gc.collect(1)
        gc.freeze()
        self.freezes += 1
