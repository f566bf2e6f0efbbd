"""Request counts and latency, per method and tool: what ``/metrics`` and ``/health`` report about the traffic.

The session driver calls ``observe`` once per request it answers (inline or from a task), with the seconds from
dispatch to the encoded answer. Cost: two clock reads and a few increments (about 0.3 us), so it is always on.
Series are keyed by (method, tool); their number is bounded (``max_series``: methods come from the spec, tools
from the server), and an unexpected key past the bound counts under ``("other", None)``. A ring of per-second
totals gives the throughput and error rate of the last minute without keeping any per-request record.

Buckets follow the OpenTelemetry semantic conventions for MCP (``mcp.server.operation.duration``, seconds).
"""

from __future__ import annotations

import time
from bisect import bisect_left
from typing import Final

__all__ = ["RequestMetrics", "Series", "BUCKETS"]

#: Histogram bucket upper bounds, in seconds.
BUCKETS: Final = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)
_WINDOW: Final = 60


class Series:
    """One (method, tool): counts per bucket (the last is +Inf), their sum, and errors."""

    __slots__ = ("buckets", "count", "errors", "total_seconds")

    def __init__(self) -> None:
        self.buckets = [0] * (len(BUCKETS) + 1)
        self.count = 0
        self.errors = 0
        self.total_seconds = 0.0


class RequestMetrics:
    """All the server's request figures (one per ``Server``)."""

    __slots__ = ("_seconds", "_totals", "buckets", "max_series", "series")

    def __init__(self, max_series: int = 1000) -> None:
        self.buckets = BUCKETS  # for readers (``/metrics``) that must not import this layer
        self.max_series = max_series
        self.series: dict[tuple[str, str | None], Series] = {}
        self._seconds = [-1] * _WINDOW  # which second each slot of the ring holds
        self._totals = [[0, 0] for _ in range(_WINDOW)]  # requests, errors

    def observe(self, method: str, tool: str | None, started: float, ended: float, error: bool) -> None:
        """One answered request: ``started`` and ``ended`` are ``time.perf_counter()`` readings (seconds)."""
        series = self.series.get((method, tool))
        if series is None:
            series = self._new_series(method, tool)
        seconds = ended - started
        series.buckets[bisect_left(BUCKETS, seconds)] += 1
        series.count += 1
        series.total_seconds += seconds
        now = int(ended)  # perf_counter is monotonic: whole seconds of it index the ring
        slot = now % _WINDOW
        totals = self._totals[slot]
        if self._seconds[slot] != now:
            self._seconds[slot] = now
            totals[0] = totals[1] = 0
        totals[0] += 1
        if error:
            series.errors += 1
            totals[1] += 1

    def _new_series(self, method: str, tool: str | None) -> Series:
        key = (method, tool) if len(self.series) < self.max_series else ("other", None)
        series = self.series.get(key)
        if series is None:
            series = self.series[key] = Series()
        return series

    def last_minute(self) -> tuple[float, float]:
        """(requests per second, fraction that failed) over the last 60 seconds."""
        now = int(time.perf_counter())
        requests = errors = 0
        for second, (count, failed) in zip(self._seconds, self._totals, strict=True):
            if now - _WINDOW < second <= now:
                requests += count
                errors += failed
        return requests / _WINDOW, (errors / requests if requests else 0.0)
