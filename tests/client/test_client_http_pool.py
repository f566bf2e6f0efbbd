"""The HTTP client's connection pool: more calls in flight than connections (against the official SDK's server and
ours), and what a server may do to a keep-alive connection: close it while it idles, answer ``Connection: close``,
reset it, send bytes after an answer, or read a request and close without answering."""

from __future__ import annotations

import functools
import json
import os
import socket
import struct
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import h11
import pytest
import trio
import trio.testing
from client_test_helpers import free_port, http_server_process, read_request

from mcp_trio import Server
from mcp_trio.client import Client, ClientConfig, open_client
from mcp_trio.client import http as client_http
from mcp_trio.client.http import HttpConnectionError, HttpOutlet
from mcp_trio.protocol.types import TextContent

CALLS = 300
IN_FLIGHT = 24


def text(result: Any) -> str:
    block = result.content[0]
    assert isinstance(block, TextContent)
    return block.text


def outlet_of(client: Client) -> HttpOutlet:
    outlet = client.driver.outlet
    assert isinstance(outlet, HttpOutlet)
    return outlet


async def call_many(client: Client, tool: str, arguments: Callable[[int], dict[str, Any]]) -> list[str]:
    """``CALLS`` calls, ``IN_FLIGHT`` at once (several times the pool's connections); their answers in order."""
    answers: list[str] = [""] * CALLS
    places = trio.Semaphore(IN_FLIGHT)

    async def one(index: int) -> None:
        async with places:
            answers[index] = text(await client.call_tool(tool, arguments(index)))

    async with trio.open_nursery() as nursery:
        for index in range(CALLS):
            nursery.start_soon(one, index)
    return answers


# ---------------------------------------------------------------------- the official SDK's server, as in the soak

SDK_SERVER = """
import sys

import anyio
import uvicorn
from mcp.server.mcpserver import MCPServer

app = MCPServer("pool-peer", version="1.0.0", log_level="WARNING")
naps = 0


@app.tool()
async def nap(ms: int, tag: str) -> str:
    global naps
    naps += 1
    await anyio.sleep(ms / 1000)
    return tag


@app.tool()
def count() -> str:
    return str(naps)


starlette_app = app.streamable_http_app(json_response=True, stateless_http=sys.argv[1] == "stateless")
# A short keep-alive: the server closes the client's idle connections soon after a burst, as any HTTP/1.1
# server may (uvicorn's default is 5 s).
uvicorn.run(starlette_app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning", timeout_keep_alive=0.1)
"""


def sdk_server(mode: str) -> Any:
    """The official SDK's server (``SDK_SERVER``) in ``mode``, on a port of its own; yields its URL."""
    port = free_port()
    return http_server_process([sys.executable, "-c", SDK_SERVER, mode, str(port)], port)


@pytest.mark.slow
@pytest.mark.parametrize(("mode", "era"), [("stateless", "auto"), ("stateful", "legacy")])
async def test_many_calls_in_flight_against_the_sdk_server_all_complete_across_its_idle_closes(
    mode: str, era: str
) -> None:
    async with sdk_server(mode) as url, open_client(url, config=ClientConfig(era=era)) as client:  # type: ignore[arg-type]
        with trio.fail_after(20):
            answers = await call_many(client, "nap", lambda index: {"ms": 2, "tag": str(index)})
            assert answers == [str(index) for index in range(CALLS)]
            # The server closes the idle connections after its keep-alive timeout: the next burst must notice that
            # before sending anything on them, and lose no call and no session.
            outlet = outlet_of(client)
            assert outlet._idle
            for connection in outlet._idle:
                stream = connection.stream
                assert isinstance(stream, trio.SocketStream)
                await trio.lowlevel.wait_readable(stream.socket)
            answers = await call_many(client, "nap", lambda index: {"ms": 0, "tag": f"again {index}"})
            assert answers == [f"again {index}" for index in range(CALLS)]
            assert text(await client.call_tool("count")) == str(2 * CALLS)  # each call ran exactly once


# ---------------------------------------------------------------------- our own server


async def test_many_calls_in_flight_against_our_server_all_complete_on_at_most_max_connections() -> None:
    server = Server("pool")

    @server.tool()
    async def nap(tag: str) -> str:
        await trio.lowlevel.checkpoint()
        return tag

    async with trio.open_nursery() as nursery:
        host, port = await nursery.start(server.serve_http, "127.0.0.1", 0)
        config = ClientConfig(era="modern", max_connections=3)
        async with open_client(f"http://{host}:{port}/mcp", config=config) as client:
            with trio.fail_after(10):
                answers = await call_many(client, "nap", lambda index: {"tag": str(index)})
            assert answers == [str(index) for index in range(CALLS)]
            outlet = outlet_of(client)
            assert outlet._open == len(outlet._idle) <= 3
            assert not outlet._queue
        nursery.cancel_scope.cancel()


# ---------------------------------------------------------------------- a raw HTTP/1.1 server misbehaving on cue


