"""The health document (``/health``) and readiness (``/ready``) of one server process.

``Observer`` gathers what an operator needs to judge a process at a glance from the runtime's own counters
(shards, admission, watchdog, supervision tree), the GC pause monitor and the memory profiler. Status is ``ok``
(HTTP 200), or ``degraded`` (503) while the server sheds load, the event loop is stalled or a leak is suspected,
or ``draining`` (503) once shutdown began. Readiness is narrower, for load balancers: ready once serving and
until draining starts.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any

import trio

from mcp_trio.observability.gc_pauses import GcPauses
from mcp_trio.observability.memory import MemoryProfiler

if TYPE_CHECKING:
    from mcp_trio.runtime.application import Runtime

__all__ = ["Observer"]


class Observer:
    """Health, readiness and the figures behind ``/metrics`` for one runtime.

    Args:
        runtime: the server's runtime.
        sample_interval: seconds between memory snapshots (``run``; default ``RuntimeConfig.memory_sample_interval``).
        leak_mb_per_hour: the leak threshold (default ``RuntimeConfig.leak_mb_per_hour``).
    """

    def __init__(
        self, runtime: Runtime, *, sample_interval: float | None = None, leak_mb_per_hour: float | None = None
    ) -> None:
        self.runtime = runtime
        config = runtime.config
        self.sample_interval = sample_interval if sample_interval is not None else config.memory_sample_interval
        leak = leak_mb_per_hour if leak_mb_per_hour is not None else config.leak_mb_per_hour
        self.gc = GcPauses()
        self.memory = MemoryProfiler(trio.current_time, self.connections, leak_mb_per_hour=leak)
        self.started = time.time()
        self.serving = False  # set once every listener is up (``mcp-trio serve`` does it)
        self.workers: list[dict[str, Any]] = []  # the parent's view of its workers, when it has any

    def connections(self) -> int:
        return sum(figures.connections for figures in self.runtime.statistics())

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Time the collector's pauses and take memory snapshots until cancelled."""
        self.gc.start()
        try:
            self.memory.sample()
            task_status.started()
            while True:
                await trio.sleep(self.sample_interval)
                self.memory.sample()
        finally:
            self.gc.stop()

    @property
    def draining(self) -> bool:
        return self.runtime.admission.draining

    def ready(self) -> bool:
        return self.serving and not self.draining

    def metrics(self) -> bytes:
        """One scrape, in the Prometheus text format."""
        from mcp_trio.observability.metrics import exposition

        return exposition(self)

    def summary(self) -> dict[str, Any]:
        """The figures a worker's heartbeat carries to its parent (the parent's ``/health`` and ``/metrics``)."""
        _, document = self.health()
        admission = document["admission"]
        return {
            "status": document["status"],
            "problems": document["problems"],
            "connections": document["connections"],
            "sessions": document["legacy_sessions"],
            "in_flight": document["in_flight"],
            "listen_streams": document["listen_streams"],
            "refusals": admission["refusals"],
            "rss": document["memory"]["rss_bytes"] or 0,
            "growth_mb_per_hour": document["memory"]["growth_mb_per_hour"],
            "gc_pause_max_ms": document["gc"]["max_ms"],
            "gc_pause_p99_ms": document["gc"]["p99_ms"],
        }

    def health(self) -> tuple[int, dict[str, Any]]:
        """(HTTP status, document)."""
        runtime = self.runtime
        admission = runtime.admission.statistics()
        shards = [figures.as_dict() for figures in runtime.statistics()]
        watchdog = runtime.watchdog.statistics() if runtime.watchdog is not None else None
        memory = self.memory.report()
        problems = []
        if admission["shedding"] != "normal":
            problems.append(f"shedding ({admission['shedding_reason']})")
        if watchdog is not None and watchdog.stalled:
            problems.append("event loop stalled")
        if memory["leak_suspected"]:
            problems.append(f"memory growing {memory['growth_mb_per_hour']} MB/h")
        metrics = getattr(runtime.host, "metrics", None)
        rate, error_rate = metrics.last_minute() if metrics is not None else (0.0, 0.0)
        status = "draining" if self.draining else ("degraded" if problems else "ok")
        document: dict[str, Any] = {
            "status": status,
            "problems": problems,
            "ready": self.ready(),
            "uptime_seconds": round(time.time() - self.started, 1),
            "connections": sum(figures.connections for figures in runtime.statistics()),
            "connections_by_transport": runtime.connections_by_transport(),
            "legacy_sessions": sum(figures.sessions for figures in runtime.statistics()),
            "in_flight": admission["in_flight"],
            "listen_streams": admission["listen_streams"],
            "requests_per_second": round(rate, 2),  # over the last minute
            "error_rate": round(error_rate, 4),
            "shards": shards,
            "admission": admission,
            "memory": {**memory, "python_heap_blocks": sys.getallocatedblocks()},
            "gc": self.gc.summary(),
            "event_loop": {
                "stalled": watchdog.stalled,
                "stalls": watchdog.stalls,
                "longest_stall_seconds": round(watchdog.longest_stall, 4),
            }
            if watchdog is not None
            else None,
            "tree": {child.id: child.state for child in runtime.app.which_children()},
        }
        if self.workers:
            document["workers"] = self.workers
        return (200 if status == "ok" else 503), document
