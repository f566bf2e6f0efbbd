"""One JSON-level MCP client per transport, all with the same interface, for the cross-transport behaviour suite.

Every wire runs the server under test in its own supervision tree (``Server.open_runtime``) and speaks to it the
way a real client of that transport would: newline-delimited JSON over an in-memory stream, TCP, a Unix socket
and stdio pipes; Streamable HTTP with a legacy session (POST + SSE, answering server-to-client requests with
further POSTs) and the stateless 2026-07-28 wire. A scenario written against ``Wire`` runs unchanged on all of
them, which is how the suite proves that the one session driver behaves the same behind every framing.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import h11
import msgspec
import trio
import trio.testing

from mcp_trio.protocol.errors import McpError
from mcp_trio.runtime.listeners import HttpListener, StdioListener, TcpListener, UnixListener, WebSocketListener
from mcp_trio.server.server import Server
from mcp_trio.testing import RawClient, ServerRequestHandler, modern_meta
from tests.transports.http.http_test_helpers import RawHttp, parse_sse

LEGACY = "2025-11-25"
MODERN = "2026-07-28"
CLIENT_CAPABILITIES: dict[str, Any] = {"elicitation": {}, "sampling": {}, "roots": {}}
CLIENT_INFO: dict[str, str] = {"name": "behaviour", "version": "1"}
#: Answers a server-to-client request with its result, or raises ``McpError`` to answer with that error.
OnRequest = ServerRequestHandler


class Answer:
    """What came back for one message: the JSON-RPC message (``None`` if none), and the HTTP status if any."""

    def __init__(self, message: dict[str, Any] | None, status: int | None = None) -> None:
        self.message = message
        self.status = status

    @property
    def result(self) -> Any:
        assert self.message is not None
        assert "error" not in self.message, self.message
        return self.message["result"]

    @property
    def error(self) -> dict[str, Any]:
        assert self.message is not None
        assert "error" in self.message, self.message
        error: dict[str, Any] = self.message["error"]
        return error

    def __repr__(self) -> str:
        return f"Answer({self.message!r}, status={self.status})"


class Wire:
    """A client of one transport (see the module docstring)."""

    name: str
    era: str
    notifications: list[dict[str, Any]]
    on_request: OnRequest | None

    async def request(self, method: str, params: dict[str, Any] | None = None) -> Answer:
        raise NotImplementedError

    async def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        raise NotImplementedError

    async def send_raw(self, data: bytes) -> Answer:
        """Send bytes as one message (a line, or a POST body) and return what answers them."""
        raise NotImplementedError

    async def aclose(self) -> None:
        raise NotImplementedError

    def _params(self, method: str, params: dict[str, Any] | None) -> dict[str, Any] | None:
        if self.era != "modern":
            return params
        return {**(params or {}), "_meta": modern_meta(CLIENT_CAPABILITIES)}

    async def initialize(self) -> None:
        """The legacy handshake: ``initialize``, then ``notifications/initialized`` (the modern wire has none)."""
        if self.era != "legacy":
            return
        params = {"protocolVersion": LEGACY, "capabilities": CLIENT_CAPABILITIES, "clientInfo": CLIENT_INFO}
        answer = await self.request("initialize", params)
        assert answer.result["protocolVersion"] == LEGACY
        await self.notify("notifications/initialized")


# ---------------------------------------------------------------------------------------------- line framing


class LineWire(Wire):
    """Newline-delimited JSON over any Trio stream (memory, TCP, Unix, stdio pipes), through ``RawClient``."""

    def __init__(self, name: str, era: str, stream: trio.abc.Stream) -> None:
        self.name = name
        self.era = era
        self.client = RawClient(stream)

    @property
    def notifications(self) -> list[dict[str, Any]]:  # type: ignore[override]
        return self.client.notifications

    @property
    def on_request(self) -> OnRequest | None:  # type: ignore[override]
        return self.client.on_request

    @on_request.setter
    def on_request(self, handler: OnRequest | None) -> None:
        self.client.on_request = handler

    async def request(self, method: str, params: dict[str, Any] | None = None) -> Answer:
        return Answer(await self.client.request(method, self._params(method, params)))

    async def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        await self.client.notify(method, params)

    async def send_raw(self, data: bytes) -> Answer:
        await self.client.send(data)
        while True:  # the next answer (notifications are collected on the way)
            message = await self.client.receive()
            if "method" not in message:
                return Answer(message)
            self.client.notifications.append(message)

    async def aclose(self) -> None:
        await self.client.stream.aclose()


class WebSocketLines(trio.abc.Stream):
    """A trio-websocket client connection seen as newline-delimited bytes, so ``LineWire`` drives WebSocket
    unchanged: each line written is one text message, each message read is one line."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self.pending = b""

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        self.pending += bytes(data)
        *lines, self.pending = self.pending.split(b"\n")
        for line in lines:
            await self.connection.send_message(line.decode("utf-8", "surrogateescape"))

    async def wait_send_all_might_not_block(self) -> None:
        await trio.lowlevel.checkpoint()

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        from trio_websocket import ConnectionClosed

        try:
            message = await self.connection.get_message()
        except ConnectionClosed:
            return b""
        return (message.encode() if isinstance(message, str) else message) + b"\n"

    async def aclose(self) -> None:
        await self.connection.aclose()


# ---------------------------------------------------------------------------------------------- HTTP


