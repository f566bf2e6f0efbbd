"""The stateless 2026-07-28 wire over HTTP: one POST, one request, one answer.

Theory of operation: nothing outlives the POST. Checks run in the order the spec and the conformance suite
expect: the ``MCP-Protocol-Version`` header must agree with ``_meta`` (-32020), then the session layer validates
the request on its own (-32601 for unknown or removed methods, -32602 / -32022 for ``_meta``), then the routing
headers must agree with the body (-32020). A handler that answers synchronously is answered at once as JSON
(no task). A coroutine runs as a request of the connection's shard (through the session driver, like every
other transport's) while the response lasts: its notifications stream as SSE (started only once the first one
exists, so a handler that only returns or fails still gets JSON with a meaningful status), and a client that
closes the connection cancels it: on this wire a disconnect *is* a cancel.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, Final

import msgspec
import trio

from mcp_trio.protocol.errors import DECODE_ERRORS, HeaderMismatch, InvalidRequest, McpError
from mcp_trio.protocol.jsonrpc import Message, Notification, Request, RequestId
from mcp_trio.protocol.modern import META_PROTOCOL_VERSION
from mcp_trio.protocol.session import accept_modern_request
from mcp_trio.transports.http.connection import HttpConnection, HttpRequest
from mcp_trio.transports.http.headers import retry_after, validate_routing_headers
from mcp_trio.transports.http.sse import ResponseStream, sse_frame
from mcp_trio.transports.port import RUNNING, SessionHost

__all__ = ["ModernOutlet", "handle_modern_post", "loose_params", "meta_version"]

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


class ModernOutlet:
    """The ``PushOutlet`` of one modern request: everything goes on its own response stream.

    The stream is made only when the request runs as a task or pushes (``open_stream``): a request answered
    inline never needs one.

    Args:
        limit: bytes queued on the stream before the handler waits for the client.
        live: the client accepts SSE (otherwise only the final answer is sent, as JSON).
    """

    __slots__ = ("_limit", "_live", "_stream")

    def __init__(self, limit: int, live: bool) -> None:
        self._limit = limit
        self._live = live
        self._stream: ResponseStream | None = None

    def open_stream(self) -> ResponseStream:
        stream = self._stream
        if stream is None:
            stream = self._stream = ResponseStream(self._limit, live=self._live)
        return stream

    @property
    def _open(self) -> ResponseStream:
        stream = self._stream
        return stream if stream is not None else self.open_stream()

    async def send(self, data: bytes, origin: RequestId | None) -> None:
        await self._open.send(sse_frame(data))

    async def answer(self, request_id: RequestId, data: bytes, status: int) -> None:
        self._open.finish(data, sse_frame(data), status)
        await trio.lowlevel.checkpoint()

    def done(self, request_id: RequestId) -> None:
        self._open.end()  # ended without an answer (cancelled): the response ends too

    @property
    def room(self) -> bool:
        return self._open.room

    def push(self, data: bytes, origin: RequestId | None) -> None:
        self._open.post(sse_frame(data))

    def push_answer(self, request_id: RequestId, data: bytes, status: int) -> None:
        self._open.finish(data, sse_frame(data), status)

    def when_room(self, callback: Callable[[], None] | None) -> None:
        self._open.refill = callback

    async def close_stream(self, origin: RequestId, retry_ms: int | None) -> bool:
        await trio.lowlevel.checkpoint()
        return False  # no resumability on this wire


async def handle_modern_post(
    host: SessionHost,
    connection: HttpConnection,
    http: HttpRequest,
    message: Message,
    *,
    header_version: str | None,
    sse: bool,
    stream_limit: int,
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
                f"MCP-Protocol-Version header {header_version!r} differs from _meta version {_shown(body_version)}"
            )
        event = accept_modern_request(host.profile, request)
        schema = None
        if request.method == "tools/call" and params is not None:
            name = params.get("name")
            schema = host.input_schema(name) if isinstance(name, str) else None
        validate_routing_headers(http.headers, request.method, params, schema)
    except McpError as error:
        await connection.send_error(error.http_status, error, request.id)
        return
    outlet = ModernOutlet(stream_limit, sse)
    port = host.open_session(outlet, connection.place)
    port.limiter = connection.limiter()
    reply = port.run(event)
    if isinstance(reply, bytes):  # answered inline: the session holds nothing more
        status = port.reply_status
        await connection.send_json(status, reply, [retry_after(port.retry_after_ms)] if status == 503 else ())
        return
    if reply is not RUNNING:  # no answer is due
        await connection.send_response(202)
        return
    request_id = request.id
    # The response may last for hours (a listen stream): keep nothing the request no longer needs.
    del params, event, request, message, schema
    try:
        stream = outlet.open_stream()  # before the task first runs (a pushing request has it already)
        await connection.send_stream(stream, sse=sse, on_gone=lambda: port.cancel(request_id))
    finally:
        port.close()  # nothing outlives the POST


def _shown(value: object) -> str:
    """A peer's JSON value in an error message: strings as they are, anything else by type (a deeply nested
    list would make ``repr`` itself fail)."""
    return repr(value) if isinstance(value, str | int | float | bool) else f"a JSON {type(value).__name__}"
