"""A shard: one partition of the runtime's connections, with the supervisors and tables that hold them.

Theory of operation
-------------------
A shard is an OTP ``one_for_all`` supervisor of three children, started in this order and stopped in reverse:

* ``requests``: a dynamic supervisor whose temporary children are the requests (and notification deliveries)
  of this shard's sessions. A child's handle is its request's cancel scope. A handler that ignores
  cancellation is abandoned after ``shutdown_timeout``: logged, counted, left to end on its own.
* ``connections``: a dynamic supervisor whose temporary children are the connections hashed here (one task
  each, no scope of their own: shutdown cancels them together).
* ``sessions``: a worker that owns this shard's legacy HTTP sessions; stopping it ends them.

If one of them fails (a bug in our code, never a handler's or a peer's doing) the shard restarts all three:
the connections and sessions it held are gone, every other shard's keep running. The tables make a
connection id or a session id lead to its object in O(1): the id picks the shard, a dict in the shard holds it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

import trio

from mcp_trio.transports.lean_socket import LeanSocketStream
from mcp_trio.transports.port import HostedSession
from mcp_trio.transports.stream import StreamConnection
from supervision import ChildSpec, DynamicSupervisor, Strategy, Supervisor

if TYPE_CHECKING:
    from mcp_trio.runtime.admission import Admission, Limiter
    from mcp_trio.runtime.application import Runtime

__all__ = ["Shard", "ShardStatistics"]

logger: Final = logging.getLogger("mcp_trio.runtime")


class ShardStatistics:
    """Current figures of one shard (a plain record; ``as_dict`` for JSON)."""

    __slots__ = (
        "abandoned",
        "connections",
        "failed_connections",
        "failed_requests",
        "in_flight",
        "name",
        "requests",
        "sessions",
    )

    def __init__(self, shard: Shard) -> None:
        connections = shard.connections.statistics()
        requests = shard.requests.statistics()
        self.name = shard.name
        self.connections = len(shard.connection_table)
        self.requests = requests.active
        self.in_flight = shard.in_flight
        self.sessions = len(shard.sessions)
        self.failed_connections = connections.exits_abnormal
        self.failed_requests = requests.exits_abnormal
        self.abandoned = connections.abandoned + requests.abandoned

    def as_dict(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.__slots__}


class Shard:
    """One partition of the runtime (see the module docstring).

    Args:
        index: its position; connection ``id % shards == index`` lives here.
        runtime: the runtime it belongs to (handlers reach the background supervisor through it).
        shutdown_timeout: seconds its children get to stop before being abandoned.
        width: digits in its name (``shard-07`` among 16).
    """

    def __init__(self, index: int, runtime: Runtime, shutdown_timeout: float, width: int = 2) -> None:
        self.index = index
        self.runtime = runtime
        self.name = f"shard-{index:0{width}d}"
        self.requests = DynamicSupervisor(name=f"{self.name}/requests", shutdown=shutdown_timeout)
        self.connections = DynamicSupervisor(
            name=f"{self.name}/connections", shutdown=shutdown_timeout, terminable=False
        )
        #: Live connections by id, and legacy HTTP sessions by id.
        self.connection_table: dict[int, Any] = {}
        #: Open connections by framing class (``/health`` shows them by transport), kept as they open and close.
        self.by_kind: dict[str, int] = {}
        self.sessions: dict[str, HostedSession] = {}
        #: Connections idle long enough to have given up their task (``RuntimeConfig.park_idle_after``), by id:
        #: the runtime's readiness watcher gives them one again when input arrives.
        self.parking_lot: dict[int, StreamConnection] = {}
        #: Connections and legacy sessions still owing their handshake, with its deadline (trio time).
        self.handshakes: dict[int | str, float] = {}
        #: Requests of this shard running as tasks (``Admission.admit_task``).
        self.in_flight = 0
        self.admission: Admission = runtime.admission
        # A sub-supervisor that cannot finish stopping (a child ignoring cancellation) is abandoned after a
        # grace period, so the shard's other children still get stopped.
        grace = 2 * shutdown_timeout + 1.0
        # With parking on, a child that closes the parked connections comes first, so it stops last: a
        # connection parked while the others stopped is still closed.
        parking = runtime.config.park_idle_after is not None
        self.supervisor = Supervisor(
            [
                *([ChildSpec("parked", self._own_parked, shutdown=grace)] if parking else []),
                self.requests.child_spec("requests", shutdown=grace),
                self.connections.child_spec("connections", shutdown=grace),
                ChildSpec("sessions", self._own_sessions, shutdown=grace),
            ],
            strategy=Strategy.ONE_FOR_ALL,
            name=self.name,
        )

    def __repr__(self) -> str:
        return f"<Shard {self.name} connections={len(self.connection_table)} sessions={len(self.sessions)}>"

    # ------------------------------------------------------------------ connections

    def forget_connection(self, connection_id: int) -> None:
        """A connection ended (``Place``): drop it from the tables."""
        connection = self.connection_table.pop(connection_id, None)
        if connection is not None:
            self.admission.connection_closed()
            kind = type(connection).__name__
            left = self.by_kind.get(kind, 1) - 1
            if left > 0:
                self.by_kind[kind] = left
            else:
                self.by_kind.pop(kind, None)
        self.handshakes.pop(connection_id, None)

    def awaiting_handshake(self, key: int | str) -> None:
        """A connection (by id) or a legacy session (by id) must complete its handshake in time (``Place``)."""
        self.handshakes[key] = trio.current_time() + self.runtime.config.handshake_timeout

    def limiter(self, kind: str, client: Callable[[], str | None]) -> Limiter | None:
        """The rate limits of a new connection or session here (``Place``); ``None`` when none applies."""
        return self.admission.limiter(kind, client)

    async def enforce_handshakes(self, now: float) -> int:
        """End the connections and sessions whose handshake is overdue at ``now``; returns how many."""
        overdue: list[int | str] = []
        for key, deadline in list(self.handshakes.items()):
            owner = self.connection_table.get(key) if isinstance(key, int) else self.sessions.get(key)
            if owner is None or owner.ready:
                del self.handshakes[key]  # gone, or done: nothing to enforce
            elif deadline <= now:
                overdue.append(key)
        timeout = self.runtime.config.handshake_timeout
        for key in overdue:
            self.handshakes.pop(key, None)
            error = self.admission.refuse("handshake", f"the handshake was not completed within {timeout:g}s")
            if isinstance(key, int):
                connection = self.connection_table.get(key)
                if connection is not None:
                    await connection.abort(error)
            else:
                session = self.sessions.pop(key, None)
                if session is not None:
                    await session.close()
        return len(overdue)

    # ------------------------------------------------------------------ sessions

    # ------------------------------------------------------------------ parked connections

    def park_idle(self, idle_before: float) -> int:
        """Park the connections waiting for input since before ``idle_before``; returns how many were asked."""
        asked = 0
        for connection in self.connection_table.values():
            if type(connection) is StreamConnection and connection.parkable(idle_before):
                connection.park()
                asked += 1
        return asked

    def parked(self, connection: StreamConnection) -> None:
        """A connection's task ended to park it (called from that task): wake it on input or a close."""
        hangups = self.runtime.hangups
        if not hangups.available or connection.closed:
            self._unpark(connection)
            return
        self.parking_lot[connection.id] = connection
        hangups.watch(_descriptor(connection), lambda: self._unpark(connection), readable=True)

    def _unpark(self, connection: StreamConnection) -> None:
        """Give a parked connection a task again (input or a close arrived, or the watcher is going away)."""
        self.parking_lot.pop(connection.id, None)
        try:
            self.connections.start_child_nowait(connection.run, value=connection)
        except trio.ClosedResourceError:  # the shard is stopping: ``_own_parked`` closes what is left
            self.parking_lot[connection.id] = connection

    async def _own_parked(self, *, task_status: trio.TaskStatus[None]) -> None:
        """Close the parked connections when the shard stops (they have no task the stop could cancel)."""
        task_status.started()
        try:
            await trio.sleep_forever()
        finally:
            with trio.CancelScope(shield=True):
                parked = list(self.parking_lot.values())
                self.parking_lot.clear()
                for connection in parked:
                    self.runtime.hangups.unwatch(_descriptor(connection))
                    await connection.close_parked()

    async def _own_sessions(self, *, task_status: trio.TaskStatus[None]) -> None:
        """Hold this shard's legacy sessions; when the shard stops (or restarts) they end with it."""
        task_status.started()
        try:
            await trio.sleep_forever()
        finally:
            with trio.CancelScope(shield=True):
                await self.end_sessions()

    async def end_sessions(self) -> None:
        sessions = list(self.sessions.values())
        self.sessions.clear()
        for session in sessions:
            try:
                await session.close()
            except Exception:  # one session's cleanup must not stop the others'
                logger.exception("ending session %s failed", session.id)

    async def expire_sessions(self, now: float) -> int:
        """End the sessions idle past their timeout at ``now``; returns how many."""
        expired = [session for session in self.sessions.values() if session.expired(now)]
        for session in expired:
            if self.sessions.get(session.id) is session:
                del self.sessions[session.id]
            try:
                await session.close()
            except Exception:
                logger.exception("ending session %s failed", session.id)
        return len(expired)

    # ------------------------------------------------------------------ observing

    def statistics(self) -> ShardStatistics:
        return ShardStatistics(self)


def _descriptor(connection: StreamConnection) -> int:
    """The socket of a parkable connection (``parkable`` checked that its stream is a ``LeanSocketStream``)."""
    stream = connection.stream
    assert isinstance(stream, LeanSocketStream)
    return stream.socket.fileno()
