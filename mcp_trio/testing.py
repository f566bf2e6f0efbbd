"""Helpers to test MCP servers in-memory: a real server connection, no sockets, no subprocess.

``open_client(server)`` runs ``server`` on one end of an in-memory stream and yields a ``RawClient`` on the
other: it speaks JSON (dicts) so tests can send anything, including what a well-behaved client never would.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import msgspec
import trio
import trio.testing

from mcp_trio.protocol.errors import McpError
from mcp_trio.protocol.framing import NEED_DATA, LineFramer
from mcp_trio.protocol.versions import LATEST_LEGACY_VERSION, LATEST_MODERN_VERSION

__all__ = ["RawClient", "open_client", "modern_meta"]

ServerRequestHandler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


def modern_meta(capabilities: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """A 2026-07-28 request ``_meta`` naming the version and the client's capabilities."""
    return {
        "io.modelcontextprotocol/protocolVersion": LATEST_MODERN_VERSION,
        "io.modelcontextprotocol/clientCapabilities": capabilities if capabilities is not None else {},
        "io.modelcontextprotocol/clientInfo": {"name": "mcp-trio-testing", "version": "0"},
        **extra,
    }


class RawClient:
    """A JSON-level MCP client over a Trio stream, for tests.

    Notifications from the server are collected in ``notifications``; server-to-client requests are answered
    by ``on_request`` (by default: a method-not-found error), which may raise ``McpError`` to answer with that
    error instead.
    """

    def __init__(self, stream: trio.abc.Stream, on_request: ServerRequestHandler | None = None) -> None:
        self.stream = stream
        self.framer = LineFramer()
        self.notifications: list[dict[str, Any]] = []
        self.on_request = on_request
        self._next_id = 1
        self._responses: dict[Any, dict[str, Any]] = {}
        self._arrived = trio.Event()

    async def send(self, message: Any) -> None:
        """Send one message (a dict, or raw bytes sent as they are plus a newline)."""
        data = message if isinstance(message, bytes) else msgspec.json.encode(message)
        await self.stream.send_all(data + b"\n")

    async def receive(self) -> dict[str, Any]:
        """The next message from the server, whatever it is."""
        while True:
            line = self.framer.next_message()
            if line is not NEED_DATA:
                decoded: dict[str, Any] = msgspec.json.decode(line)  # type: ignore[arg-type]
                return decoded
            data = await self.stream.receive_some(65536)
            if not data:
                raise trio.EndOfChannel("the server closed the connection")
            self.framer.receive_data(bytes(data))

    async def request(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Send a request and return the whole response message, collecting what arrives meanwhile."""
        request_id = self._next_id
        self._next_id += 1
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        await self.send(message)
        return await self.response_to(request_id)

    async def response_to(self, request_id: Any) -> dict[str, Any]:
        while request_id not in self._responses:
            message = await self.receive()
            await self._route(message)
        return self._responses.pop(request_id)

    async def _route(self, message: dict[str, Any]) -> None:
        if "method" in message and "id" in message:
            if self.on_request is None:
                error = {"code": -32601, "message": "no handler in this test"}
                await self.send({"jsonrpc": "2.0", "id": message["id"], "error": error})
            else:
                try:
                    result = await self.on_request(message)
                except McpError as error:  # the handler refuses: the server gets this JSON-RPC error
                    await self.send({"jsonrpc": "2.0", "id": message["id"], "error": _error_object(error)})
                    return
                await self.send({"jsonrpc": "2.0", "id": message["id"], "result": result})
        elif "method" in message:
            self.notifications.append(message)
        else:
            self._responses[message.get("id")] = message

    async def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        await self.send(message)

    async def initialize(
        self, capabilities: dict[str, Any] | None = None, version: str = LATEST_LEGACY_VERSION
    ) -> dict[str, Any]:
        """The legacy handshake: ``initialize`` then ``notifications/initialized``; returns the result."""
        response = await self.request(
            "initialize",
            {
                "protocolVersion": version,
                "capabilities": capabilities if capabilities is not None else {},
                "clientInfo": {"name": "mcp-trio-testing", "version": "0"},
            },
        )
        await self.notify("notifications/initialized")
        result: dict[str, Any] = response["result"]
        return result


@asynccontextmanager
async def open_client(server: Any, on_request: ServerRequestHandler | None = None) -> AsyncIterator[RawClient]:
    """Run ``server`` (an ``mcp_trio.Server``) under its supervision tree, serving one in-memory connection, and
    yield a client for it. Leaving the block stops the tree."""
    client_stream, server_stream = trio.testing.memory_stream_pair()
    async with server.open_runtime() as runtime:
        runtime.serve_stream(server_stream)
        yield RawClient(client_stream, on_request)


def _error_object(error: McpError) -> dict[str, Any]:
    body: dict[str, Any] = {"code": int(error.code), "message": error.message}
    if error.data is not msgspec.UNSET:
        body["data"] = error.data
    return body
