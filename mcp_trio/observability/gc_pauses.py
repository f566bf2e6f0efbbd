"""Garbage-collector pauses, timed with ``gc.callbacks``: Python's p99 is mostly these (``docs/performance.md``).

The callback runs at the start and the end of every collection; the pause is the time between. Durations go into
a fixed ring (``capacity`` most recent), so the max and percentiles cost bounded memory however long the process
runs; counts and the total are kept apart, for ``/metrics``.
"""

from __future__ import annotations

import gc
import math
import time
from typing import Any

__all__ = ["GcPauses"]


class GcPauses:
    """The collector's pauses, per generation (install with ``start``, remove with ``stop``)."""

    __slots__ = ("_began", "_ring", "_write", "capacity", "collections", "longest", "total_seconds")

    def __init__(self, capacity: int = 4096) -> None:
        self.capacity = capacity
        self._ring: list[float] = []
        self._write = 0
        self._began = 0.0
        self.collections = [0, 0, 0]  # per generation
        self.total_seconds = 0.0
        self.longest = 0.0

    def start(self) -> GcPauses:
        if self._callback not in gc.callbacks:
            gc.callbacks.append(self._callback)
        return self

    def stop(self) -> None:
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
            return
        pause = time.perf_counter() - self._began
        generation = info.get("generation", 0)
        if 0 <= generation < 3:
            self.collections[generation] += 1
        self.total_seconds += pause
        self.longest = max(self.longest, pause)
        if len(self._ring) < self.capacity:
            self._ring.append(pause)
        else:
            self._ring[self._write] = pause
            self._write = (self._write + 1) % self.capacity

    def percentile(self, fraction: float) -> float:
        """The pause at ``fraction`` (0.99: p99) of the recent ones, in seconds (0 when none)."""
        if not self._ring:
            return 0.0
        ordered = sorted(self._ring)
        return ordered[min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))]

    def summary(self) -> dict[str, Any]:
        return {
            "collections": list(self.collections),
            "total_seconds": round(self.total_seconds, 6),
            "max_ms": round(self.longest * 1000, 3),
            "p99_ms": round(self.percentile(0.99) * 1000, 3),
            "recent": len(self._ring),
        }
