"""The stateless 2026-07-28 wire over HTTP: one POST, one request, one answer.

Theory of operation: nothing outlives the POST. Checks run in the order the spec and the conformance suite
expect: the ``MCP-Protocol-Version`` header must agree with ``_meta`` (-32020), then the session layer validates
the request on its own (-32601 for unknown or removed methods, -32602 / -32022 for ``_meta``), then the routing
headers must agree with the body (-32020). A handler that answers synchronously is answered at once as JSON
(no task). A coroutine runs in a nursery that lives as long as the response: its notifications stream as SSE
(started only once the first one exists, so a handler that only returns or fails still gets JSON with a
meaningful status), and a client that closes the connection cancels it: on this wire a disconnect *is* a cancel.
Server-to-client requests do not exist here; the peer refuses them.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Mapping
from typing import Any, Final

import msgspec
import trio

from mcp_trio.protocol.errors import (
    DECODE_ERRORS,
    HeaderMismatch,
    InvalidRequest,
    LocalProtocolError,
    McpError,
    error_from_exception,
)
from mcp_trio.protocol.events import RequestReceived
from mcp_trio.protocol.jsonrpc import Message, Notification, Request, encode_message
from mcp_trio.protocol.modern import META_PROTOCOL_VERSION
from mcp_trio.protocol.session import ServerSession, accept_modern_request
from mcp_trio.transports.http.connection import HttpConnection, HttpRequest
from mcp_trio.transports.http.headers import validate_routing_headers
from mcp_trio.transports.http.shared import McpServer
from mcp_trio.transports.http.sse import ResponseStream, sse_frame

__all__ = ["ModernPeer", "handle_modern_post", "loose_params", "meta_version", "error_of"]

logger: Final = logging.getLogger("mcp_trio.http")
_loose: Final = msgspec.json.Decoder()


def loose_params(params: Any) -> dict[str, Any] | None:
    """A message's raw ``params`` as plain JSON, or ``None`` when absent or not an object."""
    if not isinstance(params, msgspec.Raw):
        return None
    try:
        value = _loose.decode(params)
    except DECODE_ERRORS:
        return None
    return value if isinstance(value, dict) else None


def meta_version(params: Mapping[str, Any] | None) -> object:
    """``params._meta[protocolVersion]``, or ``None`` when the body names no version."""
    meta = params.get("_meta") if params is not None else None
    return meta.get(META_PROTOCOL_VERSION) if isinstance(meta, dict) else None


class ModernPeer:
    """The ``Peer`` of one modern request: notifications go on its own response stream, nothing else.

    Args:
        stream: the request's response stream.
        nursery: a nursery that outlives the request (the endpoint's), for work such as tasks.
    """

    __slots__ = ("_stream", "nursery")
    subscriber = None

    def __init__(self, stream: ResponseStream, nursery: trio.Nursery) -> None:
        self._stream = stream
        self.nursery = nursery

    async def send(self, message: Notification) -> None:
        if type(message) is not Notification:
            raise LocalProtocolError("the 2026-07-28 wire carries no server-to-client requests")
        await self._stream.send(sse_frame(encode_message(message)))

    async def ask(self, request: Request) -> Any:
        raise LocalProtocolError("the 2026-07-28 wire has no server-to-client requests (use input requests)")

    async def close_stream(self, retry_ms: int | None = None) -> bool:
        await trio.lowlevel.checkpoint()
        return False  # no resumability on this wire


async def handle_modern_post(
    server: McpServer,
    connection: HttpConnection,
    http: HttpRequest,
    message: Message,
    *,
    header_version: str | None,
    sse: bool,
    stream_limit: int,
    nursery: trio.Nursery,
) -> None:
    """Answer one modern POST (see the module docstring)."""
    if type(message) is Notification:
        try:
            validate_routing_headers(http.headers, message.method, None)
        except HeaderMismatch as error:
            await connection.send_error(error.http_status, error)
            return
        await connection.send_response(202)
        return
    if not isinstance(message, Request):
        refusal = InvalidRequest("the 2026-07-28 wire carries no responses from the client")
        await connection.send_error(refusal.http_status, refusal)
        return
    request = message
    params = loose_params(request.params)
    try:
        body_version = meta_version(params)
        if header_version is not None and body_version is not None and header_version != body_version:
            raise HeaderMismatch(
                f"MCP-Protocol-Version header {header_version!r} differs from _meta version {body_version!r}"
            )
        event = accept_modern_request(server.profile, request)
        schema = None
        if request.method == "tools/call" and params is not None:
            tool = server.tools.get(params.get("name"))  # type: ignore[arg-type]
            schema = tool.tool.input_schema if tool is not None else None
        validate_routing_headers(http.headers, request.method, params, schema)
    except McpError as error:
        await connection.send_error(error.http_status, error, request.id)
        return
    session = ServerSession(server.profile)
    session.track(event)
    stream = ResponseStream(stream_limit, live=sse)
    try:
        result = server.dispatcher.dispatch(session, ModernPeer(stream, nursery), event)
    except Exception as exc:  # noqa: BLE001 - mapped to the JSON-RPC error the client sees
        await _answer_error(connection, session, event, exc)
        return
    if not inspect.iscoroutine(result):
        answer = session.respond(event.id, result)
        await connection.send_json(200, encode_message(answer))
        return
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_run, session, event, result, stream)
        await connection.send_stream(stream, sse=sse, on_gone=nursery.cancel_scope.cancel)


def error_of(exc: Exception, method: str) -> McpError:
    """The JSON-RPC error for a handler's exception (unexpected ones are logged, never leaked)."""
    if not isinstance(exc, McpError | msgspec.ValidationError):
        logger.error("handler for %s failed", method, exc_info=exc)
    return error_from_exception(exc)


async def _answer_error(
    connection: HttpConnection, session: ServerSession, event: RequestReceived, exc: Exception
) -> None:
    error = error_of(exc, event.method)
    answer = session.respond_error(event.id, error)
    await connection.send_json(error.http_status, encode_message(answer))


async def _run(session: ServerSession, event: RequestReceived, work: Any, stream: ResponseStream) -> None:
    """Run a handler and finish its response stream with the answer."""
    status = 200
    try:
        answer: Any = session.respond(event.id, await work)
    except Exception as exc:  # noqa: BLE001 - mapped to the JSON-RPC error the client sees
        error = error_of(exc, event.method)
        status = error.http_status
        answer = session.respond_error(event.id, error)
    if answer is None:
        stream.end()
        return
    data = encode_message(answer)
    stream.finish(data, sse_frame(data), status)