class RawServer:
    """A legacy Streamable HTTP server on bare h11 (JSON answers, keep-alive) that does to its connections what
    a test asks: close after each answer (``close_after``), say ``Connection: close``, send ``trailing`` bytes
    after an answer, reset an idle connection once ``reset`` is set, or read the request numbered ``drop``
    (counted from 1 over the whole server) and close without answering it. ``echo`` answers its ``text``;
    ``block`` waits for ``unblock``."""

    def __init__(
        self,
        *,
        close_after: bool = False,
        connection_close: bool = False,
        trailing: bytes = b"",
        reset: trio.Event | None = None,
        drop: int | None = None,
    ) -> None:
        self.close_after = close_after
        self.connection_close = connection_close
        self.trailing = trailing
        self.reset = reset
        self.drop = drop
        self.methods: list[str] = []  # every JSON-RPC message read, answered or not (tools/call with its tool)
        self.echoed: list[str] = []  # the text of every echo call read
        self.connections = 0
        self.closed = 0
        self.blocked = trio.Event()
        self.unblock = trio.Event()
        self._change = trio.Event()

    def calls(self, name: str) -> int:
        return self.methods.count(f"tools/call {name}")

    def _reset_once(self) -> trio.Event | None:
        reset, self.reset = self.reset, None
        return reset

    async def wait_closed(self, count: int) -> None:
        while self.closed < count:
            await self._change.wait()

    async def handle(self, stream: trio.SocketStream) -> None:
        self.connections += 1
        reset = self._reset_once()
        try:
            async with trio.open_nursery() as nursery:
                if reset is not None:
                    nursery.start_soon(self._reset_when, reset, stream, nursery.cancel_scope)
                await self._serve(stream)
                nursery.cancel_scope.cancel()
        finally:
            await stream.aclose()
            self.closed += 1
            self._change.set()
            self._change = trio.Event()

    async def _reset_when(self, reset: trio.Event, stream: trio.SocketStream, serving: trio.CancelScope) -> None:
        """Close with a reset (RST, not FIN) while the connection idles, once ``reset`` is set."""
        await reset.wait()
        stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        serving.cancel()

    async def _serve(self, stream: trio.SocketStream) -> None:
        h = h11.Connection(h11.SERVER)
        while True:
            request, body = await read_request(stream, h)
            if request is None:
                return
            status, answer = await self._answer(request, body)
            if self.drop is not None and len(self.methods) == self.drop:
                return
            headers = [("content-type", "application/json"), ("content-length", str(len(answer)))]
            if self.connection_close:
                headers.append(("connection", "close"))
            out = h.send(h11.Response(status_code=status, headers=headers)) or b""
            out += (h.send(h11.Data(data=answer)) if answer else b"") or b""
            out += (h.send(h11.EndOfMessage()) or b"") + self.trailing
            if self.close_after or self.connection_close:
                # The answer and the close in one step (no checkpoint between): the client finds the
                # connection closed whenever it next looks, with no race to hide the bug.
                os.write(stream.socket.fileno(), out)
                stream.socket.close()
                return
            await stream.send_all(out)
            if self.trailing:
                await trio.sleep_forever()  # keeps the connection open: only the client can drop it
            h.start_next_cycle()

    async def _answer(self, request: h11.Request, body: bytes) -> tuple[int, bytes]:
        if request.method == b"GET":
            return 405, b""
        if request.method == b"DELETE":
            return 200, b""
        message = json.loads(body)
        method = message.get("method")
        params = message.get("params") or {}
        name = params.get("name") if method == "tools/call" else None
        self.methods.append(f"{method} {name}" if name else method)
        if "id" not in message:
            return 202, b""
        if method == "initialize":
            result: dict[str, Any] = {
                "protocolVersion": params["protocolVersion"],
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "raw", "version": "1"},
            }
        elif method == "tools/list":
            result = {"tools": [{"name": "echo", "inputSchema": {"type": "object"}}]}
        elif method == "tools/call" and name == "block":
            self.blocked.set()
            await self.unblock.wait()
            result = {"content": [{"type": "text", "text": "unblocked"}]}
        elif method == "tools/call":
            self.echoed.append(params["arguments"]["text"])
            result = {"content": [{"type": "text", "text": params["arguments"]["text"]}]}
        else:
            result = {}
        return 200, json.dumps({"jsonrpc": "2.0", "id": message["id"], "result": result}).encode()


@asynccontextmanager
async def raw_client(
    nursery: trio.Nursery, server: RawServer, **config: Any
) -> AsyncIterator[tuple[Client, HttpOutlet]]:
    listeners = await nursery.start(functools.partial(trio.serve_tcp, server.handle, 0, host="127.0.0.1"))
    port = listeners[0].socket.getsockname()[1]
    options = ClientConfig(era="legacy", standalone_stream=False, **config)
    with trio.fail_after(10):
        async with open_client(f"http://127.0.0.1:{port}/mcp", config=options) as client:
            yield client, outlet_of(client)


