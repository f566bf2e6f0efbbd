"""The WebSocket upgrade, both sides: an HTTP/1.1 request answered by ``101 Switching Protocols``.

Theory of operation: the server reads the request head with h11 (bounded: ``max_handshake_bytes``, else 431),
checks what is ours to check, cheapest first, as the HTTP transport does: the path (404), ``Host`` (421) and
``Origin`` (403, DNS rebinding: ``http.security.OriginPolicy``); then wsproto checks the WebSocket headers
(method, ``Connection``, ``Upgrade``, version: 400 or 426) and the subprotocol is chosen: ``mcp`` when the
client offers it, none when the client offers none, and a 400 when it offers only others. A refusal is an HTTP
response whose body is a JSON-RPC error (the HTTP transport's shape). Parsing the head ourselves, then handing
it to wsproto's ``initiate_upgrade_connection``, keeps frames a client sends right behind its request (which
wsproto's own server handshake would drop) and lets us bound the head. Time is bounded by the caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import h11
import trio
from wsproto.connection import Connection, ConnectionType
from wsproto.events import AcceptConnection, RejectConnection, RejectData, Request
from wsproto.handshake import H11Handshake
from wsproto.utilities import RemoteProtocolError

from mcp_trio.protocol.errors import InvalidRequest, McpError, RemoteError
from mcp_trio.protocol.jsonrpc import ErrorResponse, decode_message, encode_message, error_response
from mcp_trio.transports.http.response_head import response_head
from mcp_trio.transports.http.security import OriginPolicy
from mcp_trio.transports.ws_config import SUBPROTOCOL

__all__ = ["UpgradePolicy", "accept_upgrade", "request_upgrade", "rejection"]

_JSON: Final = ("content-type", "application/json")
#: Bytes of a refusal's body a client keeps to explain it.
_MAX_REJECTION_BODY: Final = 64 * 1024
#: The JSON-RPC code of a refused upgrade without a JSON-RPC error of its own (as the HTTP client's failures).
_UPGRADE_FAILED: Final = -32603


class UpgradePolicy:
    """What one WebSocket endpoint accepts.

    Args:
        path: the endpoint's path (the query is ignored).
        origins: the ``Host`` and ``Origin`` values accepted.
        max_head_bytes: the largest request head.
    """

    __slots__ = ("max_head_bytes", "origins", "path")

    def __init__(self, path: str, origins: OriginPolicy, max_head_bytes: int) -> None:
        self.path = path
        self.origins = origins
        self.max_head_bytes = max_head_bytes

    def check(self, request: h11.Request) -> bytes | None:
        """The refusal of a request that is not for us (a whole HTTP response), or ``None``."""
        target = request.target.decode("ascii", "replace").partition("?")[0]
        if target != self.path:
            return rejection(404, f"no MCP endpoint at {target!r}")
        host = origin = None
        for name, value in request.headers:
            if name == b"host":
                host = value.decode("latin-1")
            elif name == b"origin":
                origin = value.decode("latin-1")
        if not self.origins.host_allowed(host):
            return rejection(421, "Host header not allowed")
        if not self.origins.origin_allowed(origin):
            return rejection(403, "Origin not allowed")
        return None


def rejection(status: int, message: str, headers: Sequence[tuple[str, str]] = ()) -> bytes:
    """An HTTP response refusing an upgrade, with the reason as a JSON-RPC error body."""
    body = encode_message(error_response(InvalidRequest(message)))
    return response_head(status, [_JSON, *headers], len(body), close=True) + body


async def accept_upgrade(stream: trio.abc.Stream, policy: UpgradePolicy, receive_size: int) -> Connection | None:
    """Read a client's upgrade request and answer it: the open WebSocket, or ``None`` after an HTTP refusal (or
    when the client left). The caller bounds the time it may take.

    Raises:
        trio.BrokenResourceError, trio.ClosedResourceError: the stream broke.
    """
    parser = h11.Connection(h11.SERVER, max_incomplete_event_size=policy.max_head_bytes)
    received = 0
    while True:
        try:
            event = parser.next_event()
        except h11.RemoteProtocolError as exc:
            await stream.send_all(rejection(exc.error_status_hint, f"malformed upgrade request: {exc}"))
            return None
        if event is not h11.NEED_DATA:
            break
        data = await stream.receive_some(receive_size)
        received += len(data)
        parser.receive_data(bytes(data))
    if not isinstance(event, h11.Request):
        return None  # the client left before its request was complete
    if received - len(parser.trailing_data[0]) > policy.max_head_bytes:  # h11 caps only a head still arriving
        await stream.send_all(rejection(431, f"the upgrade request is over {policy.max_head_bytes} bytes"))
        return None
    refusal = policy.check(event)
    if refusal is not None:
        await stream.send_all(refusal)
        return None
    handshake = H11Handshake(ConnectionType.SERVER)
    try:
        handshake.initiate_upgrade_connection(list(event.headers), event.target)
        request = next(handshake.events())
    except RemoteProtocolError as exc:
        hint = exc.event_hint
        status, extra = 400, []
        if isinstance(hint, RejectConnection):
            status = hint.status_code
            extra = [(bytes(name).decode("latin-1"), bytes(value).decode("latin-1")) for name, value in hint.headers]
        await stream.send_all(rejection(status, f"not a WebSocket upgrade: {exc}", extra))
        return None
    assert isinstance(request, Request)
    offered = request.subprotocols
    if offered and SUBPROTOCOL not in offered:
        await stream.send_all(rejection(400, f"this endpoint speaks the {SUBPROTOCOL!r} subprotocol only"))
        return None
    answer = handshake.send(AcceptConnection(subprotocol=SUBPROTOCOL if offered else None))
    connection = handshake.connection
    assert connection is not None
    early = parser.trailing_data[0]  # frames sent right behind the request
    if early:
        connection.receive_data(early)
    await stream.send_all(answer)
    return connection


async def request_upgrade(
    stream: trio.abc.Stream, authority: str, target: str, headers: Sequence[tuple[str, str]], receive_size: int
) -> Connection:
    """Ask a server to upgrade to a WebSocket offering the ``mcp`` subprotocol; the open WebSocket. The caller
    bounds the time it may take.

    Raises:
        RemoteError: the server refused (its JSON-RPC error, or one naming the HTTP status).
        ConnectionError: the server's answer is not an upgrade, or it closed the connection.
    """
    handshake = H11Handshake(ConnectionType.CLIENT)
    extra = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers]
    await stream.send_all(
        handshake.send(Request(host=authority, target=target, subprotocols=[SUBPROTOCOL], extra_headers=extra))
    )
    status = 0
    body = bytearray()
    while True:
        data = await stream.receive_some(receive_size)
        try:
            handshake.receive_data(bytes(data) if data else None)
        except RemoteProtocolError as exc:
            raise ConnectionError(f"the server's answer to the WebSocket upgrade is not HTTP: {exc}") from None
        for event in handshake.events():
            if isinstance(event, AcceptConnection):
                connection = handshake.connection
                assert connection is not None
                return connection
            if isinstance(event, RejectConnection):
                status = event.status_code
                if not event.has_body:
                    raise _refused(status, b"")
            elif isinstance(event, RejectData):
                if len(body) < _MAX_REJECTION_BODY:
                    body += event.data
                if event.body_finished:
                    raise _refused(status, bytes(body))
        if not data:
            if status:
                raise _refused(status, bytes(body))
            raise ConnectionError("the server closed the connection during the WebSocket upgrade")


def _refused(status: int, body: bytes) -> RemoteError:
    """A refused upgrade as the error ``open_client`` raises: the body's JSON-RPC error if it has one."""
    try:
        message = decode_message(body) if body else None
    except McpError:
        message = None
    if isinstance(message, ErrorResponse):
        return RemoteError(message.error.code, message.error.message, message.error.data)
    return RemoteError(_UPGRADE_FAILED, f"HTTP {status} from the server: the WebSocket upgrade was refused")
