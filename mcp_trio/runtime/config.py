"""Limits and defaults of the supervised runtime, with units. No limit of the tree lives anywhere else."""

from __future__ import annotations

import math

import attrs

__all__ = ["RuntimeConfig"]


@attrs.frozen
class RuntimeConfig:
    """Tunables of the supervision tree a server runs under, and of its overload control.

    Every refusal is one immediate answer: a JSON-RPC error -32000 whose ``data`` is
    ``{"reason": <the limit's name>, "retryAfterMs": ...}`` (HTTP 503 with ``Retry-After``), or, for a connection
    refused at accept, that error as the connection's only message (an HTTP 503) before it is closed.
    ``docs/overload.md`` has the table of every limit, its reason and the counter that counts it.

    Attributes:
        shards: connection shards. Each is a supervisor of its connections and of their requests; a connection
            lives in shard ``id % shards`` and a legacy HTTP session in ``hash(session id) % shards``. A shard
            that fails takes only its own connections down. 16, 64 and 256 all work; 16 is the default because
            each shard costs about 15-25 KB and a millisecond of start-up (three supervisors and their tasks;
            ``python -m benchmarks.shards``) and buys nothing else on one event loop: opening and closing
            connections costs the same at any count.
        memory_sample_interval: seconds between the memory profiler's snapshots (``/health``, ``/metrics``).
        leak_mb_per_hour: RSS growth, fitted over the recent snapshots, past which ``/health`` reports a suspected
            leak (and answers 503).
        drain_timeout: seconds ``mcp-trio serve`` waits, after SIGTERM or SIGINT, for requests in flight to finish
            before it stops the tree (``Runtime.drain``: listeners stop first, new requests are refused).
        shutdown_timeout: seconds children get to stop after being cancelled (connections, requests, listeners);
            a child still running then is abandoned: logged, counted, and left to end on its own.
        intensity: restarts of the application's children (shards, listeners, housekeeping) tolerated within
            ``period`` seconds before the whole tree stops (OTP's restart intensity).
        period: the intensity window, in seconds.
        accept_retry_delay: seconds an accept loop waits after the process ran out of file descriptors or
            memory (``EMFILE``, ``ENFILE``, ``ENOBUFS``, ``ENOMEM``) before accepting again.
        loop_lag_threshold: seconds a callback may hold the event loop before the watchdog logs the handler that
            held it; ``None`` turns the watchdog off.
        session_sweep_interval: seconds between sweeps that end legacy HTTP sessions idle past their timeout.
        park_idle_after: seconds a newline-delimited socket connection (TCP, Unix) may wait for input before it
            gives up its task: it is *parked* in the runtime's readiness watcher (one epoll set, one task) and gets
            a task again when input or a close arrives, so an idle session costs no task (2.7 KB instead of 5.7 KB
            per idle TCP session, ``python -m benchmarks.idle_memory``). Swept every half of it, at least every
            second; a read costs the same either way. ``None`` (the default): connections keep their task.
        max_connections: connections open at once, all transports (reason ``connections``); ``None``: 90% of
            the process's file-descriptor limit, so the server refuses before the kernel does (``EMFILE``).
        soft_connections: past this many connections the runtime logs a warning once and reports it
            (``Runtime.overload()``); ``None``: 80% of ``max_connections``.
        max_connections_per_shard: connections one shard holds (reason ``connections_per_shard``); ``None``:
            no limit of its own (ids spread connections evenly; legacy sessions hash).
        accept_rate: new connections accepted per second, all listeners together (reason ``accept_rate``);
            ``None``: no limit. ``accept_burst`` connections may arrive at once.
        accept_burst: the accept rate's bucket size.
        handshake_timeout: seconds a connection (or a legacy HTTP session) has to complete the handshake
            (``initialize`` then ``notifications/initialized``, or a first 2026-07-28 request) before it is
            closed (reason ``handshake``): an ``initialize`` that never completes must not hold a slot.
        max_in_flight: requests running as tasks at once, server-wide (reason ``in_flight``); requests answered
            inline never wait anywhere and do not count.
        max_in_flight_per_shard: the same per shard (reason ``in_flight_per_shard``); ``None``: no limit.
        max_listen_streams: ``subscriptions/listen`` streams open at once (reason ``listen_streams``); they last
            long, so they have a limit of their own and do not count as in flight.
        connection_rate: requests per second one connection may send (reason ``rate_limit_connection``);
            ``None``: no limit. ``connection_burst`` may come at once.
        connection_burst: the per-connection bucket size.
        session_rate: requests per second one legacy HTTP session may send (reason ``rate_limit_session``);
            ``None``: no limit.
        session_burst: the per-session bucket size.
        client_rate: requests per second one client identity may send across its connections and sessions: the
            authenticated principal, or else the source address (reason ``rate_limit_client``); ``None``: no
            limit.
        client_burst: the per-client bucket size.
        max_clients_tracked: client identities whose buckets are kept; past it the least recently seen is
            forgotten (it comes back with a full bucket).
        shed_memory: process RSS in bytes at which new connections, then also new requests, are refused (reason
            ``shedding``); ``None``: memory is not watched.
        shed_loop_lag: event-loop lag in seconds (how late the watchdog's heartbeat ran) at which the same
            happens; ``None``: lag is not watched.
        shed_in_flight: the fraction of ``max_in_flight`` in use at which the same happens; ``None``: not
            watched. By default it only refuses new connections (at 90%): past the limit itself, requests that
            would run as tasks are refused anyway, and inline ones cost nearly nothing.
        shed_recover_ratio: shedding steps down a level once every signal has stayed below this fraction of the
            level's threshold for ``shed_recover_after`` seconds (hysteresis: no flapping).
        shed_recover_after: seconds of calm before shedding steps down one level.
        load_check_interval: seconds between samples of memory, lag and in-flight work.
        retry_after_ms: the retry hint of refusals whose limit has no precise one (a rate limit computes its
            own), in milliseconds; HTTP's ``Retry-After`` is this rounded up to whole seconds.
        max_refusing: refused connections that may wait at once for their client to close (a refusal is
            written, the connection half-closed and its input drained; one whose client has not closed yet
            waits up to 1 s in a small task, so that unread input cannot reset the answer away); past it a
            refused connection is closed right after its refusal is written.
        release_memory_after: hand freed memory back to the system (glibc ``malloc_trim``) when a busy period
            ends: open connections plus requests in flight fell to half their peak, by at least this many.
            ``None`` never does. How much comes back depends on the allocator (``runtime/memory.py``).
        gc_freeze_interval: seconds between moves of everything the garbage collector tracks into its permanent
            generation (``gc.freeze``), where no collection walks it and reference counting still frees it, so
            collections do not walk every open connection (``runtime/collector.py``; 236 ms pauses at 10,000
            connections without it). It is process-wide: ``None`` leaves the collector alone (an embedding
            application with its own policy).
        gc_thaw_interval: seconds between full passes over everything, frozen included, which reclaim garbage
            cycles among frozen objects (one pause as long as a full pass, at this interval); ``None``: never.
    """

    shards: int = 16
    shutdown_timeout: float = 5.0
    drain_timeout: float = 30.0
    memory_sample_interval: float = 5.0
    leak_mb_per_hour: float = 50.0
    intensity: int = 10
    period: float = 10.0
    accept_retry_delay: float = 0.1
    loop_lag_threshold: float | None = 0.25
    session_sweep_interval: float = 30.0
    park_idle_after: float | None = None
    max_connections: int | None = None
    soft_connections: int | None = None
    max_connections_per_shard: int | None = None
    accept_rate: float | None = None
    accept_burst: int = 1000
    handshake_timeout: float = 10.0
    max_in_flight: int = 10_000
    max_in_flight_per_shard: int | None = None
    max_listen_streams: int = 10_000
    connection_rate: float | None = None
    connection_burst: int = 100
    session_rate: float | None = None
    session_burst: int = 100
    client_rate: float | None = None
    client_burst: int = 1000
    max_clients_tracked: int = 100_000
    shed_memory: tuple[int, int] | None = None
    shed_loop_lag: tuple[float, float] | None = (1.0, 5.0)
    shed_in_flight: tuple[float, float] | None = (0.9, math.inf)
    shed_recover_ratio: float = 0.8
    shed_recover_after: float = 1.0
    load_check_interval: float = 0.25
    retry_after_ms: int = 1000
    max_refusing: int = 1024
    release_memory_after: int | None = 256
    gc_freeze_interval: float | None = 1.0
    gc_thaw_interval: float | None = 3600.0

    def __attrs_post_init__(self) -> None:
        if self.shards < 1:
            raise ValueError("shards must be positive")
        if self.intensity < 0:
            raise ValueError("intensity must not be negative")
        for name in (
            "shutdown_timeout",
            "drain_timeout",
            "leak_mb_per_hour",
            "accept_retry_delay",
            "retry_after_ms",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        for name in (
            "period",
            "session_sweep_interval",
            "handshake_timeout",
            "shed_recover_after",
            "load_check_interval",
            "memory_sample_interval",
        ):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be a positive number of seconds")
        for name in (
            "loop_lag_threshold",
            "accept_rate",
            "connection_rate",
            "session_rate",
            "client_rate",
            "park_idle_after",
            "gc_freeze_interval",
            "gc_thaw_interval",
        ):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be positive, or None")
        for name in (
            "max_connections",
            "soft_connections",
            "max_connections_per_shard",
            "max_in_flight_per_shard",
            "release_memory_after",
        ):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be positive, or None")
        for name in (
            "accept_burst",
            "max_in_flight",
            "max_listen_streams",
            "connection_burst",
            "session_burst",
            "client_burst",
            "max_clients_tracked",
            "max_refusing",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive")
        for name in ("shed_memory", "shed_loop_lag", "shed_in_flight"):
            pair = getattr(self, name)
            if pair is not None and not (0 < pair[0] <= pair[1]):
                raise ValueError(f"{name} must be (refuse connections at, refuse requests at), 0 < first <= second")
        if not 0 < self.shed_recover_ratio < 1:
            raise ValueError("shed_recover_ratio must be between 0 and 1")

    def connection_limit(self, descriptors: int) -> int:
        """``max_connections``, or 90% of ``descriptors`` (the process's file limit) when it is ``None``."""
        return self.max_connections if self.max_connections is not None else max(1, int(descriptors * 0.9))