async def test_connections_the_server_closed_while_idle_are_never_used(nursery: trio.Nursery) -> None:
    server = RawServer(close_after=True)
    async with raw_client(nursery, server) as (client, outlet):
        for index in range(5):
            assert text(await client.call_tool("echo", {"text": str(index)})) == str(index)
        assert server.calls("echo") == 5
        assert server.connections == len(server.methods)  # one request per connection, none sent into a closed one
        assert outlet._open == len(outlet._idle) == 1  # the last one, which the next acquire would drop


async def test_connection_close_answers_with_more_calls_waiting_than_connections(nursery: trio.Nursery) -> None:
    server = RawServer(connection_close=True)
    async with raw_client(nursery, server, max_connections=2) as (client, outlet):
        answers: dict[int, str] = {}

        async def one(index: int) -> None:
            answers[index] = text(await client.call_tool("echo", {"text": str(index)}))

        async with trio.open_nursery() as calls:
            for index in range(16):
                calls.start_soon(one, index)
        assert answers == {index: str(index) for index in range(16)}
        assert server.calls("echo") == 16
        assert server.connections == len(server.methods)
        assert outlet._open == 0
        assert not outlet._idle


@pytest.mark.parametrize("race", [False, True])
async def test_a_reset_idle_connection_is_replaced_and_the_call_runs_once(
    nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch, race: bool
) -> None:
    reset = trio.Event()
    server = RawServer(reset=reset)
    async with raw_client(nursery, server, max_connections=1) as (client, _):
        assert text(await client.call_tool("echo", {"text": "first"})) == "first"
        reset.set()
        await server.wait_closed(1)
        if race:  # the reset lands just after the pool looked: the write fails, so the request never left whole
            monkeypatch.setattr(client_http, "_readable", lambda stream: False)
        assert text(await client.call_tool("echo", {"text": "second"})) == "second"
        assert server.calls("echo") == 2


@pytest.mark.parametrize("garbage", [b"\r\nxyz", b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"])
async def test_bytes_after_an_answer_keep_the_connection_out_of_the_pool(nursery: trio.Nursery, garbage: bytes) -> None:
    server = RawServer(trailing=garbage)
    async with raw_client(nursery, server) as (client, outlet):
        for index in range(3):
            assert text(await client.call_tool("echo", {"text": str(index)})) == str(index)
        assert server.connections == len(server.methods)
        assert not outlet._idle


async def test_a_call_whose_connection_closed_unanswered_fails_alone_and_is_not_sent_again(
    nursery: trio.Nursery,
) -> None:
    # Request 3 (after initialize and initialized) is the first call, 4 the second: on the same, reused connection.
    server = RawServer(drop=4)
    async with raw_client(nursery, server, max_connections=1) as (client, _):
        assert text(await client.call_tool("echo", {"text": "one"})) == "one"
        with pytest.raises(HttpConnectionError, match="closed the connection before answering"):
            await client.call_tool("echo", {"text": "two"})
        assert server.calls("echo") == 2  # "two" reached the server once: it may have run, so it was not re-sent
        assert text(await client.call_tool("echo", {"text": "three"})) == "three"  # the session goes on
        assert server.calls("echo") == 3


async def test_an_idempotent_request_whose_connection_closed_unanswered_is_sent_once_more(
    nursery: trio.Nursery,
) -> None:
    server = RawServer(drop=4)
    async with raw_client(nursery, server, max_connections=1) as (client, _):
        assert text(await client.call_tool("echo", {"text": "one"})) == "one"
        assert [tool.name for tool in await client.list_tools()] == ["echo"]
        assert server.methods.count("tools/list") == 2


async def test_waiting_callers_get_connections_in_arrival_order_and_a_cancelled_one_frees_its_turn(
    nursery: trio.Nursery,
) -> None:
    server = RawServer()
    async with raw_client(nursery, server, max_connections=1) as (client, outlet):
        answers: list[str] = []

        gone = trio.CancelScope()

        async def call(tag: str) -> None:
            answers.append(text(await client.call_tool("echo", {"text": tag})))

        async def cancelled() -> None:
            with gone:
                await call("gone")

        async with trio.open_nursery() as calls:
            calls.start_soon(lambda: client.call_tool("block"))
            await server.blocked.wait()
            calls.start_soon(call, "first")
            await trio.testing.wait_all_tasks_blocked()
            calls.start_soon(cancelled)
            await trio.testing.wait_all_tasks_blocked()
            assert len(outlet._queue) == 2
            gone.cancel()
            calls.start_soon(call, "last")
            await trio.testing.wait_all_tasks_blocked()
            server.unblock.set()
        assert answers == ["first", "last"]
        assert server.echoed == ["first", "last"]  # in arrival order; the cancelled call never left
        assert server.connections == 1
        assert outlet._open == len(outlet._idle) == 1
        assert not outlet._queue
