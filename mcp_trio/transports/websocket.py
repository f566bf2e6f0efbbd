"""MCP over WebSocket, a custom transport (SEP-1288): subprotocol ``mcp``, one JSON-RPC message per text frame.

Theory of operation
-------------------
A WebSocket connection is the stream framing, ``StreamConnection``, with WebSocket frames for lines: the same
task reads, feeds the session, enforces the in-flight limit and refuses, coalesces answers in one outbox and
flushes them; only the framer (``ws_framer``), how a message is written and how a connection ends differ. An
idle WebSocket is one task blocked in a read plus the stream connection's objects, the framer and wsproto's
connection: no nursery, no channel, no second task. Both wire eras work as on streams, since the session driver
is the same: ``initialize`` makes a legacy session, a request whose ``_meta`` names 2026-07-28 stands alone.

* The server's connection task first does the HTTP upgrade (``ws_handshake``, within ``handshake_timeout``),
  then serves frames.
* Keep-alive arms no timer per read (a cancel scope with a deadline costs about 5 us a read): a read only sets
  ``framer.heard``, and one task per endpoint (``keep_alive_forever``) sweeps every ``sweep_interval``. A
  connection silent for ``ping_interval`` gets a Ping, written at once if the kernel takes it; one still silent
  ``pong_timeout`` later is closed with 1011.
* Ending: the peer's Close is answered at once and the session ends with it (after a Close no message may be
  sent, so running requests are cancelled; there is no draining as on a half-closed stream). When our side
  ends it (shutdown 1001, a message over the limit 1009, a binary message 1003, bad UTF-8 1007, a protocol
  error 1002; see ``ws_framer`` for every code), it sends its Close, half-closes TCP and reads until the peer's
  Close or its end of the connection, within ``close_timeout``, so a reset cannot destroy the Close in flight.
* A connection refused at accept (overload) is upgraded anyway, told the refusal as its one message, and closed
  with 1013 (``WebSocketEndpoint.refuse``, which the accept loop runs within its refusal bounds).

Client side, ``connect_websocket`` does the upgrade (with TLS for ``wss://``) and returns the stream and an open
framer: the client's session driver then rides a ``WebSocketConnection`` as it rides ``StreamConnection``.
Clients answer Pings but send none (keep-alive is the server's sweep).
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Sequence
from typing import Final

import trio

from mcp_trio.protocol.errors import McpError
from mcp_trio.protocol.jsonrpc import encode_message, error_response
from mcp_trio.transports.http.security import OriginPolicy
from mcp_trio.transports.lean_socket import LeanSocketStream, write_nowait
from mcp_trio.transports.port import Place, SessionHost
from mcp_trio.transports.stream import StreamConnection, _describe
from mcp_trio.transports.ws_config import SUBPROTOCOL, WebSocketConfig
from mcp_trio.transports.ws_framer import CloseReason, WebSocketFramer
from mcp_trio.transports.ws_handshake import UpgradePolicy, accept_upgrade, request_upgrade

__all__ = [
    "WebSocketConnection",
    "WebSocketEndpoint",
    "WebSocketConfig",
    "WebSocketFramer",
    "SUBPROTOCOL",
    "connect_websocket",
]

_GOING_AWAY: Final = (CloseReason.GOING_AWAY, "the server is shutting down")
_CLIENT_CLOSING: Final = (CloseReason.NORMAL_CLOSURE, "")
_UNREAD: Final = (trio.BrokenResourceError, trio.ClosedResourceError, trio.BusyResourceError)


class WebSocketConnection(StreamConnection):
    """One WebSocket: the stream framing with WebSocket frames (see the module docstring).

    Args:
        host, stream, place, connection_id: as ``StreamConnection``.
        framer: an open framer (a client, after ``connect_websocket``); ``None`` for a server connection, which
            does the upgrade first.
        endpoint: the server endpoint this connection was accepted by (its upgrade policy and keep-alive).
    """

    __slots__ = ("_endpoint", "_last_heard", "_pinged_at")

    framer: WebSocketFramer

    def __init__(
        self,
        host: SessionHost,
        stream: trio.abc.Stream,
        place: Place,
        connection_id: int,
        framer: WebSocketFramer | None = None,
        endpoint: WebSocketEndpoint | None = None,
    ) -> None:
        if framer is None:
            if endpoint is None:
                raise ValueError("a WebSocket connection needs an open framer (client) or its endpoint (server)")
            framer = WebSocketFramer(None, endpoint.max_message_size)
        super().__init__(host, stream, place, connection_id, framer)
        self._endpoint = endpoint
        self._last_heard = 0.0  # the keep-alive sweep that last found input
        self._pinged_at: float | None = None

    def __repr__(self) -> str:
        return f"<websocket {self.id} {_describe(self.stream)}>"

    def size_info(self) -> dict[str, int]:
        info = super().size_info()
        info["framer"] = self.framer.size_info()
        return info

    # ------------------------------------------------------------------ serving

    async def run(self) -> None:
        """Serve the WebSocket until either side closes it (a server connection upgrades first)."""
        endpoint = self._endpoint
        if endpoint is None:
            await super().run()
            return
        try:
            upgraded = await self._upgrade(endpoint)
        except BaseException:
            await self._close()
            raise
        if not upgraded:
            await self._close()
            return
        endpoint.open.add(self)
        try:
            await super().run()
        finally:
            endpoint.open.discard(self)

    async def _upgrade(self, endpoint: WebSocketEndpoint) -> bool:
        connection = None
        with trio.move_on_after(endpoint.config.handshake_timeout):
            with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                connection = await accept_upgrade(self.stream, endpoint.policy, self.limits.receive_size)
        if connection is None:
            return False
        self.framer.attach(connection)
        return True

    def _feed(self) -> None:
        super()._feed()
        framer = self.framer
        output = framer.output  # Pongs, and the Close of a WebSocket that ends
        if output is not None:
            framer.output = None
            self._post_raw(output)
        if framer.finished:
            self._eof = True  # no message will come: the session ends once this is written
            self._held = None

    async def _drain_requests(self, seconds: float) -> None:
        """Nothing to drain: after a Close no message may be sent, so running requests end with the session."""
        await trio.lowlevel.checkpoint()

    # ------------------------------------------------------------------ writing

    def _post(self, data: bytes) -> None:
        framer = self.framer
        if self.closed or not framer.open:
            return  # a Close was sent or received: late answers are dropped
        outbox = self.outbox
        if outbox is None:
            self.outbox = outbox = bytearray()
        framer.write(outbox, data)

    def _post_raw(self, frames: bytes | bytearray) -> None:
        """Queue frames as they are (control frames)."""
        if self.closed or not frames:
            return
        if self.outbox is None:
            self.outbox = bytearray(frames)
        else:
            self.outbox += frames

    def _farewell(self, error: McpError) -> None:
        framer = self.framer
        if framer.open:  # else still in the upgrade, or closing already: nothing to say
            super()._farewell(error)
            self._post_raw(framer.close(CloseReason.POLICY_VIOLATION, error.message))

    async def _finish_writes(self) -> None:
        framer = self.framer
        if framer.open and not self.closed:  # our side ends it: shutdown (a server) or close (a client)
            self._post_raw(framer.close(*(_CLIENT_CLOSING if framer.client else _GOING_AWAY)))
        await super()._finish_writes()
        if framer.awaiting_close and not self.closed:
            await _await_close(self.stream, framer, self.limits.receive_size)

    # ------------------------------------------------------------------ keep-alive (the endpoint's sweep)

    def keep_alive(self, now: float, ping_interval: float, pong_timeout: float, nursery: trio.Nursery) -> bool:
        """One keep-alive check at ``now``: ping a peer silent for ``ping_interval``; whether it is to be dropped
        (silent for ``pong_timeout`` since its ping)."""
        framer = self.framer
        if framer.heard or self._held is not None:  # paused at the in-flight limit, we do not read: no verdict
            framer.heard = False
            self._last_heard = now
            self._pinged_at = None
            return False
        pinged = self._pinged_at
        if pinged is None:
            if now - self._last_heard >= ping_interval:
                self._pinged_at = now
                self._post_raw(framer.ping())
                self._write_now(nursery)
            return False
        return now - pinged >= pong_timeout

    def _write_now(self, nursery: trio.Nursery) -> None:
        """Write the outbox if the kernel takes it at once; else flush in a task of the sweep's, so the sweep
        never waits for a slow client. A flush under way writes it anyway."""
        if self.flushing or not self.outbox:
            return
        data, self.outbox = self.outbox, None
        try:
            rest = write_nowait(self.stream, data)
        except _UNREAD:
            return  # the reader finds out
        if rest:
            self.outbox = bytearray(rest)
            nursery.start_soon(self.flush)

    async def give_up(self) -> None:
        """The peer stayed silent after its ping: Close 1011, and hang up without waiting for an answer."""
        if self.closed:
            await trio.lowlevel.checkpoint()
            return
        self._post_raw(self.framer.close(CloseReason.INTERNAL_ERROR, "keep-alive ping timeout"))
        await self._hang_up()


async def _await_close(stream: trio.abc.Stream, framer: WebSocketFramer, receive_size: int) -> None:
    """After our Close: half-close, then read until the peer's Close or its end of the connection (the caller
    bounds the time). Closing at once could reset the connection and destroy the Close on its way."""
    try:
        if isinstance(stream, trio.abc.HalfCloseableStream):
            await stream.send_eof()
        while framer.awaiting_close:
            data = await stream.receive_some(receive_size)
            framer.receive_data(bytes(data))
            framer.next_message()  # after our Close messages are discarded: this only looks for the answer
    except _UNREAD:
        pass


class WebSocketEndpoint:
    """Everything one served WebSocket endpoint shares across its connections.

    Args:
        host: the MCP server to drive.
        config: transport limits.
        path: the endpoint's path (``/mcp``).
        host_name, port: the bound address (for the ``Host``/``Origin`` defaults).
    """

    __slots__ = ("config", "host", "max_message_size", "open", "policy")

    def __init__(self, host: SessionHost, config: WebSocketConfig, path: str, host_name: str, port: int) -> None:
        self.host = host
        self.config = config
        self.max_message_size = (
            config.max_message_size if config.max_message_size is not None else host.limits.max_message_size
        )
        origins = OriginPolicy(host_name, port, config.allowed_hosts, config.allowed_origins)
        self.policy = UpgradePolicy(path, origins, config.max_handshake_bytes)
        #: Upgraded connections, which the keep-alive sweep walks.
        self.open: set[WebSocketConnection] = set()

    def open_connection(self, sock: trio.socket.SocketType, connection_id: int, place: Place) -> WebSocketConnection:
        """An accepted socket as one of this endpoint's connections (run it with ``connection.run()``)."""
        return WebSocketConnection(self.host, LeanSocketStream(sock), place, connection_id, endpoint=self)

    async def refuse(self, stream: trio.abc.Stream, error: McpError) -> None:
        """Answer a connection refused at accept: upgrade it, send the error as its one message, close it with
        1013 (try again later) and wait for the client's Close. The caller bounds the time and closes ``stream``.

        Raises:
            trio.BrokenResourceError, trio.ClosedResourceError: the client left.
        """
        connection = None
        with trio.move_on_after(self.config.handshake_timeout):
            connection = await accept_upgrade(stream, self.policy, self.host.limits.receive_size)
        if connection is None:
            return
        framer = WebSocketFramer(connection, self.max_message_size)
        frames = bytearray()
        framer.write(frames, encode_message(error_response(error)))
        frames += framer.close(CloseReason.TRY_AGAIN_LATER, error.message)
        await stream.send_all(frames)
        await _await_close(stream, framer, self.host.limits.receive_size)

    async def keep_alive_forever(self) -> None:
        """Every ``sweep_interval``: ping the connections silent for ``ping_interval``, close those silent for
        ``pong_timeout`` after their ping (see the module docstring). Returns at once when keep-alive is off."""
        config = self.config
        interval = config.ping_interval
        if interval is None:
            await trio.lowlevel.checkpoint()
            return
        async with trio.open_nursery() as nursery:  # flushes of pings the kernel did not take at once
            while True:
                await trio.sleep(config.sweep_interval)
                now = trio.current_time()
                silent = [c for c in self.open if c.keep_alive(now, interval, config.pong_timeout, nursery)]
                for connection in silent:
                    await connection.give_up()


