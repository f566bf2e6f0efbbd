"""The stream listeners behind ``Server.serve_tcp``/``serve_unix``, and arbitrary chunking of client input."""

from __future__ import annotations

import itertools
import os
import socket
import stat
from pathlib import Path

import msgspec
import pytest
import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st
from server_test_helpers import LEGACY, call

from mcp_trio.server.server import Server
from mcp_trio.testing import open_client

PING = b'{"jsonrpc":"2.0","id":1,"method":"ping"}\n'


def build_server() -> Server:
    server = Server("listeners")

    @server.tool()
    def echo(text: str) -> str:
        return text

    @server.tool()
    async def async_echo(text: str) -> str:
        await trio.lowlevel.checkpoint()
        return text

    return server


async def test_serve_unix_replaces_a_stale_socket_and_removes_its_own_on_exit(tmp_path: Path) -> None:
    path = str(tmp_path / "stale.sock")
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(path)
    stale.close()
    assert stat.S_ISSOCK(os.stat(path).st_mode)
    async with trio.open_nursery() as nursery:
        bound = await nursery.start(build_server().serve_unix, path)
        assert bound == path
        stream = await trio.open_unix_socket(path)
        async with stream:
            await stream.send_all(PING)
            assert await stream.receive_some(1000) == b'{"jsonrpc":"2.0","id":1,"result":{}}\n'
        nursery.cancel_scope.cancel()
    assert not Path(path).exists()  # noqa: ASYNC240 - a test assertion, not I/O on the event loop


async def test_serve_unix_refuses_to_replace_a_regular_file(tmp_path: Path) -> None:
    path = tmp_path / "not-a-socket"
    path.write_text("precious")
    with pytest.raises(OSError, match="exists and is not a socket"):
        await build_server().serve_unix(str(path))
    assert path.read_text() == "precious"


async def test_serve_tcp_reports_the_bound_port_and_serves_many_connections() -> None:
    async with trio.open_nursery() as nursery:
        host, port = await nursery.start(build_server().serve_tcp, "127.0.0.1", 0)
        assert host == "127.0.0.1"
        assert port > 0
        for _ in range(3):
            stream = await trio.open_tcp_stream(host, port)
            async with stream:
                await stream.send_all(PING)
                assert await stream.receive_some(1000) == b'{"jsonrpc":"2.0","id":1,"result":{}}\n'
        nursery.cancel_scope.cancel()


def _requests() -> bytes:
    lines = [
        {
            "jsonrpc": "2.0",
            "id": 0,
            "method": "initialize",
            "params": {"protocolVersion": LEGACY, "capabilities": {}, "clientInfo": {"name": "c", "version": "1"}},
        },
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": call("echo", {"text": "é\u2028x"})},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": call("async_echo", {"text": "two"})},
        {"jsonrpc": "2.0", "id": 3, "method": "ping"},
    ]
    return b"".join(msgspec.json.encode(line) + b"\n" for line in lines)


REQUESTS = _requests()


@settings(max_examples=30)
@given(cuts=st.lists(st.integers(min_value=1, max_value=len(REQUESTS) - 1), max_size=12, unique=True))
async def test_any_chunking_of_the_input_gives_the_same_answers(cuts: list[int]) -> None:
    bounds = [0, *sorted(cuts), len(REQUESTS)]
    async with open_client(build_server()) as client:
        for start, end in itertools.pairwise(bounds):
            await client.stream.send_all(REQUESTS[start:end])
            await trio.testing.wait_all_tasks_blocked()
        with trio.fail_after(5):
            responses = {r["id"]: r for r in [await client.receive() for _ in range(4)]}
    assert responses[0]["result"]["protocolVersion"] == LEGACY
    assert responses[1]["result"] == {"content": [{"type": "text", "text": "é\u2028x"}]}
    assert responses[2]["result"] == {"content": [{"type": "text", "text": "two"}]}
    assert responses[3]["result"] == {}
