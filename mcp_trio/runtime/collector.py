"""Keeping the cyclic garbage collector's full passes short, by moving long-lived objects out of its reach.

Theory of operation: CPython's full collection walks every object it tracks. An open connection holds about 30
(its task's chain of coroutines, their frames and cells), and the collector starts a full pass each time the
long-lived heap has grown by a quarter. So a ramp of new connections gets several passes, each longer than the
last: 66 ms with 5,000 connections open and up to 236 ms with 10,000, measured. That pause is the p99 of every
request in flight at the time.

``gc.freeze()`` moves every tracked object into a permanent generation that collections never walk. Objects
there are still freed by reference counting. A young collection is not cheap either: every connection waiting
for input holds a chain of coroutines made at its last request, so with 10,000 connections at one request a
second the young generations hold some 100,000 objects, and each pass over both of them took 70-110 ms, measured
(by default the collector makes one after every ten passes over the youngest). So ``GcFreezer``, every
``gc_freeze_interval``: collects the youngest generation only (what died young in a cycle is freed, not frozen),
then freezes everything else. While it runs, the older generations' thresholds are raised to
``OLDER_THRESHOLD`` so that between two freezes only the youngest generation is ever walked (restored when it
stops).

The price is that garbage in a reference cycle that outlived the youngest generation is not collected until a
thaw. Closed sessions leave none: the driver breaks the framing <-> driver cycle when it closes, and a test pins
that. Whatever else leaks that way is reclaimed every ``gc_thaw_interval``: everything is unfrozen, collected in
one full pass (one long pause, at a known time, counted in the collector's statistics), and frozen again.
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
        """One round: thaw and collect everything when a thaw is due, else collect the young and freeze."""
        if self._next_thaw is not None and self.thaw_interval is not None and now >= self._next_thaw:
            self._next_thaw = now + self.thaw_interval
            gc.unfreeze()
            freed = gc.collect()
            self.thaws += 1
            logger.info("collector: thawed and collected everything, %d unreachable objects freed", freed)
        else:
            gc.collect(0)
        gc.freeze()
        self.freezes += 1
