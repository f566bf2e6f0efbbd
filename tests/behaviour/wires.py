"""One JSON-level MCP client per transport, all with the same interface, for the cross-transport behaviour suite.

Every wire runs the server under test in its own supervision tree (``Server.open_runtime``) and speaks to it the
way a real client of that transport would: newline-delimited JSON over an in-memory stream, TCP, a Unix socket
and stdio pipes; Streamable HTTP with a legacy session (POST + SSE, answering server-to-client requests with
further POSTs) and the stateless 2026-07-28 wire. A scenario written against ``Wire`` runs unchanged on all of
them, which is how the suite proves that the one session driver behaves the same behind every framing.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import h11
import msgspec
import trio
import trio.testing

from mcp_trio.protocol.framing import NEED_DATA, LineFramer
from mcp_trio.runtime.listeners import HttpListener, StdioListener, TcpListener, UnixListener
from mcp_trio.server.server import Server
from mcp_trio.testing import modern_meta

LEGACY = "2025-11-25"
MODERN = "2026-07-28"
CLIENT_CAPABILITIES: dict[str, Any] = {"elicitation": {}, "sampling": {}, "roots": {}}
CLIENT_INFO: dict[str, str] = {"name": "behaviour", "version": "1"}
#: Answers a server-to-client request: returns ``{"result": ...}`` or ``{"error": ...}``.
OnRequest = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


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


# ---------------------------------------------------------------------------------------------- line framing


class LineWire(Wire):
    """Newline-delimited JSON over any Trio stream (memory, TCP, Unix, stdio pipes)."""

    def __init__(self, name: str, era: str, send: trio.abc.SendStream, receive: trio.abc.ReceiveStream) -> None:
        self.name = name
        self.era = era
        self._send = send
        self._receive = receive
        self._framer = LineFramer()
        self._next_id = 1
        self._answers: dict[Any, dict[str, Any]] = {}
        self._unmatched: list[dict[str, Any]] = []
        self.notifications = []
        self.on_request = None

    async def _write(self, data: bytes) -> None:
        await self._send.send_all(data + b"\n")

    async def _read(self) -> dict[str, Any]:
        while True:
            line = self._framer.next_message()
            if line is not NEED_DATA:
                decoded: dict[str, Any] = msgspec.json.decode(line)  # type: ignore[arg-type]
                return decoded
            data = await self._receive.receive_some(65536)
            if not data:
                raise EOFError("the server closed the connection")
            self._framer.receive_data(bytes(data))

    async def _route_until(self, done: Callable[[], bool]) -> None:
        while not done():
            message = await self._read()
            if "method" in message and "id" in message:
                reply = await self.on_request(message) if self.on_request is not None else _no_handler()
                await self._write(msgspec.json.encode({"jsonrpc": "2.0", "id": message["id"], **reply}))
            elif "method" in message:
                self.notifications.append(message)
            elif message.get("id") is None:
                self._unmatched.append(message)
            else:
                self._answers[message["id"]] = message

    async def request(self, method: str, params: dict[str, Any] | None = None) -> Answer:
        request_id = self._next_id
        self._next_id += 1
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
        sent = self._params(method, params)
        if sent is not None:
            message["params"] = sent
        await self._write(msgspec.json.encode(message))
        await self._route_until(lambda: request_id in self._answers)
        return Answer(self._answers.pop(request_id))

    async def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        await self._write(msgspec.json.encode(message))

    async def send_raw(self, data: bytes) -> Answer:
        await self._write(data)
        await self._route_until(lambda: bool(self._unmatched) or bool(self._answers))
        if self._unmatched:
            return Answer(self._unmatched.pop(0))
        key = next(iter(self._answers))
        return Answer(self._answers.pop(key))

    async def initialize(self) -> None:
        answer = await self.request(
            "initialize",
            {
                "protocolVersion": LEGACY,
                "capabilities": CLIENT_CAPABILITIES,
                "clientInfo": {"name": "b", "version": "1"},
            },
        )
        assert answer.result["protocolVersion"] == LEGACY
        await self.notify("notifications/initialized")

    async def aclose(self) -> None:
        await self._send.aclose()
        await self._receive.aclose()


def _no_handler() -> dict[str, Any]:
    return {"error": {"code": -32601, "message": "no handler in this test"}}


# ---------------------------------------------------------------------------------------------- HTTP


class _Http:
    """One HTTP/1.1 client connection (h11 over TCP)."""

    def __init__(self, stream: trio.SocketStream, authority: str) -> None:
        self.stream = stream
        self.authority = authority
        self.h11 = h11.Connection(h11.CLIENT)

    async def send(self, headers: dict[str, str], body: bytes) -> None:
        fields = {"host": self.authority, "content-length": str(len(body)), **headers}
        data = self.h11.send(h11.Request(method="POST", target="/mcp", headers=list(fields.items())))
        data += self.h11.send(h11.Data(data=body)) + self.h11.send(h11.EndOfMessage())
        await self.stream.send_all(data)

    async def _event(self) -> Any:
        while True:
            event = self.h11.next_event()
            if event is h11.NEED_DATA:
                self.h11.receive_data(bytes(await self.stream.receive_some(65536)))
                continue
            return event

    async def head(self) -> tuple[int, dict[str, str]]:
        while True:
            event = await self._event()
            if isinstance(event, h11.Response):
                return event.status_code, {k.decode(): v.decode() for k, v in event.headers}
            if isinstance(event, h11.ConnectionClosed):
                raise EOFError("connection closed before a response")

    async def chunk(self) -> bytes | None:
        event = await self._event()
        if isinstance(event, h11.Data):
            return bytes(event.data)
        if isinstance(event, h11.EndOfMessage):
            if self.h11.our_state is h11.DONE and self.h11.their_state is h11.DONE:
                self.h11.start_next_cycle()
            return None
        raise EOFError(f"unexpected {event!r}")

    async def body(self) -> bytes:
        data = b""
        while (piece := await self.chunk()) is not None:
            data += piece
        return data


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
        self._idle: list[_Http] = []

    async def _connection(self) -> _Http:
        if self._idle:
            return self._idle.pop()
        return _Http(await trio.open_tcp_stream("127.0.0.1", self.port), f"127.0.0.1:{self.port}")

    def _headers(self, method: str, params: dict[str, Any] | None) -> dict[str, str]:
        headers = {"content-type": "application/json", "accept": "application/json, text/event-stream"}
        if self.era == "modern":
            headers["mcp-protocol-version"] = MODERN
            headers["mcp-method"] = method
            if method == "tools/call" and params is not None:
                headers["mcp-name"] = params["name"]
            elif method == "resources/read" and params is not None:
                headers["mcp-name"] = params["uri"]
            elif method == "prompts/get" and params is not None:
                headers["mcp-name"] = params["name"]
        else:
            headers.update(self.session_headers)
        return headers

    async def _post(self, headers: dict[str, str], body: bytes, answer_id: Any) -> Answer:
        http = await self._connection()
        await http.send(headers, body)
        status, response_headers = await http.head()
        if "mcp-session-id" in response_headers:
            self.session_headers = {
                "mcp-session-id": response_headers["mcp-session-id"],
                "mcp-protocol-version": LEGACY,
            }
        kind = response_headers.get("content-type", "")
        if not kind.startswith("text/event-stream"):
            data = await http.body()
            self._idle.append(http)
            return Answer(msgspec.json.decode(data) if data else None, status)
        final: dict[str, Any] | None = None
        buffer = b""
        while (piece := await http.chunk()) is not None:
            buffer += piece
            while b"\n\n" in buffer:
                block, buffer = buffer.split(b"\n\n", 1)
                data = b"".join(line[5:].lstrip(b" ") for line in block.split(b"\n") if line.startswith(b"data:"))
                if not data:
                    continue
                message = msgspec.json.decode(data)
                if "method" in message and "id" in message:
                    reply = await self.on_request(message) if self.on_request is not None else _no_handler()
                    body = msgspec.json.encode({"jsonrpc": "2.0", "id": message["id"], **reply})
                    answered = await self._post(self._headers("", None), body, None)
                    assert answered.status == 202, answered
                elif "method" in message:
                    self.notifications.append(message)
                else:
                    final = message
        self._idle.append(http)
        return Answer(final, status)

    async def request(self, method: str, params: dict[str, Any] | None = None) -> Answer:
        request_id = self._next_id
        self._next_id += 1
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
        sent = self._params(method, params)
        if sent is not None:
            message["params"] = sent
        return await self._post(self._headers(method, params), msgspec.json.encode(message), request_id)

    async def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        answer = await self._post(self._headers(method, None), msgspec.json.encode(message), None)
        assert answer.status == 202, answer

    async def send_raw(self, data: bytes) -> Answer:
        return await self._post(self._headers("tools/call", None), data, None)

    async def initialize(self) -> None:
        if self.era == "modern":
            return
        answer = await self.request(
            "initialize",
            {
                "protocolVersion": LEGACY,
                "capabilities": CLIENT_CAPABILITIES,
                "clientInfo": {"name": "b", "version": "1"},
            },
        )
        assert answer.result["protocolVersion"] == LEGACY
        await self.notify("notifications/initialized")

    async def aclose(self) -> None:
        for http in self._idle:
            await http.stream.aclose()


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
            wire = LineWire(name, era, client_stream, client_stream)
        elif kind == "tcp":
            _, port = await runtime.add_listener(TcpListener("127.0.0.1", 0))
            stream = await trio.open_tcp_stream("127.0.0.1", port)
            wire = LineWire(name, era, stream, stream)
        elif kind == "unix":
            path = str(tmp_path / "mcp.sock")
            await runtime.add_listener(UnixListener(path))
            stream = await trio.open_unix_socket(path)
            wire = LineWire(name, era, stream, stream)
        elif kind == "stdio":
            to_server_r, to_server_w = os.pipe()
            from_server_r, from_server_w = os.pipe()
            await runtime.add_listener(StdioListener(stdin=to_server_r, stdout=from_server_w))
            os.close(to_server_r)  # the listener duplicated both ends it uses
            os.close(from_server_w)
            wire = LineWire(name, era, trio.lowlevel.FdStream(to_server_w), trio.lowlevel.FdStream(from_server_r))
        else:
            _, port = await runtime.add_listener(HttpListener("127.0.0.1", 0))
            wire = HttpWire(name, era, port)
        if era == "legacy":
            await wire.initialize()  # type: ignore[attr-defined]
        try:
            yield wire
        finally:
            await wire.aclose()
