"""The memory profiler (seeds 000 and 001): periodic snapshots and a leak estimate.

A snapshot holds RSS, the Python heap (``sys.getallocatedblocks``), the collector's counts and the number of
connections. From the snapshots of the last ``window`` the profiler fits a least-squares line of RSS against time:
its slope, in MB per hour, is the growth rate, and a slope over ``leak_mb_per_hour`` with enough samples
(``min_samples``) raises the leak flag. Memory per connection is RSS growth over a no-connection baseline divided
by the connections now open. Snapshots live in a bounded deque; nothing grows with uptime.
"""

from __future__ import annotations

import gc
import json
import os
import sys
from collections import deque
from collections.abc import Callable
from typing import Any

import attrs

__all__ = ["MemoryProfiler", "MemorySnapshot", "rss_bytes"]

_PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    """This process's resident set size (``/proc/self/statm``)."""
    with open("/proc/self/statm", "rb") as statm:
        return int(statm.read().split()[1]) * _PAGE


@attrs.frozen
class MemorySnapshot:
    at: float  # seconds (the profiler's clock)
    rss: int
    heap_blocks: int
    gc_counts: tuple[int, int, int]
    connections: int


class MemoryProfiler:
    """Keeps snapshots and answers growth and per-connection questions (``sample`` is called periodically).

    Args:
        clock: seconds, monotonic (Trio's clock under the runtime).
        connections: how many connections are open now.
        window: how many snapshots the growth estimate uses.
        leak_mb_per_hour: growth past which (with ``min_samples``) the leak flag is raised.
    """

    def __init__(
        self,
        clock: Callable[[], float],
        connections: Callable[[], int] = lambda: 0,
        *,
        window: int = 120,
        leak_mb_per_hour: float = 50.0,
        min_samples: int = 10,
        read_rss: Callable[[], int] = rss_bytes,
    ) -> None:
        self.clock = clock
        self.connections = connections
        self.leak_mb_per_hour = leak_mb_per_hour
        self.min_samples = min_samples
        self.read_rss = read_rss
        self.snapshots: deque[MemorySnapshot] = deque(maxlen=window)
        self.baseline: int | None = None  # RSS with no connection (the first snapshot taken with none open)

    def sample(self) -> MemorySnapshot:
        counts = gc.get_count()
        snapshot = MemorySnapshot(
            self.clock(),
            self.read_rss(),
            sys.getallocatedblocks(),
            (counts[0], counts[1], counts[2]),
            self.connections(),
        )
        if snapshot.connections == 0:
            self.baseline = snapshot.rss if self.baseline is None else min(self.baseline, snapshot.rss)
        self.snapshots.append(snapshot)
        return snapshot

    def growth_mb_per_hour(self) -> float:
        """The least-squares slope of RSS over the snapshots kept, in MB per hour (0 with fewer than two)."""
        points = list(self.snapshots)
        if len(points) < 2:
            return 0.0
        mean_t = sum(p.at for p in points) / len(points)
        mean_r = sum(p.rss for p in points) / len(points)
        spread = sum((p.at - mean_t) ** 2 for p in points)
        if spread == 0:
            return 0.0
        slope = sum((p.at - mean_t) * (p.rss - mean_r) for p in points) / spread  # bytes per second
        return slope * 3600 / 1e6

    def leaking(self) -> bool:
        return len(self.snapshots) >= self.min_samples and self.growth_mb_per_hour() > self.leak_mb_per_hour

    def per_connection(self) -> float | None:
        """Bytes of RSS per open connection over the no-connection baseline (``None`` without both)."""
        if not self.snapshots or self.baseline is None:
            return None
        last = self.snapshots[-1]
        return (last.rss - self.baseline) / last.connections if last.connections else None

    def report(self) -> dict[str, Any]:
        last = self.snapshots[-1] if self.snapshots else None
        per_connection = self.per_connection()
        return {
            "rss_bytes": last.rss if last else None,
            "heap_blocks": last.heap_blocks if last else None,
            "gc_counts": list(last.gc_counts) if last else None,
            "connections": last.connections if last else 0,
            "bytes_per_connection": round(per_connection) if per_connection is not None else None,
            "growth_mb_per_hour": round(self.growth_mb_per_hour(), 3),
            "leak_suspected": self.leaking(),
            "samples": len(self.snapshots),
        }

    def report_text(self) -> str:
        report = self.report()
        return "\n".join(f"{key}: {value}" for key, value in report.items())

    def report_json(self) -> str:
        return json.dumps(self.report())
