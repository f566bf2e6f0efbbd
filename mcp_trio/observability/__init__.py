"""Watching a running server: GC pauses, the memory profiler, health and readiness, Prometheus metrics, and the
admin endpoint that serves them (``mcp-trio serve --admin HOST:PORT``); the health document as tables
(``render_health``, for ``mcp-trio health``)."""

from mcp_trio.observability.admin import AdminEndpoint, Watched, serve_admin
from mcp_trio.observability.gc_pauses import GcPauses
from mcp_trio.observability.health import Observer
from mcp_trio.observability.health_table import render_health
from mcp_trio.observability.memory import MemoryProfiler, MemorySnapshot
from mcp_trio.observability.metrics import MetricsCollector, exposition
from mcp_trio.observability.workers import WorkersObserver

__all__ = [
    "Observer",
    "GcPauses",
    "MemoryProfiler",
    "MemorySnapshot",
    "MetricsCollector",
    "exposition",
    "AdminEndpoint",
    "Watched",
    "serve_admin",
    "WorkersObserver",
    "render_health",
]
