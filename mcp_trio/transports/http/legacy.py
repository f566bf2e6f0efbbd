"""The 2025-x session wire over HTTP: ``initialize`` mints a session; POST, GET and DELETE act on it.

Every POST carries one message of the session and is fed to ``ServerSession.receive``; the transport acts on
the event exactly as the stream transport does. A long-running request answers through a resumable SSE stream
(priming event first, for clients of 2025-11-25 or later) and runs in the server's nursery, so a broken
connection does not cancel it; ``notifications/cancelled`` does. Status codes follow the spec: no session id on
a non-initialize request is 400, an unknown or ended session is 404, and JSON-RPC errors of a live session are
ordinary 200 responses (a legacy client reads a 404 as "session gone").
"""

from __future__ import annotations

import inspect
import logging
from typing import Any, Final

import trio

from mcp_trio.protocol.errors import InvalidRequest, LocalProtocolError
from mcp_trio.protocol.events import (
    Answered,
    CancelRequested,
    ErrorReceived,
    RequestReceived,
    ResponseReceived,
    SessionInitialized,
)
from mcp_trio.protocol.jsonrpc import ErrorResponse, Message, Request, encode_message
from mcp_trio.protocol.session import ServerSession
from mcp_trio.transports.http.config import HttpConfig
from mcp_trio.transports.http.connection import HttpConnection, HttpRequest
from mcp_trio.transports.http.event_store import parse_event_id
from mcp_trio.transports.http.headers import LAST_EVENT_ID, MCP_SESSION_ID
from mcp_trio.transports.http.modern import error_of
from mcp_trio.transports.http.sessions import HttpSession, LegacyPeer, LegacyStream, SessionRegistry
from mcp_trio.transports.http.shared import McpServer
from mcp_trio.transports.http.sse import ResponseStream, sse_frame

__all__ = ["LegacyEndpoint"]

logger: Final = logging.getLogger("mcp_trio.http")
#: The first revision whose clients understand priming events (SEP-1699); older ones get no priming.
_PRIMING_SINCE: Final = "2025-11-25"


class LegacyEndpoint:
    """Legacy-session handling of one HTTP endpoint."""

    __slots__ = ("config", "registry", "server")

    def __init__(self, server: McpServer, config: HttpConfig, registry: SessionRegistry) -> None:
        self.server = server
        self.config = config
        self.registry = registry

    # ------------------------------------------------------------------ helpers

    async def _session(self, connection: HttpConnection, http: HttpRequest) -> HttpSession | None:
        """The request's session, or ``None`` after answering 400 (no id) or 404 (unknown or ended)."""
        session_id = http.headers.get(MCP_SESSION_ID)
        if session_id is None:
            error = InvalidRequest("missing Mcp-Session-Id header (send initialize first)")
            await connection.send_error(400, error)
            return None
        session = self.registry.get(session_id)
        if session is None:
            await connection.send_error(404, InvalidRequest("unknown or expired session: initialize again"))
            return None
        session.touch()
        return session

    async def _reply(self, connection: HttpConnection, message: Any, *, json: bool, headers: Any = ()) -> None:
        """One message as the whole response: JSON, or a one-event SSE stream for SSE-only clients."""
        data = encode_message(message)
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
        if header_version is not None and header_version not in self.server.profile.legacy_versions:
            error = InvalidRequest(f"unsupported MCP-Protocol-Version {header_version!r}")
            await connection.send_error(400, error)
            return
        session = await self._session(connection, http)
        if session is None:
            return
        try:
            event = session.core.receive(message)
        except LocalProtocolError:  # the session ended meanwhile
            await connection.send_error(404, InvalidRequest("session ended"))
            return
        kind = type(event)
        if kind is RequestReceived:
            await self._request(connection, session, event, header_version=header_version, json=json, sse=sse)  # type: ignore[arg-type]
            return
        if kind is Answered:
            await self._reply(connection, event.message, json=json)  # type: ignore[union-attr]
            return
        if kind is CancelRequested:
            session.cancel(event.id)  # type: ignore[union-attr]
        elif kind is ResponseReceived or kind is ErrorReceived:
            session.resolve(event)  # type: ignore[arg-type]
        elif kind is SessionInitialized:
            session.subscribe()
        await connection.send_response(202)

    async def _initialize(self, connection: HttpConnection, request: Request, *, json: bool) -> None:
        if self.registry.full:
            await connection.send_error(503, InvalidRequest("too many sessions"), request.id, [("retry-after", "1")])
            return
        core = ServerSession(self.server.profile)
        event = core.receive(request)
        assert isinstance(event, Answered)
        if isinstance(event.message, ErrorResponse):
            await self._reply(connection, event.message, json=json)
            return
        session = self.registry.create(core)
        await self._reply(connection, event.message, json=json, headers=[("mcp-session-id", session.id)])

    async def _request(
        self,
        connection: HttpConnection,
        session: HttpSession,
        event: RequestReceived,
        *,
        header_version: str | None,
        json: bool,
        sse: bool,
    ) -> None:
        core = session.core
        priming = sse and header_version is not None and header_version >= _PRIMING_SINCE
        stream = session.open_stream(resumable=priming)
        try:
            result = self.server.dispatcher.dispatch(core, LegacyPeer(session, stream), event)
        except Exception as exc:  # noqa: BLE001 - mapped to the JSON-RPC error the client sees
            stream.abandon()
            await self._reply(connection, core.respond_error(event.id, error_of(exc, event.method)), json=json)
            return
        if not inspect.iscoroutine(result):
            stream.abandon()
            await self._reply(connection, core.respond(event.id, result), json=json)
            return
        writer = ResponseStream(self.config.max_stream_buffer_bytes, live=sse)
        stream.attach(writer)
        scope = session.tasks[event.id] = trio.CancelScope()
        session.nursery.start_soon(_run, session, event, result, stream, scope)
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
        await self.registry.end(session)
        await connection.send_response(200)


async def _run(
    session: HttpSession, event: RequestReceived, work: Any, stream: LegacyStream, scope: trio.CancelScope
) -> None:
    """A legacy request's task (in the server's nursery): run the handler, then emit its answer."""
    core = session.core
    outcome: tuple[bool, Any] | None = None
    try:
        with scope:
            try:
                outcome = (True, await work)
            except Exception as exc:  # noqa: BLE001 - mapped to the JSON-RPC error the client sees
                outcome = (False, error_of(exc, event.method))
        if session.closed:
            stream.abandon()
            return
        if outcome is None:  # cancelled by the client: no answer is due
            core.forget(event.id)
            stream.abandon()
            return
        ok, value = outcome
        answer = core.respond(event.id, value) if ok else core.respond_error(event.id, value)
        if answer is None:
            stream.abandon()
            return
        await stream.emit(answer, final=True)
    except Exception:  # the task's top level: log, never take the server down
        logger.exception("legacy request %r of session %s failed", event.id, session.id)
        stream.abandon()
    finally:
        session.tasks.pop(event.id, None)
        session.touch()
