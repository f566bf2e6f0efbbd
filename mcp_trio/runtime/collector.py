"""Keeping the cyclic garbage collector's full passes short, by moving long-lived objects out of its reach.

Theory of operation: CPython's full collection walks every object it tracks. An open connection holds about 30
(its task's chain of coroutines, their frames and cells), and the collector starts a full pass each time the
long-lived heap has grown by a quarter. So a ramp of new connections gets several passes, each longer than the
last: 66 ms with 5,000 connections open and up to 236 ms with 10,000, measured. That pause is the p99 of every
request in flight at the time.

``gc.freeze()`` moves every tracked object into a permanent generation that collections never walk. Objects
there are still freed by reference counting. ``GcFreezer`` freezes every ``gc_freeze_interval``, and holds the
older generations' thresholds at ``OLDER_THRESHOLD`` while it runs (restored when it stops), so between two
freezes only the youngest generation is walked, and only when allocations outgrow deallocations.

It does not collect before freezing: even a youngest-only pass is not cheap under load. Every connection waiting
for input holds the coroutines made at its last request, and since each request frees the previous ones as it
makes its own, the youngest generation's count stays low while its list holds them all: 90,000 objects with
6,000 connections at one request a second, a 25 ms pass, measured. Frozen, they cost nothing, and the next
request frees them by reference counting.

The price is that garbage in a reference cycle is not collected once frozen. The server's request path makes
none (a test pins that a closed connection is freed by reference counting: the driver breaks the framing <->
driver cycle when it closes). What a handler's cycles leak is reclaimed every ``gc_thaw_interval``: everything
is unfrozen, collected in one full pass (one long pause, at a known time, counted in the collector's
statistics), and frozen again. The memory profiler's growth figure shows a faster leak.
"""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import Iterator
from typing import Final

import trio

__all__ = ["GcFreezer", "OLDER_THRESHOLD", "older_generations_held"]

#: The older generations' thresholds while freezing: young passes between two freezes before an older one runs.
OLDER_THRESHOLD: Final = 100_000

logger = logging.getLogger("mcp_trio.runtime")


@contextlib.contextmanager
def older_generations_held() -> Iterator[None]:
    """Raise the older generations' thresholds to ``OLDER_THRESHOLD`` (a freezer runs meanwhile), then restore
    them."""
    thresholds = gc.get_threshold()
    gc.set_threshold(thresholds[0], OLDER_THRESHOLD, OLDER_THRESHOLD)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)


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
        with older_generations_held():
            while True:
                await trio.sleep(self.interval)
                self.step(trio.current_time())

    def step(self, now: float) -> None:
        """One round: freeze, after thawing and collecting everything when a thaw is due."""
        if self._next_thaw is not None and self.thaw_interval is not None and now >= self._next_thaw:
            self._next_thaw = now + self.thaw_interval
            gc.unfreeze()
            freed = gc.collect()
            self.thaws += 1
            logger.info("collector: thawed and collected everything, %d unreachable objects freed", freed)
        gc.freeze()
        self.freezes += 1
