"""The 2025-x session wire over HTTP: ``initialize`` mints a session; POST, GET and DELETE act on it.

Every POST carries one message of the session and is fed to the session driver (``SessionPort.receive``),
exactly as the stream framing feeds its messages. A request whose handler runs as a task answers through a
resumable SSE stream (priming event first, for clients of 2025-11-25 or later) and runs in the session's
shard, so a broken connection does not cancel it; ``notifications/cancelled`` does. Status codes follow the
spec: no session id on a non-initialize request is 400, an unknown or ended session is 404, and JSON-RPC
errors of a live session are ordinary 200 responses (a legacy client reads a 404 as "session gone").

With a ``session_store`` (``HttpConfig``), a session's negotiated state is saved whenever it changes (the
handshake, subscriptions, the log level) and forgotten on ``DELETE``; a session id this process does not hold is
looked up there and adopted before it would be a 404 (``session_store.py``).
"""

from __future__ import annotations

import logging
import secrets
from typing import Any, Final

from mcp_trio.protocol.errors import InvalidRequest, LocalProtocolError
from mcp_trio.protocol.jsonrpc import Message, Request
from mcp_trio.transports.http.config import HttpConfig
from mcp_trio.transports.http.connection import HttpConnection, HttpRequest
from mcp_trio.transports.http.event_store import EventStore, parse_event_id
from mcp_trio.transports.http.headers import LAST_EVENT_ID, MCP_SESSION_ID, retry_after
from mcp_trio.transports.http.sessions import HttpSession, LegacyStream, decode_export
from mcp_trio.transports.http.sse import ResponseStream, sse_frame
from mcp_trio.transports.port import RUNNING, SessionHost, SessionPort, SessionTable

__all__ = ["LegacyEndpoint"]

logger: Final = logging.getLogger("mcp_trio.http")
#: The first revision whose clients understand priming events (SEP-1699); older ones get no priming.
_PRIMING_SINCE: Final = "2025-11-25"
_SESSION_ID_BYTES: Final = 24  # 192 bits of randomness, 32 URL-safe characters (all visible ASCII)
#: Messages after which a session's saved state is stale (``initialize`` itself is saved by ``_initialize``).
_CHANGES_STATE: Final = frozenset(
    {"notifications/initialized", "resources/subscribe", "resources/unsubscribe", "logging/setLevel"}
)


