"""Server limits and defaults, with units. Every limit lives here, none as a magic number in code."""

from __future__ import annotations

from typing import Literal

import attrs

from mcp_trio.protocol.framing import DEFAULT_MAX_MESSAGE_SIZE
from mcp_trio.runtime.config import RuntimeConfig
from mcp_trio.server.tracing import require_tracing

__all__ = ["ServerConfig", "BreakerSettings"]


@attrs.frozen
class BreakerSettings:
    """A tool's circuit breaker (``mcp_trio.runtime.CircuitBreaker``).

    Attributes:
        failure_threshold: consecutive failures (exceptions other than ``ToolError``) that open the circuit.
        open_timeout: seconds an open circuit refuses calls (each with an ``isError`` result saying so) before
            it lets probes through.
        half_open_probes: probe calls let through at once; that many successes close the circuit again, and a
            failed probe opens it for another ``open_timeout``.
    """

    failure_threshold: int = 5
    open_timeout: float = 30.0
    half_open_probes: int = 1

    def __attrs_post_init__(self) -> None:
        if self.failure_threshold < 1 or self.half_open_probes < 1:
            raise ValueError("failure_threshold and half_open_probes must be positive")
        if not self.open_timeout > 0:
            raise ValueError("open_timeout must be a positive number of seconds")


@attrs.frozen
class ServerConfig:
    """Tunables of one server.

    Attributes:
        max_message_size: largest JSON-RPC message accepted, in bytes (larger: -32600, connection kept).
        max_in_flight: requests one connection (or legacy HTTP session) may have running as tasks at once.
        in_flight_policy: what a stream connection (stdio, TCP, Unix) does with a request past
            ``max_in_flight``: ``"refuse"`` answers it at once with -32000 (reason ``connection_in_flight``);
            ``"block"`` stops reading until a request finishes (TCP pushes back on the client; nothing is refused,
            and the client waits). Refusing is the default: overload must be explicit and fast, and a client that
            keeps 64 requests running on one connection is rare enough that telling it beats stalling it. Choose
            ``"block"`` for bulk clients that would rather wait. (Legacy HTTP sessions always refuse.)
        max_outbox_bytes: bytes queued for one slow reader before producers wait for it to drain.
        receive_size: bytes asked of the socket per read.
        page_size: items per page of the list methods.
        drain_timeout: seconds a connection whose peer closed its sending side keeps running its requests.
        close_timeout: seconds a closing connection spends writing answers already produced.
        cache_ttl_ms: ``ttlMs`` on cacheable modern results (list methods, ``resources/read``, discovery).
        cache_scope: ``cacheScope`` on the same results.
        request_state_ttl: seconds a sealed ``requestState`` stays valid (MRTR).
        max_tasks: tasks (tasks extension) the server holds at once; past it ``tools/call`` is refused at once
            (-32000, reason ``tasks``).
        task_ttl_ms: how long a finished task stays queryable, in milliseconds (``ttlMs``).
        task_poll_interval_ms: the polling interval suggested to clients (``pollIntervalMs``).
        max_handler_threads: worker threads that run synchronous handlers at once (handlers registered with
            ``blocking=False`` run on the event loop instead); further calls wait for a thread.
        request_metrics: count requests and time them per method and tool (``/metrics``, ``/health``): about
            1.5 us per call (7% of a trivial TCP call's server CPU, measured with ``benchmarks.profile_live``); off
            for the last bit of throughput.
        tracing: an OpenTelemetry span per request (``mcp_trio/server/tracing.py``): SERVER kind, named and
            attributed after the semantic conventions for MCP, parented by the ``traceparent`` in the request's
            ``_meta``, current while the handler runs. Spans go to the global tracer provider, which the
            application sets up (``opentelemetry-instrument``, or ``trace.set_tracer_provider`` before the server
            runs). Needs the ``otel`` extra: turning it on without it fails here. Off, it costs one attribute
            check per request; on, mostly the SDK's span: about 35 us per call with a batch processor, 8 us when
            a sampler drops it (``docs/ops/README.md``, "Tracing").
        tool_breaker: a circuit breaker for every tool (``add_tool(breaker=...)`` overrides it per tool);
            ``None``: tools have none unless registered with one. Off by default: whether repeated failures mean
            a broken dependency, and how long to wait, depends on the tool.
        runtime: the supervision tree the server runs under: shards, shutdown and restart limits, watchdog,
            overload control (``RuntimeConfig``).
    """

    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE
    max_in_flight: int = 64
    in_flight_policy: Literal["refuse", "block"] = "refuse"
    max_outbox_bytes: int = 1024 * 1024
    receive_size: int = 65536
    page_size: int = 100
    drain_timeout: float = 30.0
    close_timeout: float = 5.0
    cache_ttl_ms: int = 60_000
    cache_scope: Literal["public", "private"] = "public"
    request_state_ttl: float = 600.0
    max_tasks: int = 10_000
    task_ttl_ms: int = 300_000
    task_poll_interval_ms: int = 100
    max_handler_threads: int = 40
    request_metrics: bool = True
    tracing: bool = False
    tool_breaker: BreakerSettings | None = None
    runtime: RuntimeConfig = attrs.field(factory=RuntimeConfig)

    def __attrs_post_init__(self) -> None:
        if self.in_flight_policy not in ("refuse", "block"):
            raise ValueError("in_flight_policy must be 'refuse' or 'block'")
        for name in (
            "max_message_size",
            "max_in_flight",
            "max_outbox_bytes",
            "receive_size",
            "page_size",
            "max_tasks",
            "task_ttl_ms",
            "task_poll_interval_ms",
            "max_handler_threads",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive")
        if self.tracing:
            require_tracing()
