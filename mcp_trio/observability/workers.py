"""The parent's view of its workers (``mcp-trio serve --workers N --admin HOST:PORT``).

The parent serves no MCP traffic; its ``/health`` and ``/metrics`` are built from the last heartbeat of each
worker (``Observer.summary``, sent every second): totals, one row per worker, and the worst status of any. A
worker that has not reported yet, or fewer workers than asked for, makes the server degraded.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = ["WorkersObserver"]

_SUMMED = ("connections", "sessions", "in_flight", "listen_streams", "rss")


class WorkersObserver:
    """Health and metrics of a multi-process server, from its workers' heartbeats.

    Args:
        rows: the workers' last heartbeats (``{"slot": ..., "pid": ..., figures...}``), read when asked.
        expected: how many workers the server should have.
    """

    def __init__(self, rows: Callable[[], list[dict[str, Any]]], expected: int) -> None:
        self.rows = rows
        self.expected = expected
        self.started = time.time()
        self.stopping = False

    @property
    def draining(self) -> bool:
        return self.stopping

    def ready(self) -> bool:
        return not self.stopping and len(self.rows()) >= self.expected

    def health(self) -> tuple[int, dict[str, Any]]:
        rows = self.rows()
        problems = [f"worker {row['slot']}: {p}" for row in rows for p in row.get("problems") or []]
        if len(rows) < self.expected:
            problems.append(f"{len(rows)} of {self.expected} workers running")
        refusals: dict[str, int] = {}
        for row in rows:
            for reason, count in (row.get("refusals") or {}).items():
                refusals[reason] = refusals.get(reason, 0) + count
        status = "draining" if self.stopping else ("degraded" if problems else "ok")
        document = {
            "status": status,
            "problems": problems,
            "ready": self.ready(),
            "uptime_seconds": round(time.time() - self.started, 1),
            **{key: sum(int(row.get(key) or 0) for row in rows) for key in _SUMMED},
            "legacy_sessions": sum(int(row.get("sessions") or 0) for row in rows),
            "refusals": refusals,
            "workers": rows,
        }
        return (200 if status == "ok" else 503), document

    def metrics(self) -> bytes:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_WorkersCollector(self))
        return generate_latest(registry)


class _WorkersCollector(Collector):
    def __init__(self, observer: WorkersObserver) -> None:
        self.observer = observer

    def collect(self) -> list[Metric]:
        rows = self.observer.rows()
        families = {
            "connections": GaugeMetricFamily("mcp_trio_connections", "Open connections, by worker.", labels=["worker"]),
            "sessions": GaugeMetricFamily("mcp_trio_sessions", "Legacy HTTP sessions, by worker.", labels=["worker"]),
            "in_flight": GaugeMetricFamily("mcp_trio_in_flight", "Requests in flight, by worker.", labels=["worker"]),
            "listen_streams": GaugeMetricFamily(
                "mcp_trio_listen_streams", "Open subscriptions/listen streams, by worker.", labels=["worker"]
            ),
            "rss": GaugeMetricFamily("mcp_trio_resident_memory_bytes", "RSS, by worker.", labels=["worker"]),
            "gc_pause_p99_ms": GaugeMetricFamily(
                "mcp_trio_gc_pause_p99_seconds", "Recent GC pause p99, by worker.", labels=["worker"]
            ),
        }
        refusals = CounterMetricFamily(
            "mcp_trio_refusals", "Work refused under overload, by worker and reason.", labels=["worker", "reason"]
        )
        for row in rows:
            slot = str(row.get("slot"))
            for key, family in families.items():
                value = float(row.get(key) or 0)
                family.add_metric([slot], value / 1000 if key == "gc_pause_p99_ms" else value)
            for reason, count in (row.get("refusals") or {}).items():
                refusals.add_metric([slot, reason], count)
        workers = GaugeMetricFamily("mcp_trio_workers", "Worker processes running.", value=len(rows))
        ready = GaugeMetricFamily(
            "mcp_trio_ready", "1 while ready for traffic.", value=1 if self.observer.ready() else 0
        )
        return [*families.values(), refusals, workers, ready]
