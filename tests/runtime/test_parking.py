"""Parked connections (``RuntimeConfig.park_idle_after``): an idle TCP session gives up its task, and gets one
back when input or a close arrives; server notifications still reach it; a shutdown closes it."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing

from mcp_trio.runtime.application import Runtime
from mcp_trio.runtime.config import RuntimeConfig
from mcp_trio.runtime.listeners import TcpListener
from mcp_trio.server.config import ServerConfig
from mcp_trio.server.hub import TOOLS
from mcp_trio.server.server import Server
from mcp_trio.testing import RawClient

SESSIONS = 5


def _server(park_idle_after: float | None) -> Server:
    runtime = RuntimeConfig(shards=2, loop_lag_threshold=None, park_idle_after=park_idle_after)
    server = Server("parking", "1.0", config=ServerConfig(runtime=runtime))

    @server.tool(blocking=False)
    def echo(text: str) -> str:
        return text

    return server


def _parked(runtime: Runtime) -> int:
    return sum(len(shard.parking_lot) for shard in runtime.shards)


def _tasks() -> int:
    return trio.lowlevel.current_statistics().tasks_living


async def _sessions(port: int) -> list[RawClient]:
    clients = []
    for _ in range(SESSIONS):
        client = RawClient(await trio.open_tcp_stream("127.0.0.1", port))
        await client.initialize()
        clients.append(client)
    return clients


async def _echo(client: RawClient, text: str) -> Any:
    answer = await client.request("tools/call", {"name": "echo", "arguments": {"text": text}})
    return answer["result"]["content"][0]["text"]


async def test_idle_connections_give_up_their_task_and_get_it_back_on_input(
    autojump_clock: trio.testing.MockClock,
) -> None:
    server = _server(park_idle_after=2.0)
    async with server.open_runtime() as runtime:
        _, port = await runtime.add_listener(TcpListener("127.0.0.1", 0))
        clients = await _sessions(port)
        await trio.testing.wait_all_tasks_blocked()
        busy = _tasks()
        await trio.sleep(5)  # past the threshold, and a sweep after it
        assert _parked(runtime) == SESSIONS
        assert busy - _tasks() == SESSIONS  # one task each, given up
        assert runtime.admission.connections == SESSIONS  # still open, still counted

        server.hub.post_list_changed(TOOLS)  # a notification reaches a connection with no task
        for client in clients:
            note = await client.receive()
            assert note["method"] == TOOLS

        for index, client in enumerate(clients):  # input wakes each one, and it answers
            assert await _echo(client, f"n{index}") == f"n{index}"
        assert _parked(runtime) == 0
        await trio.sleep(5)
        assert _parked(runtime) == SESSIONS  # parked again

        for client in clients[:2]:  # a client that leaves while parked: its connection ends
            await client.stream.aclose()
        await trio.testing.wait_all_tasks_blocked()
        assert runtime.admission.connections == SESSIONS - 2
        assert _parked(runtime) == SESSIONS - 2
    # The runtime stopped with three connections parked: they were closed, not leaked.
    assert runtime.admission.connections == 0
    for client in clients[2:]:
        with pytest.raises(trio.EndOfChannel):
            await client.receive()
        await client.stream.aclose()


async def test_without_the_setting_nothing_is_parked(autojump_clock: trio.testing.MockClock) -> None:
    server = _server(park_idle_after=None)
    async with server.open_runtime() as runtime:
        _, port = await runtime.add_listener(TcpListener("127.0.0.1", 0))
        clients = await _sessions(port)
        await trio.sleep(120)
        assert _parked(runtime) == 0
        assert await _echo(clients[0], "still") == "still"
        for client in clients:
            await client.stream.aclose()


async def test_a_connection_with_a_request_in_flight_is_not_parked(autojump_clock: trio.testing.MockClock) -> None:
    server = _server(park_idle_after=1.0)
    release = trio.Event()

    @server.tool()
    async def wait() -> str:
        await release.wait()
        return "done"

    async with server.open_runtime() as runtime:
        _, port = await runtime.add_listener(TcpListener("127.0.0.1", 0))
        clients = await _sessions(port)
        client = clients[0]
        await client.send({"jsonrpc": "2.0", "id": 99, "method": "tools/call", "params": {"name": "wait"}})
        await trio.sleep(10)
        assert _parked(runtime) == SESSIONS - 1  # all but the busy one
        release.set()
        answer = await client.response_to(99)
        assert answer["result"]["content"][0]["text"] == "done"
        for each in clients:
            await each.stream.aclose()


def test_the_threshold_must_be_positive() -> None:
    with pytest.raises(ValueError, match="park_idle_after"):
        RuntimeConfig(park_idle_after=0)