async def connect_websocket(
    url: str,
    headers: Sequence[tuple[str, str]] = (),
    *,
    max_message_size: int,
    receive_size: int = 65536,
) -> tuple[trio.abc.Stream, WebSocketFramer]:
    """Open ``ws://host[:port]/path`` (or ``wss://``, over TLS checked against the system's trust store) and do
    the upgrade; the stream and an open framer for a client ``WebSocketConnection``.

    Args:
        url: where the server is.
        headers: extra headers of the upgrade request (``Origin``, ``Authorization``...).
        max_message_size: the largest message accepted from the server (larger: Close 1009).
        receive_size: bytes read per system call.

    The caller bounds the time it may take.

    Raises:
        ValueError: not a ``ws://`` or ``wss://`` URL.
        OSError: the server cannot be reached.
        RemoteError: the server refused the upgrade.
        ConnectionError: the server's answer is not an upgrade, or TLS failed (``wss://``).
    """
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in ("ws", "wss"):
        raise ValueError(f"not a WebSocket URL: {url!r}")
    authority, _, path = rest.partition("/")
    authority = authority.rpartition("@")[2]  # credentials in the URL are not sent
    host, port = _split_authority(authority, 443 if scheme == "wss" else 80)
    stream: trio.abc.Stream = await trio.open_tcp_stream(host, port)
    try:
        if scheme == "wss":
            context = ssl.create_default_context()
            stream = trio.SSLStream(stream, context, server_hostname=host, https_compatible=True)
        try:
            connection = await request_upgrade(stream, authority, "/" + path, headers, receive_size)
        except trio.BrokenResourceError as exc:  # a TLS failure (certificate, not TLS at all), or a reset
            raise ConnectionError(f"the WebSocket upgrade at {url} failed: {exc.__cause__ or exc}") from exc
    except BaseException:
        await trio.aclose_forcefully(stream)
        raise
    return stream, WebSocketFramer(connection, max_message_size)


def _split_authority(authority: str, default_port: int) -> tuple[str, int]:
    """``host[:port]`` (``[v6][:port]``) -> (host, port)."""
    if authority.startswith("["):
        host, _, tail = authority[1:].partition("]")
        port_text = tail.removeprefix(":")
    else:
        host, sep, port_text = authority.rpartition(":")
        if not sep:
            host, port_text = authority, ""
    if not host or (port_text and not port_text.isdigit()):
        raise ValueError(f"expected host[:port], not {authority!r}")
    return host, int(port_text) if port_text else default_port
