"""The application supervisor: the whole server as one OTP tree of Trio nurseries.

Theory of operation
-------------------
::

    mcp-trio [one_for_one]                  Runtime.run / open_runtime
    ├── housekeeping [one_for_one]          session expiry, deadlines, load, hangups, loop-lag watchdog, gc freezes
    ├── background [simple_one_for_one]     work that outlives requests (tasks extension)
    ├── shard-00 [one_for_all]              see runtime/shard.py
    │   ├── requests [simple_one_for_one]   one temporary child per running request
    │   ├── connections [simple_one_for_one] one temporary child per connection
    │   └── sessions                        legacy HTTP sessions of this shard
    ├── ...                                 RuntimeConfig.shards of them
    └── listener tcp://127.0.0.1:9000       one child per transport, added by add_listener

Children start in that order and stop in reverse: listeners first (no new connections), then shards (their
connections, sessions and requests), then background work and housekeeping. Every connection, whatever its
transport, becomes a temporary child of shard ``id % shards`` through ``spawn_connection``; a legacy HTTP
session lives in shard ``hash(id) % shards``. The runtime knows servers only as a ``SessionHost``
(``transports/port.py``), so the server layer builds on it without a cycle.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Final, Protocol

import attrs
import trio

from mcp_trio.protocol.errors import ServerBusy
from mcp_trio.runtime.admission import Admission
from mcp_trio.runtime.collector import GcFreezer
from mcp_trio.runtime.config import RuntimeConfig
from mcp_trio.runtime.memory import ReleasePolicy, release_free_memory, resident_bytes
from mcp_trio.runtime.shard import Shard, ShardStatistics
from mcp_trio.runtime.watchdog import LoopWatchdog
from mcp_trio.transports.hangups import HangupWatch
from mcp_trio.transports.port import HostedSession, SessionHost
from mcp_trio.transports.stream import StreamConnection
from supervision import (
    ChildHandle,
    ChildSpec,
    DynamicSupervisor,
    FailedToStartChild,
    Restart,
    Supervisor,
    format_tree,
    open_started,
)

__all__ = ["Runtime", "open_runtime", "Listener", "Connection"]


class Connection(Protocol):
    """What a framing makes of an accepted connection: run it as the connection's child task."""

    async def run(self) -> None: ...


class Listener(Protocol):
    """A transport's accept loop, run as a child of the application supervisor."""

    @property
    def name(self) -> str:
        """The child id, e.g. ``tcp://127.0.0.1:9000``."""

    async def serve(self, runtime: Runtime, *, task_status: trio.TaskStatus[Any]) -> None:
        """Bind, report what was bound with ``task_status.started``, then accept until cancelled.

        A listener may also carry ``restart`` (a ``supervision.Restart``; permanent when absent).
        """


class _Sessions:
    """The runtime's ``SessionTable``: legacy sessions by id, each in shard ``hash(id) % shards``."""

    __slots__ = ("_shards",)

    def __init__(self, shards: tuple[Shard, ...]) -> None:
        self._shards = shards

    def place_of(self, session_id: str) -> Shard:
        return self._shards[hash(session_id) % len(self._shards)]

    def add(self, session: HostedSession) -> None:
        self.place_of(session.id).sessions[session.id] = session

    def get(self, session_id: str) -> HostedSession | None:
        return self.place_of(session_id).sessions.get(session_id)

    async def end(self, session: HostedSession) -> None:
        table = self.place_of(session.id).sessions
        if table.get(session.id) is session:
            del table[session.id]
        await session.close()

    def __len__(self) -> int:
        return sum(len(shard.sessions) for shard in self._shards)


logger: Final = logging.getLogger("mcp_trio.runtime")
#: Framing classes by the transport name ``/health`` shows.
_TRANSPORT_OF: Final = {"StreamConnection": "ndjson", "HttpConnection": "http", "WebSocketConnection": "websocket"}


class _Ready:
    """Relays the application supervisor's readiness as the runtime's own."""

    __slots__ = ("runtime", "status")

    def __init__(self, runtime: Runtime, status: trio.TaskStatus[Runtime]) -> None:
        self.runtime = runtime
        self.status = status

    def started(self, value: object = None) -> None:
        self.status.started(self.runtime)


