"""Legacy SSE resumption (SEP-1699) under a full connection pool: every call's response stream ends after its
priming event, so each call must resume with ``GET`` + ``Last-Event-ID`` while all the pool's slots are (or were)
held by calls in the same state. A resume that waited for a slot while its call still held the dead connection's
would deadlock the whole pool."""

from __future__ import annotations

import functools
import json
from typing import Any

import h11
import pytest
import trio
from client_test_helpers import read_request

from mcp_trio.client import ClientConfig, open_client
from mcp_trio.client.http import HttpOutlet
from mcp_trio.protocol.types import TextContent

SESSION = "resume-session"
MAX_CONNECTIONS = 4


class ResumingServer:
    """A legacy Streamable HTTP server on bare h11. Each ``tools/call`` is answered with an SSE stream holding only
    a priming event (an ``id:`` and ``retry: 10``) that ends without the answer, once ``wave`` calls are in (so
    their connections are all held at the same time); the resume ``GET`` with ``Last-Event-ID`` gets the answer.
    A ``GET`` without one is the standalone stream: it stays open with nothing on it."""

    def __init__(self, wave: int) -> None:
        self.wave = wave
        self.posted = 0
        self.arrived = trio.Event()
        self.answers: dict[str, bytes] = {}  # priming event id -> the call's JSON-RPC response
        self.calls: list[str] = []  # the text of every tools/call read
        self.resumed: list[str] = []  # the Last-Event-ID of every resume
        self.open = 0
        self.peak = 0  # the most connections open at once

    async def handle(self, stream: trio.SocketStream) -> None:
        self.open += 1
        self.peak = max(self.peak, self.open)
        try:
            await self._serve(stream)
        finally:
            self.open -= 1
            await stream.aclose()

    async def _serve(self, stream: trio.SocketStream) -> None:
        h = h11.Connection(h11.SERVER)
        while True:
            request, body = await read_request(stream, h)
            if request is None:
                return
            headers = dict(request.headers)
            if request.method == b"GET":
                assert headers[b"mcp-session-id"] == SESSION.encode()
                last_id = headers.get(b"last-event-id")
                if last_id is None:
                    await stream.send_all(h.send(_sse_head()) or b"")
                    await trio.sleep_forever()  # the standalone stream: holds its connection, sends nothing
                self.resumed.append(last_id.decode())
                await _send_sse(stream, h, b"id: %s-1\ndata: %s\n\n" % (last_id, self.answers[last_id.decode()]))
                return
            if request.method == b"DELETE":
                await _send_json(stream, h, 200, b"", [])
            else:
                message = json.loads(body)
                method = message["method"]
                if method == "tools/call":
                    await self._call(stream, h, message)
                    return  # the stream ended; the client resumes on another connection
                if method == "initialize":
                    result = {
                        "protocolVersion": message["params"]["protocolVersion"],
                        "capabilities": {"tools": {}},
                        "serverInfo": {"name": "resuming", "version": "1"},
                    }
                    answer = json.dumps({"jsonrpc": "2.0", "id": message["id"], "result": result}).encode()
                    await _send_json(stream, h, 200, answer, [("mcp-session-id", SESSION)])
                else:
                    await _send_json(stream, h, 202, b"", [])
            h.start_next_cycle()

    async def _call(self, stream: trio.SocketStream, h: h11.Connection, message: dict[str, Any]) -> None:
        text = message["params"]["arguments"]["text"]
        self.calls.append(text)
        event_id = f"call-{message['id']}"
        result = {"content": [{"type": "text", "text": text}]}
        self.answers[event_id] = json.dumps({"jsonrpc": "2.0", "id": message["id"], "result": result}).encode()
        self.posted += 1
        if self.posted >= self.wave:
            self.arrived.set()
        await self.arrived.wait()
        await _send_sse(stream, h, f"id: {event_id}\nretry: 10\ndata: \n\n".encode())


def _sse_head() -> h11.Response:
    return h11.Response(status_code=200, headers=[("content-type", "text/event-stream")])


async def _send_sse(stream: trio.SocketStream, h: h11.Connection, events: bytes) -> None:
    """A whole SSE response (chunked), ended cleanly: the stream is over, not broken."""
    out = h.send(_sse_head()) or b""
    out += h.send(h11.Data(data=events)) or b""
    await stream.send_all(out + (h.send(h11.EndOfMessage()) or b""))


async def _send_json(
    stream: trio.SocketStream, h: h11.Connection, status: int, body: bytes, extra: list[tuple[str, str]]
) -> None:
    headers = [("content-type", "application/json"), ("content-length", str(len(body))), *extra]
    out = h.send(h11.Response(status_code=status, headers=headers)) or b""
    out += (h.send(h11.Data(data=body)) if body else b"") or b""
    await stream.send_all(out + (h.send(h11.EndOfMessage()) or b""))


@pytest.mark.parametrize("standalone", [False, True], ids=["calls", "with-standalone-stream"])
@pytest.mark.parametrize("extra", [0, 2], ids=["max", "max+2"])
async def test_calls_whose_streams_all_end_early_at_once_resume_without_deadlocking_the_pool(
    nursery: trio.Nursery, standalone: bool, extra: int
) -> None:
    slots = MAX_CONNECTIONS  # the standalone stream has a connection of its own, outside the pool
    calls = slots + extra
    server = ResumingServer(wave=slots)
    listeners = await nursery.start(functools.partial(trio.serve_tcp, server.handle, 0, host="127.0.0.1"))
    port = listeners[0].socket.getsockname()[1]
    config = ClientConfig(era="legacy", standalone_stream=standalone, max_connections=MAX_CONNECTIONS)
    async with open_client(f"http://127.0.0.1:{port}/mcp", config=config) as client:
        outlet = client.driver.outlet
        assert isinstance(outlet, HttpOutlet)
        answers: dict[int, str] = {}

        async def call(index: int) -> None:
            block = (await client.call_tool("echo", {"text": str(index)})).content[0]
            assert isinstance(block, TextContent)
            answers[index] = block.text

        with trio.fail_after(3):
            async with trio.open_nursery() as running:
                for index in range(calls):
                    running.start_soon(call, index)
        assert answers == {index: str(index) for index in range(calls)}
        assert sorted(server.calls) == [str(index) for index in range(calls)]  # each call sent exactly once
        assert len(server.resumed) == calls  # and each resumed once, by its priming event's id
        assert server.peak <= MAX_CONNECTIONS + int(standalone)
        assert not outlet._queue
        assert outlet._open == len(outlet._idle)  # no slot leaked (the standalone stream holds none)


async def test_one_request_connection_and_the_standalone_stream_do_not_starve_each_other(nursery: trio.Nursery) -> None:
    server = ResumingServer(wave=1)
    listeners = await nursery.start(functools.partial(trio.serve_tcp, server.handle, 0, host="127.0.0.1"))
    port = listeners[0].socket.getsockname()[1]
    config = ClientConfig(era="legacy", standalone_stream=True, max_connections=1)
    async with open_client(f"http://127.0.0.1:{port}/mcp", config=config) as client:
        answers: list[str] = []

        async def call(index: int) -> None:
            block = (await client.call_tool("echo", {"text": str(index)})).content[0]
            assert isinstance(block, TextContent)
            answers.append(block.text)

        with trio.fail_after(3):  # the standalone stream used to hold the only slot: every call waited forever
            async with trio.open_nursery() as running:
                for index in range(3):
                    running.start_soon(call, index)
        assert sorted(answers) == ["0", "1", "2"]