class HttpWire(Wire):
    """Streamable HTTP: a legacy session (``era="legacy"``) or the stateless 2026-07-28 wire (``"modern"``)."""

    def __init__(self, name: str, era: str, port: int) -> None:
        self.name = name
        self.era = era
        self.port = port
        self.notifications = []
        self.on_request = None
        self.session_headers: dict[str, str] = {}
        self._next_id = 1
        self._idle: list[RawHttp] = []

    async def _connection(self) -> RawHttp:
        return self._idle.pop() if self._idle else await RawHttp.connect(self.port)

    def _headers(self, method: str, params: dict[str, Any] | None) -> dict[str, str]:
        headers = {"content-type": "application/json", "accept": "application/json, text/event-stream"}
        if self.era == "modern":
            headers["mcp-protocol-version"] = MODERN
            headers["mcp-method"] = method
            name = (params or {}).get("uri" if method == "resources/read" else "name")
            if method in ("tools/call", "resources/read", "prompts/get") and name is not None:
                headers["mcp-name"] = name
        else:
            headers.update(self.session_headers)
        return headers

    async def _answer(self, message: dict[str, Any]) -> None:
        """Answer a server-to-client request that arrived on an SSE stream, with a POST of its own."""
        try:
            reply: dict[str, Any] = {"result": await self.on_request(message) if self.on_request else {}}
            if self.on_request is None:
                reply = {"error": {"code": -32601, "message": "no handler in this test"}}
        except McpError as error:
            reply = {"error": {"code": int(error.code), "message": error.message}}
        body = msgspec.json.encode({"jsonrpc": "2.0", "id": message["id"], **reply})
        answered = await self._post(self._headers("", None), body)
        assert answered.status == 202, answered

    async def _post(self, headers: dict[str, str], body: bytes) -> Answer:
        http = await self._connection()
        await http.send("POST", "/mcp", headers, body)
        status, response_headers = await http.head()
        if "mcp-session-id" in response_headers:
            self.session_headers = {
                "mcp-session-id": response_headers["mcp-session-id"],
                "mcp-protocol-version": LEGACY,
            }
        final: dict[str, Any] | None = None
        data = b""
        while (piece := await http.chunk()) is not None:
            data += piece
            if not response_headers.get("content-type", "").startswith("text/event-stream"):
                continue
            while b"\n\n" in data:
                block, data = data.split(b"\n\n", 1)
                for event in parse_sse(block + b"\n\n"):
                    if not event.get("data"):
                        continue
                    message = msgspec.json.decode(event["data"])
                    if "method" in message and "id" in message:
                        await self._answer(message)
                    elif "method" in message:
                        self.notifications.append(message)
                    else:
                        final = message
        if http.h11.our_state is h11.DONE and http.h11.their_state is h11.DONE:
            http.h11.start_next_cycle()
            self._idle.append(http)
        else:
            await http.aclose()
        if not response_headers.get("content-type", "").startswith("text/event-stream") and data:
            final = msgspec.json.decode(data)
        return Answer(final, status)

    async def request(self, method: str, params: dict[str, Any] | None = None) -> Answer:
        request_id = self._next_id
        self._next_id += 1
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
        sent = self._params(method, params)
        if sent is not None:
            message["params"] = sent
        return await self._post(self._headers(method, params), msgspec.json.encode(message))

    async def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        answer = await self._post(self._headers(method, None), msgspec.json.encode(message))
        assert answer.status == 202, answer

    async def send_raw(self, data: bytes) -> Answer:
        return await self._post(self._headers("tools/call", None), data)

    async def aclose(self) -> None:
        for http in self._idle:
            await http.aclose()


# ---------------------------------------------------------------------------------------------- opening wires

WIRES = [
    "memory-legacy",
    "memory-modern",
    "tcp-legacy",
    "tcp-modern",
    "unix-legacy",
    "stdio-legacy",
    "http-legacy",
    "http-modern",
    "ws-legacy",
    "ws-modern",
]


@asynccontextmanager
async def open_wire(name: str, server: Server, tmp_path: Any) -> AsyncIterator[Wire]:
    """Serve ``server`` under its tree on the transport ``name`` names, and yield an initialized client of it."""
    kind, era = name.split("-")
    async with server.open_runtime() as runtime:
        wire: Wire
        if kind == "memory":
            client_stream, server_stream = trio.testing.memory_stream_pair()
            runtime.serve_stream(server_stream)
            wire = LineWire(name, era, client_stream)
        elif kind == "tcp":
            _, port = await runtime.add_listener(TcpListener("127.0.0.1", 0))
            stream = await trio.open_tcp_stream("127.0.0.1", port)
            wire = LineWire(name, era, stream)
        elif kind == "unix":
            path = str(tmp_path / "mcp.sock")
            await runtime.add_listener(UnixListener(path))
            stream = await trio.open_unix_socket(path)
            wire = LineWire(name, era, stream)
        elif kind == "stdio":
            to_server_r, to_server_w = os.pipe()
            from_server_r, from_server_w = os.pipe()
            await runtime.add_listener(StdioListener(stdin=to_server_r, stdout=from_server_w))
            os.close(to_server_r)  # the listener duplicated both ends it uses
            os.close(from_server_w)
            pipes = trio.StapledStream(trio.lowlevel.FdStream(to_server_w), trio.lowlevel.FdStream(from_server_r))
            wire = LineWire(name, era, pipes)
        elif kind == "ws":
            from trio_websocket import open_websocket_url

            _, port = await runtime.add_listener(WebSocketListener("127.0.0.1", 0))
            async with open_websocket_url(f"ws://127.0.0.1:{port}/mcp", subprotocols=["mcp"]) as connection:
                wire = LineWire(name, era, WebSocketLines(connection))
                await wire.initialize()
                try:
                    yield wire
                finally:
                    await wire.aclose()
            return
        else:
            _, port = await runtime.add_listener(HttpListener("127.0.0.1", 0))
            wire = HttpWire(name, era, port)
        await wire.initialize()
        try:
            yield wire
        finally:
            await wire.aclose()
