"""Legacy (2025-x) sessions over HTTP: the session record, its resumable SSE streams, and the session table.

Theory of operation
-------------------
``initialize`` mints a session: a ``ServerSession`` (the sans-IO state machine) plus what HTTP adds. Every later
POST of the session is one message fed to ``core.receive``; a request whose handler runs long gets a
*stream*, numbered within the session, and runs in the server's nursery, not the connection's: on the legacy
wire a client that drops the connection has not cancelled anything, and resumes the stream later with ``GET``
and ``Last-Event-ID``.

A ``LegacyStream`` is the logical stream; a ``ResponseStream`` is one HTTP response currently writing it (its
*writer*), present only while a client is attached. Each event gets the id ``"<stream>-<seq>"`` and goes to the
session's event store and, when attached, to the writer. Resuming attaches a new writer first (so live events
queue behind), then replays the stored events between the client's last id and the attach point as the
response's preamble: nothing is lost or duplicated between the two. Stream 0 is the standalone ``GET`` stream
that carries list-changed and resource-updated notifications (from a hub ``Subscriber``) and server requests
that belong to no POST stream.

A session ends on ``DELETE``, after ``session_idle_timeout`` without traffic (a session with a running request or
an attached stream is never idle), or when the server stops: its tasks are cancelled, waiters released, the
subscriber removed and its events discarded.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any, Final

import msgspec
import trio

from mcp_trio.protocol.errors import LocalProtocolError, RemoteError
from mcp_trio.protocol.events import ErrorReceived, ResponseReceived
from mcp_trio.protocol.jsonrpc import Notification, Request, RequestId, encode_message
from mcp_trio.protocol.session import ServerSession
from mcp_trio.server.hub import PROMPTS, RESOURCES, TOOLS, NotificationHub, Subscriber
from mcp_trio.transports.http.config import HttpConfig
from mcp_trio.transports.http.event_store import EventStore, format_event_id
from mcp_trio.transports.http.sse import ResponseStream, retry_frame, sse_frame

__all__ = ["HttpSession", "LegacyStream", "LegacyPeer", "SessionRegistry", "STANDALONE"]

logger: Final = logging.getLogger("mcp_trio.http")
STANDALONE: Final = 0
_LIST_CHANGED: Final = frozenset({TOOLS, PROMPTS, RESOURCES})
_SESSION_ID_BYTES: Final = 24  # 192 bits of randomness, 32 URL-safe characters (all visible ASCII)


class _Waiter:
    """A server-to-client request awaiting its answer (which arrives in a later POST)."""

    __slots__ = ("event", "outcome")

    def __init__(self) -> None:
        self.event = trio.Event()
        self.outcome: ResponseReceived | ErrorReceived | None = None


class LegacyStream:
    """One resumable SSE stream of a session (see the module docstring)."""

    __slots__ = ("completed", "id", "next_seq", "resumable", "session", "writer")

    def __init__(self, session: HttpSession, stream_id: int, *, resumable: bool = True) -> None:
        self.session = session
        self.id = stream_id
        self.next_seq = 1  # 0 is the priming event's position: "before everything"
        self.writer: ResponseStream | None = None
        self.resumable = resumable  # events are stored (the client saw an event id it can resume from)
        self.completed = False

    def attached(self) -> bool:
        writer = self.writer
        return writer is not None and not writer.detached and not writer.ended

    def attach(self, writer: ResponseStream) -> int:
        """Make ``writer`` the live destination; returns the first sequence number it will receive."""
        self.writer = writer
        return self.next_seq

    def priming_frame(self, retry_ms: int) -> bytes:
        """The event that gives the client an id to resume from before anything else happened."""
        event_id = format_event_id(self.id, self.next_seq - 1).encode("ascii")
        return b"id: " + event_id + b"\nretry: %d\ndata: \n\n" % retry_ms

    async def emit(self, message: Any, *, final: bool = False) -> None:
        """Send one message on this stream: stored (if resumable), and written if a client is attached."""
        data = encode_message(message)
        seq = self.next_seq
        self.next_seq = seq + 1
        frame = sse_frame(data, format_event_id(self.id, seq))
        writer = self.writer
        if writer is not None and writer.detached:
            self.writer = writer = None
        if final:
            self._complete()
            if writer is not None:
                writer.finish(data, frame)
        elif writer is not None:
            writer.post(frame)
        if self.resumable:
            session = self.session
            await session.store.append(session.id, self.id, seq, data)
        if writer is not None and not final:
            await writer.wait_space()

    def post_nowait(self, message: Any) -> None:
        """Write a message to the attached client only (for what must go out without blocking)."""
        writer = self.writer
        if writer is not None:
            data = encode_message(message)
            writer.post(sse_frame(data))

    def close_early(self, retry_ms: int) -> bool:
        """End the current response after a ``retry:`` hint; later events wait in the store for a resume."""
        if not self.resumable or self.completed:
            return False
        writer, self.writer = self.writer, None
        if writer is not None:
            writer.end(retry_frame(retry_ms))
        return True

    def abandon(self) -> None:
        """The request ended without an answer to send (cancelled, or answered out of band)."""
        self._complete()
        if self.writer is not None:
            self.writer.end()

    def _complete(self) -> None:
        self.completed = True
        if self.id != STANDALONE:
            self.session.streams.pop(self.id, None)


class HttpSession:
    """One legacy session over HTTP (see the module docstring)."""

    __slots__ = (
        "closed",
        "config",
        "core",
        "hub",
        "id",
        "last_active",
        "next_stream",
        "nursery",
        "standalone",
        "store",
        "streams",
        "subscriber",
        "tasks",
        "waiters",
    )

    def __init__(
        self,
        session_id: str,
        core: ServerSession,
        config: HttpConfig,
        store: EventStore,
        hub: NotificationHub,
        nursery: trio.Nursery,
    ) -> None:
        self.id = session_id
        self.core = core
        self.config = config
        self.store = store
        self.hub = hub
        self.nursery = nursery
        self.last_active = trio.current_time()
        self.streams: dict[int, LegacyStream] = {}
        self.next_stream = 1
        self.standalone = LegacyStream(self, STANDALONE)
        self.tasks: dict[RequestId, trio.CancelScope] = {}
        self.waiters: dict[RequestId, _Waiter] = {}
        self.subscriber: Subscriber | None = None
        self.closed = False

    def touch(self) -> None:
        self.last_active = trio.current_time()

    def open_stream(self, *, resumable: bool) -> LegacyStream:
        stream = LegacyStream(self, self.next_stream, resumable=resumable)
        self.next_stream += 1
        self.streams[stream.id] = stream
        return stream

    def stream(self, stream_id: int) -> LegacyStream | None:
        """A live stream by id (the standalone stream, or a POST stream whose request still runs)."""
        return self.standalone if stream_id == STANDALONE else self.streams.get(stream_id)

    @property
    def busy(self) -> bool:
        """Running requests or attached clients keep a session alive regardless of idle time."""
        return bool(self.tasks) or self.standalone.attached() or any(s.attached() for s in self.streams.values())

    def resolve(self, outcome: ResponseReceived | ErrorReceived) -> None:
        """The client answered one of our requests."""
        waiter = self.waiters.pop(outcome.id, None)
        if waiter is not None:
            waiter.outcome = outcome
            waiter.event.set()

    def cancel(self, request_id: RequestId) -> None:
        scope = self.tasks.get(request_id)
        if scope is not None:
            scope.cancel()

    # ------------------------------------------------------------------ server notifications (stream 0)

    def subscribe(self) -> None:
        if self.subscriber is None and not self.closed:
            self.subscriber = Subscriber(_LIST_CHANGED, wake=self._wake)
            self.hub.add(self.subscriber)

    def _wake(self) -> None:
        if not self.closed:
            self.nursery.start_soon(self._deliver)

    async def _deliver(self) -> None:
        subscriber = self.subscriber
        if subscriber is None or self.closed:
            return
        try:
            for method, uri in subscriber.take():
                params = {"uri": uri} if uri is not None else msgspec.UNSET
                await self.standalone.emit(self.core.notify(method, params))
        except Exception:  # a task of its own: log rather than take the server down
            logger.exception("delivering notifications to session %s failed", self.id)

    # ------------------------------------------------------------------ ending

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.subscriber is not None:
            self.hub.remove(self.subscriber)
            self.subscriber.wake = None
            self.subscriber = None
        for scope in self.tasks.values():
            scope.cancel()
        for waiter in self.waiters.values():
            waiter.event.set()
        self.waiters.clear()
        for stream in [self.standalone, *self.streams.values()]:
            if stream.writer is not None:
                stream.writer.end()
        self.streams.clear()
        self.core.close()
        await self.store.discard(self.id)


class LegacyPeer:
    """The ``Peer`` of one legacy request: its messages go on its POST stream (or the standalone stream)."""

    __slots__ = ("_session", "_stream")

    def __init__(self, session: HttpSession, stream: LegacyStream) -> None:
        self._session = session
        self._stream = stream

    @property
    def nursery(self) -> trio.Nursery:
        """A nursery that outlives the request (the endpoint's), for work such as tasks."""
        return self._session.nursery

    @property
    def subscriber(self) -> Subscriber | None:
        """What ``resources/subscribe`` attaches URIs to."""
        return self._session.subscriber

    def _target(self) -> LegacyStream:
        """This request's stream, unless its client can never see it (JSON response, or gone for good)."""
        stream = self._stream
        if stream.resumable:
            return stream
        writer = stream.writer
        if writer is not None and writer.live and not writer.detached and not writer.ended:
            return stream
        return self._session.standalone

    async def send(self, message: Notification | Request) -> None:
        if self._session.closed:
            raise trio.BrokenResourceError("the session ended")
        await self._target().emit(message)

    async def ask(self, request: Request) -> Any:
        session = self._session
        waiter = session.waiters[request.id] = _Waiter()
        target = self._target()
        try:
            await self.send(request)
            await waiter.event.wait()
        finally:
            if waiter.outcome is None:
                session.waiters.pop(request.id, None)
                if not session.closed:
                    cancel = session.core.forget_request(request.id, "the server stopped waiting")
                    if cancel is not None:
                        target.post_nowait(cancel)
        outcome = waiter.outcome
        if outcome is None:
            raise trio.BrokenResourceError("the session ended before the client answered")
        if isinstance(outcome, ErrorReceived):
            raise RemoteError(outcome.error.code, outcome.error.message, outcome.error.data)
        return outcome.result

    async def close_stream(self, retry_ms: int | None = None) -> bool:
        await trio.lowlevel.checkpoint()
        retry = retry_ms if retry_ms is not None else self._session.config.sse_retry_ms
        return self._stream.close_early(retry)


class SessionRegistry:
    """Live legacy sessions by id, bounded by ``max_sessions``, swept for idleness."""

    __slots__ = ("_sessions", "config", "hub", "nursery", "store")

    def __init__(self, config: HttpConfig, store: EventStore, hub: NotificationHub, nursery: trio.Nursery) -> None:
        self.config = config
        self.store = store
        self.hub = hub
        self.nursery = nursery
        self._sessions: dict[str, HttpSession] = {}

    def __len__(self) -> int:
        return len(self._sessions)

    @property
    def full(self) -> bool:
        return len(self._sessions) >= self.config.max_sessions

    def create(self, core: ServerSession) -> HttpSession:
        if self.full:
            raise LocalProtocolError("session table full")
        session_id = secrets.token_urlsafe(_SESSION_ID_BYTES)
        session = HttpSession(session_id, core, self.config, self.store, self.hub, self.nursery)
        self._sessions[session_id] = session
        return session

    def get(self, session_id: str) -> HttpSession | None:
        return self._sessions.get(session_id)

    async def end(self, session: HttpSession) -> None:
        if self._sessions.get(session.id) is session:
            del self._sessions[session.id]
        await session.close()

    async def end_all(self) -> None:
        for session in list(self._sessions.values()):
            await self.end(session)

    async def sweep_forever(self) -> None:
        """End sessions idle for longer than ``session_idle_timeout``."""
        config = self.config
        while True:
            await trio.sleep(config.session_sweep_interval)
            cutoff = trio.current_time() - config.session_idle_timeout
            for session in list(self._sessions.values()):
                if session.last_active <= cutoff and not session.busy:
                    await self.end(session)