class LegacyEndpoint:
    """Legacy-session handling of one HTTP endpoint.

    Args:
        host: the server that answers (its session driver does the MCP work).
        config: the endpoint's limits.
        sessions: where sessions live (the runtime's shards).
        store: where their events wait for resumes.
    """

    __slots__ = ("config", "host", "sessions", "store")

    def __init__(self, host: SessionHost, config: HttpConfig, sessions: SessionTable, store: EventStore) -> None:
        self.host = host
        self.config = config
        self.sessions = sessions
        self.store = store

    # ------------------------------------------------------------------ helpers

    async def _session(self, connection: HttpConnection, http: HttpRequest) -> HttpSession | None:
        """The request's session, or ``None`` after answering 400 (no id) or 404 (unknown or ended)."""
        session_id = http.headers.get(MCP_SESSION_ID)
        if session_id is None:
            error = InvalidRequest("missing Mcp-Session-Id header (send initialize first)")
            await connection.send_error(400, error)
            return None
        session = self.sessions.get(session_id)
        if session is None and self.config.session_store is not None:
            session = await self._restore(session_id)
        if not isinstance(session, HttpSession) or session.closed:
            await connection.send_error(404, InvalidRequest("unknown or expired session: initialize again"))
            return None
        session.touch()
        return session

    async def _restore(self, session_id: str) -> HttpSession | None:
        """Adopt a session this process does not hold from the session store, if it is kept there."""
        store = self.config.session_store
        assert store is not None
        state = await store.load(session_id)
        if state is None or len(self.sessions) >= self.config.max_sessions:
            return None
        held = self.sessions.get(session_id)  # another request for it may have adopted it meanwhile
        if held is not None:
            return held if isinstance(held, HttpSession) else None
        try:
            exported_id = decode_export(state)[0]
            if exported_id != session_id:
                raise InvalidRequest(f"the store returned session {exported_id!r} for {session_id!r}")
            return self.adopt(state)
        except InvalidRequest as error:
            logger.warning("session %s could not be restored from the session store: %s", session_id, error)
            return None

    async def _save(self, session: HttpSession) -> None:
        """Keep the session's state in the session store (when there is one, and the session is alive)."""
        store = self.config.session_store
        if store is not None and not session.closed and session.port is not None:
            await store.save(session.id, session.export())

    async def _reply(
        self, connection: HttpConnection, data: bytes, *, json: bool, headers: Any = (), refusal_ms: int | None = None
    ) -> None:
        """One encoded message as the whole response: JSON, or a one-event SSE stream for SSE-only clients.

        A refusal (``refusal_ms``: its retry hint) is always JSON: a 503 with ``Retry-After``.
        """
        if refusal_ms is not None:
            await connection.send_json(503, data, [*headers, retry_after(refusal_ms)])
            return
        if json:
            await connection.send_json(200, data, headers)
            return
        stream = ResponseStream(len(data) + 1)
        stream.finish(data, sse_frame(data))
        await connection.send_stream(stream, sse=True, headers=headers, lazy=False)

    # ------------------------------------------------------------------ POST

    async def post(
        self,
        connection: HttpConnection,
        http: HttpRequest,
        message: Message,
        *,
        header_version: str | None,
        json: bool,
        sse: bool,
    ) -> None:
        if isinstance(message, Request) and message.method == "initialize" and MCP_SESSION_ID not in http.headers:
            await self._initialize(connection, message, json=json)
            return
        if header_version is not None and header_version not in self.host.profile.legacy_versions:
            error = InvalidRequest(f"unsupported MCP-Protocol-Version {header_version!r}")
            await connection.send_error(400, error)
            return
        session = await self._session(connection, http)
        if session is None:
            return
        driver = session.driver
        if type(message) is Request and driver.in_flight >= self.host.limits.max_in_flight:
            detail = f"{self.host.limits.max_in_flight} requests in progress in this session"
            refusal = driver.refuse("session_in_flight", detail, message.id)
            await self._reply(connection, refusal, json=json, refusal_ms=driver.retry_after_ms)
            return
        try:
            reply = driver.receive(message)
        except LocalProtocolError:  # the session ended meanwhile
            await connection.send_error(404, InvalidRequest("session ended"))
            return
        if self.config.session_store is not None and getattr(message, "method", None) in _CHANGES_STATE:
            await self._save(session)
        if reply is RUNNING:
            assert isinstance(message, Request)
            await self._stream_request(connection, session, message, header_version=header_version, sse=sse)
        elif isinstance(reply, bytes):
            # JSON-RPC errors of a live session are ordinary 200s, except refusals: 503 + Retry-After.
            await self._reply(connection, reply, json=json, refusal_ms=_refusal_ms(driver))
        else:
            await connection.send_response(202)

    async def _initialize(self, connection: HttpConnection, request: Request, *, json: bool) -> None:
        session_id = secrets.token_urlsafe(_SESSION_ID_BYTES)
        if self.config.worker_id is not None:
            session_id = f"{self.config.worker_id}.{session_id}"  # the owner, for the other workers (forward.py)
        place = self.sessions.place_of(session_id)
        session = HttpSession(session_id, self.config, self.store)
        port = session.port = self.host.open_session(session, place)
        if len(self.sessions) >= self.config.max_sessions:
            detail = f"{self.config.max_sessions} sessions open"
            refusal = port.refuse("sessions", detail, request.id)
            port.close()
            await self._reply(connection, refusal, json=json, refusal_ms=port.retry_after_ms)
            return
        reply = port.receive(request)
        assert isinstance(reply, bytes)  # initialize is answered by the session itself
        if not port.established:  # refused (bad params, or shedding): no session
            port.close()
            await self._reply(connection, reply, json=json, refusal_ms=_refusal_ms(port))
            return
        port.limiter = place.limiter("session", lambda: connection.client)
        self.sessions.add(session)
        place.awaiting_handshake(session_id)
        await self._save(session)
        await self._reply(connection, reply, json=json, headers=[("mcp-session-id", session.id)])

    def adopt(self, exported: bytes) -> HttpSession:
        """Carry on a session another process exported (``HttpSession.export``): same id, same state.

        Raises:
            InvalidRequest: the bytes are not an exported session.
        """
        session_id, next_stream, snapshot = decode_export(exported)
        place = self.sessions.place_of(session_id)
        session = HttpSession(session_id, self.config, self.store)
        session.next_stream = next_stream
        session.port = self.host.open_session(session, place, snapshot)
        session.port.limiter = place.limiter("session", lambda: None)
        self.sessions.add(session)
        if not session.port.ready:
            place.awaiting_handshake(session_id)
        return session

    async def _stream_request(
        self,
        connection: HttpConnection,
        session: HttpSession,
        request: Request,
        *,
        header_version: str | None,
        sse: bool,
    ) -> None:
        """Answer a request that runs as a task: its stream (resumable for 2025-11-25+ SSE clients) is the response."""
        priming = sse and header_version is not None and header_version >= _PRIMING_SINCE
        stream = session.open_stream(request.id, resumable=priming)
        writer = ResponseStream(self.config.max_stream_buffer_bytes, live=sse)
        stream.attach(writer)
        preamble = stream.priming_frame(self.config.sse_retry_ms) if priming else b""
        await connection.send_stream(writer, sse=sse, preamble=preamble, lazy=not priming)

    # ------------------------------------------------------------------ GET and DELETE

    async def get(self, connection: HttpConnection, http: HttpRequest, *, header_version: str | None) -> None:
        session = await self._session(connection, http)
        if session is None:
            return
        last = http.headers.get(LAST_EVENT_ID)
        if last is None:
            priming = header_version is not None and header_version >= _PRIMING_SINCE
            await self._listen(connection, session, session.standalone, None, priming=priming)
            return
        position = parse_event_id(last)
        if position is None or position[0] >= session.next_stream:
            await connection.send_error(400, InvalidRequest(f"Last-Event-ID {last!r} is not an event of this session"))
            return
        stream_id, seq = position
        await self._listen(connection, session, session.stream(stream_id), (stream_id, seq), priming=False)

    async def _listen(
        self,
        connection: HttpConnection,
        session: HttpSession,
        stream: LegacyStream | None,
        resume: tuple[int, int] | None,
        *,
        priming: bool,
    ) -> None:
        """Attach to a stream (or replay a finished one) as an SSE response."""
        if stream is not None and stream.attached():
            await connection.send_error(409, InvalidRequest("this stream already has a client attached"))
            return
        writer = ResponseStream(self.config.max_stream_buffer_bytes)
        preamble = b""
        if stream is not None:
            boundary = stream.attach(writer)
            if priming:
                preamble = stream.priming_frame(self.config.sse_retry_ms)
        else:
            boundary = 1 << 62  # the request finished: everything left is in the store
            writer.end()
        if resume is not None:
            stream_id, after = resume
            events = await session.store.replay(session.id, stream_id, after, boundary)
            preamble = b"".join(sse_frame(data, f"{stream_id}-{seq}") for seq, data in events)
        await connection.send_stream(writer, sse=True, preamble=preamble, lazy=False)

    async def delete(self, connection: HttpConnection, http: HttpRequest) -> None:
        session = await self._session(connection, http)
        if session is None:
            return
        await self.sessions.end(session)
        if self.config.session_store is not None:
            await self.config.session_store.delete(session.id)
        await connection.send_response(200)


def _refusal_ms(port: SessionPort) -> int | None:
    """The retry hint of the port's last reply if it was a refusal (answered as 503), else ``None``."""
    return port.retry_after_ms if port.reply_status == 503 else None