class Runtime:
    """The supervised runtime one server runs under (see the module docstring).

    Args:
        host: the server the connections' sessions talk to.
        config: shards, timeouts and intensity.
        name: the application supervisor's name.
    """

    def __init__(self, host: SessionHost, config: RuntimeConfig | None = None, *, name: str = "mcp-trio") -> None:
        self.host = host
        self.config = config = config if config is not None else RuntimeConfig()
        self.admission = Admission(config)
        self._listeners: list[str] = []  # listener child ids, in start order (``drain`` stops them)
        width = len(str(config.shards - 1))
        self.shards = tuple(Shard(index, self, config.shutdown_timeout, width) for index in range(config.shards))
        self.sessions = _Sessions(self.shards)
        self.background = DynamicSupervisor(name="background", shutdown=config.shutdown_timeout)
        self.watchdog: LoopWatchdog | None = None
        self.collector: GcFreezer | None = None
        #: Notices clients that close connections whose task is busy streaming a response (HTTP).
        self.hangups = HangupWatch()
        self.housekeeping = Supervisor(self._housekeeping_children(), name="housekeeping")
        grace = 2 * config.shutdown_timeout + 2.0
        self.app = Supervisor(
            [
                self.housekeeping.child_spec("housekeeping", shutdown=grace),
                self.background.child_spec("background", shutdown=grace),
                *(shard.supervisor.child_spec(shard.name, shutdown=grace) for shard in self.shards),
            ],
            intensity=config.intensity,
            period=config.period,
            name=name,
        )
        self._ids = itertools.count(1)

    def __repr__(self) -> str:
        return f"<Runtime {self.app.name!r} shards={len(self.shards)}>"

    def _housekeeping_children(self) -> list[ChildSpec]:
        children = [
            ChildSpec("session-expiry", self._expire_sessions, shutdown=1.0),
            ChildSpec("handshake-deadlines", self._enforce_handshakes, shutdown=1.0),
            ChildSpec("load-monitor", self._monitor_load, shutdown=1.0),
            ChildSpec("hangup-watch", self.hangups.run, shutdown=1.0),
        ]
        if self.config.gc_freeze_interval is not None:
            self.collector = GcFreezer(self.config.gc_freeze_interval, self.config.gc_thaw_interval)
            children.append(ChildSpec("gc-freezer", self.collector.run, shutdown=1.0))
        if self.config.park_idle_after is not None:
            children.append(ChildSpec("parking", self._park_idle, shutdown=1.0))
        threshold = self.config.loop_lag_threshold
        if threshold is not None:
            self.watchdog = LoopWatchdog(threshold)
            children.append(ChildSpec("loop-watchdog", self.watchdog.run, shutdown=1.0))
        return children

    # ------------------------------------------------------------------ running

    async def run(self, *, task_status: trio.TaskStatus[Runtime] = trio.TASK_STATUS_IGNORED) -> None:
        """Start the tree, report ready with ``self``, and supervise until cancelled; then stop it in order.

        Raises:
            supervision.SupervisorEscalation: children failed faster than the restart intensity allows.
        """
        await self.app.run(task_status=_Ready(self, task_status))

    async def add_listener(self, listener: Listener) -> Any:
        """Start a transport's accept loop as a permanent child; returns what it bound (e.g. ``(host, port)``).

        Raises:
            OSError: it could not bind (the address is in use, the path is not a socket, ...).
            supervision.FailedToStartChild: it failed to start for another reason.
        """
        try:
            return await self._start_listener(listener)
        except FailedToStartChild as exc:
            if isinstance(exc.cause, OSError):
                raise exc.cause from None
            raise

    def reconfigure(self, config: RuntimeConfig) -> tuple[list[str], list[str]]:
        """Adopt the limits of ``config`` that can change on a live runtime (``Admission.LIVE_KEYS``); returns
        (the keys changed now, the keys that differ but take effect only after a restart)."""
        old = self.config
        changed = [f.name for f in attrs.fields(type(config)) if getattr(old, f.name) != getattr(config, f.name)]
        live = [name for name in changed if name in Admission.LIVE_KEYS]
        later = [name for name in changed if name not in Admission.LIVE_KEYS]
        if live:
            adopted = attrs.evolve(old, **{name: getattr(config, name) for name in live})
            self.config = adopted
            self.admission.reconfigure(adopted)
        return live, later

    async def drain(self, seconds: float) -> bool:
        """Stop accepting and let the requests in flight finish, for at most ``seconds``; whether they all did.

        Every listener ends (new connections are refused by the kernel), ``subscriptions/listen`` streams end
        with their final result, and requests that would start now are refused with -32000, reason ``draining``
        (HTTP 503): nothing new is accepted, so nothing accepted is lost when the caller then stops the tree.
        """
        self.admission.draining = True
        for name in list(self._listeners):
            with contextlib.suppress(Exception):
                await self.app.terminate_child(name)
        hub = getattr(self.host, "hub", None)
        if hub is not None:
            hub.close()  # listen streams end now, with their final result, instead of being cut at the stop
        admission = self.admission
        with trio.move_on_after(seconds):
            while admission.in_flight:
                idle = trio.Event()
                admission.on_idle = idle.set
                await idle.wait()
        admission.on_idle = None
        await trio.lowlevel.checkpoint()
        return not admission.in_flight

    async def _start_listener(self, listener: Listener) -> Any:
        self._listeners.append(listener.name)
        return await self.app.start_child(
            ChildSpec(
                listener.name,
                lambda *, task_status: listener.serve(self, task_status=task_status),
                restart=getattr(listener, "restart", Restart.PERMANENT),
                shutdown=self.config.shutdown_timeout,
            )
        )

    # ------------------------------------------------------------------ connections

    def shard_of(self, connection_id: int) -> Shard:
        return self.shards[connection_id % len(self.shards)]

    def spawn_connection(self, open_connection: Callable[[int, Shard], Connection]) -> ChildHandle:
        """Make the next connection (``open_connection(id, shard)``) and run it as a child of its shard.

        No admission check: for connections the process opens itself (stdio, an embedding app's stream).
        Accepted connections go through ``accept``.

        Raises:
            supervision.SupervisorClosed: the shard is not running (stopping, or restarting after a failure).
        """
        connection_id = next(self._ids)
        return self._spawn(connection_id, self.shards[connection_id % len(self.shards)], open_connection)

    def accept(self, open_connection: Callable[[int, Shard], Connection]) -> ServerBusy | None:
        """Admit an accepted connection and run it as a child of its shard, or return why it is refused
        (the caller then answers the refusal and closes it)."""
        connection_id = next(self._ids)
        shard = self.shards[connection_id % len(self.shards)]
        refusal = self.admission.admit_connection(shard, trio.current_time())
        if refusal is not None:
            return refusal
        try:
            self._spawn(connection_id, shard, open_connection)
        except trio.ClosedResourceError:  # its shard is stopping or restarting
            return self.admission.refuse("shard_restarting", f"{shard.name} is restarting")
        return None

    def _spawn(
        self, connection_id: int, shard: Shard, open_connection: Callable[[int, Shard], Connection]
    ) -> ChildHandle:
        connection = open_connection(connection_id, shard)
        handle = shard.connections.start_child_nowait(connection.run, value=connection)
        if self.config.park_idle_after is not None and type(connection) is StreamConnection:
            connection.park_enabled = True
        shard.connection_table[connection_id] = connection
        kind = type(connection).__name__
        shard.by_kind[kind] = shard.by_kind.get(kind, 0) + 1
        self.admission.connection_opened()
        return handle

    def serve_stream(self, stream: trio.abc.Stream) -> ChildHandle:
        """Serve one newline-delimited JSON session over an already-open stream (an embedding app's own, or an
        in-memory stream in tests), as a connection child of its shard; returns the child's handle."""

        host = self.host
        return self.spawn_connection(lambda cid, shard: StreamConnection(host, stream, shard, cid))

    def connection(self, connection_id: int) -> Any:
        """The live connection with this id, or ``None`` (O(1): the id names its shard)."""
        return self.shard_of(connection_id).connection_table.get(connection_id)

    # ------------------------------------------------------------------ housekeeping

    async def _enforce_handshakes(self, *, task_status: trio.TaskStatus[None]) -> None:
        """Close connections and end sessions that did not complete their handshake in time."""
        task_status.started()
        interval = min(1.0, self.config.handshake_timeout / 4)
        while True:
            await trio.sleep(interval)
            now = trio.current_time()
            for shard in self.shards:
                if shard.handshakes:
                    await shard.enforce_handshakes(now)

    async def _monitor_load(self, *, task_status: trio.TaskStatus[None]) -> None:
        """Sample memory, loop lag and in-flight work for the load shedder; release memory after busy periods."""
        task_status.started()
        admission = self.admission
        after = self.config.release_memory_after
        release = ReleasePolicy(after) if after is not None else None
        while True:
            await trio.sleep(self.config.load_check_interval)
            watchdog = self.watchdog
            admission.sample(
                trio.current_time(),
                rss=resident_bytes() if self.config.shed_memory is not None else None,
                lag=watchdog.current_lag() if watchdog is not None else None,
            )
            if release is not None and release.update(admission.connections + admission.in_flight):
                before = resident_bytes()
                if release_free_memory():
                    logger.info("busy period over: RSS %.1f -> %.1f MiB", before / 2**20, resident_bytes() / 2**20)

    async def _expire_sessions(self, *, task_status: trio.TaskStatus[None]) -> None:
        task_status.started()
        interval = self.config.session_sweep_interval
        while True:
            await trio.sleep(interval)
            now = trio.current_time()
            for shard in self.shards:
                await shard.expire_sessions(now)

    async def _park_idle(self, *, task_status: trio.TaskStatus[None]) -> None:
        """Park the connections idle past ``park_idle_after`` (``Shard.park_idle``), a shard at a time."""
        after = self.config.park_idle_after
        assert after is not None
        task_status.started()
        while True:
            await trio.sleep(max(1.0, after / 2))
            if not self.hangups.available:
                continue
            for shard in self.shards:
                shard.park_idle(trio.current_time() - after)
                await trio.lowlevel.checkpoint()  # the sweep of 100,000 connections is not one long stall

    # ------------------------------------------------------------------ observing

    def overload(self) -> dict[str, object]:
        """Admission figures: connections against their limits, work in flight, shedding, refusals by reason."""
        return self.admission.statistics()

    def connections_by_transport(self) -> dict[str, int]:
        """Open connections by transport (``ndjson`` for stdio, TCP and Unix sockets; ``http``; ``websocket``)."""
        totals: dict[str, int] = {}
        for shard in self.shards:
            for kind, count in shard.by_kind.items():
                label = _TRANSPORT_OF.get(kind, kind)
                totals[label] = totals.get(label, 0) + count
        return totals

    def statistics(self) -> list[ShardStatistics]:
        """Per-shard figures (connections, requests, sessions, failures, abandoned children)."""
        return [shard.statistics() for shard in self.shards]

    def tree(self, *, limit: int = 100) -> dict[str, Any]:
        """The live tree as JSON-able data (``supervision.format_tree`` renders it)."""
        return self.app.tree(limit=limit)

    def format_tree(self, *, limit: int = 20) -> str:
        """The live tree as indented text, at most ``limit`` children listed per supervisor."""
        return format_tree(self.tree(limit=limit))

    def report(self) -> str:
        """What an operator asks for (``mcp-trio serve`` prints it on SIGUSR1): the tree, then one line per
        shard (connections, requests, sessions, failures, abandoned children) and the watchdog's figures."""
        tree = self.app.tree(limit=len(self.app.which_children()))
        for child in tree["children"]:  # every top-level child, but only the first shard's subtree
            if child["id"].startswith("shard-") and child["id"] != self.shards[0].name:
                child.pop("tree", None)
        lines = [format_tree(tree), "shards:"]
        lines.extend(
            f"  {figures.name}: {figures.connections} connections, {figures.requests} requests, "
            f"{figures.sessions} sessions, {figures.failed_connections} failed connections, "
            f"{figures.failed_requests} failed requests, {figures.abandoned} abandoned"
            for figures in self.statistics()
        )
        overload = self.admission.statistics()
        lines.append(
            f"admission: {overload['connections']}/{overload['max_connections']} connections, "
            f"{overload['in_flight']}/{overload['max_in_flight']} requests in flight, "
            f"{overload['listen_streams']} listen streams, shedding {overload['shedding']}, "
            f"refusals {overload['refusals'] or 'none'}"
        )
        if self.watchdog is not None:
            stats = self.watchdog.statistics()
            lines.append(
                f"loop watchdog: {stats.stalls} stalls over {stats.threshold * 1e3:.0f} ms, longest "
                f"{stats.longest_stall * 1e3:.0f} ms, last in {stats.last_stall_location or '-'}"
            )
        return "\n".join(lines)


@asynccontextmanager
async def open_runtime(
    host: SessionHost, config: RuntimeConfig | None = None, *, name: str = "mcp-trio"
) -> AsyncIterator[Runtime]:
    """Run a ``Runtime`` for the duration of the block (in the caller's nursery tree); leaving it stops it.

    Escalations arrive as themselves, not inside an ExceptionGroup.
    """
    runtime = Runtime(host, config, name=name)
    async with open_started(runtime.run):
        yield runtime
