"""Many concurrent sessions over real TCP: every response arrives exactly once, to the right session."""

from __future__ import annotations

import msgspec
import pytest
import trio
import trio.lowlevel

from mcp_trio.protocol.framing import NEED_DATA, LineFramer
from mcp_trio.server.context import Context
from mcp_trio.server.server import Server

SESSIONS = 1000
CALLS = 4


def build_server() -> Server:
    server = Server("load")

    @server.tool()
    def echo(text: str) -> str:
        return text

    @server.tool()
    async def async_echo(text: str, ctx: Context) -> str:
        await trio.lowlevel.checkpoint()
        return f"{ctx.request_id}:{text}"

    return server


async def one_session(host: str, port: int, session: int, results: dict[int, list[dict]]) -> None:
    stream = await trio.open_tcp_stream(host, port)
    async with stream:
        framer = LineFramer()
        lines = [
            {
                "jsonrpc": "2.0",
                "id": 0,
                "method": "initialize",
                "params": {
                    "protocolVersion": "2025-11-25",
                    "capabilities": {},
                    "clientInfo": {"name": f"s{session}", "version": "0"},
                },
            },
            {"jsonrpc": "2.0", "method": "notifications/initialized"},
        ]
        for call in range(1, CALLS + 1):
            tool = "echo" if call % 2 else "async_echo"
            payload = f"session-{session}-call-{call}"
            lines.append(
                {
                    "jsonrpc": "2.0",
                    "id": call,
                    "method": "tools/call",
                    "params": {"name": tool, "arguments": {"text": payload}},
                }
            )
        await stream.send_all(b"".join(msgspec.json.encode(line) + b"\n" for line in lines))
        received: list[dict] = []
        while len(received) < CALLS + 1:
            data = await stream.receive_some(65536)
            assert data, f"session {session}: server closed early"
            framer.receive_data(bytes(data))
            while (line := framer.next_message()) is not NEED_DATA:
                received.append(msgspec.json.decode(line))
        results[session] = received


@pytest.mark.slow
async def test_a_thousand_concurrent_tcp_sessions_get_every_response_exactly_once() -> None:
    server = build_server()
    results: dict[int, list[dict]] = {}
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            host, port = await nursery.start(server.serve_tcp, "127.0.0.1", 0)
            async with trio.open_nursery() as clients:
                for session in range(SESSIONS):
                    clients.start_soon(one_session, host, port, session, results)
            nursery.cancel_scope.cancel()
    assert len(results) == SESSIONS
    for session, received in results.items():
        by_id = {message["id"]: message for message in received}
        assert len(by_id) == len(received) == CALLS + 1, f"session {session}: duplicate or missing answers"
        assert by_id[0]["result"]["protocolVersion"] == "2025-11-25"
        for call in range(1, CALLS + 1):
            payload = f"session-{session}-call-{call}"
            expected = payload if call % 2 else f"{call}:{payload}"
            assert by_id[call]["result"] == {"content": [{"type": "text", "text": expected}]}, (session, call)
