"""The supervised runtime: the live tree, shards and their tables, and what fails stays where it failed."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest
import trio
import trio.testing

from mcp_trio.runtime.config import RuntimeConfig
from mcp_trio.runtime.listeners import HttpListener, TcpListener
from mcp_trio.server.config import ServerConfig
from mcp_trio.server.context import Context
from mcp_trio.server.server import Server
from mcp_trio.testing import RawClient
from supervision import ChildSpec, EventKind, Restart


def build_server(shards: int = 4, **runtime: Any) -> Server:
    config = ServerConfig(runtime=RuntimeConfig(shards=shards, loop_lag_threshold=None, **runtime))
    server = Server("tree", "1.0", config=config)

    @server.tool(blocking=False)
    def echo(text: str) -> str:
        return text

    @server.tool()
    async def nap(seconds: float) -> str:
        await trio.sleep(seconds)
        return "rested"

    return server


async def memory_client(runtime: Any) -> RawClient:
    client_stream, server_stream = trio.testing.memory_stream_pair()
    runtime.serve_stream(server_stream)
    client = RawClient(client_stream)
    await client.initialize()
    return client


async def echo(client: RawClient, text: str = "hi") -> str:
    response = await client.request("tools/call", {"name": "echo", "arguments": {"text": text}})
    answer: str = response["result"]["content"][0]["text"]
    return answer


@pytest.mark.parametrize("shards", [16, 64, 256])
async def test_the_tree_runs_with_any_shard_count_and_connections_spread_over_the_shards(shards: int) -> None:
    server = build_server(shards)
    async with server.open_runtime() as runtime:
        clients = [await memory_client(runtime) for _ in range(shards + 3)]
        for client in clients:
            assert await echo(client) == "hi"
        counts = [figures.connections for figures in runtime.statistics()]
        assert sum(counts) == shards + 3
        assert max(counts) - min(counts) <= 1  # ids are sequential: round robin over the shards
        shard_children = [child for child in runtime.app.which_children() if child.id.startswith("shard-")]
        assert len(shard_children) == shards


async def test_the_live_tree_shows_listeners_shards_connections_and_requests() -> None:
    server = build_server(2)
    async with server.open_runtime() as runtime:
        _, port = await runtime.add_listener(TcpListener("127.0.0.1", 0))
        client = await memory_client(runtime)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(client.request, "tools/call", {"name": "nap", "arguments": {"seconds": 5}})
            await trio.testing.wait_all_tasks_blocked()
            text = runtime.format_tree()
            tree = runtime.tree()
            nursery.cancel_scope.cancel()
    lines = text.splitlines()
    assert lines[0].startswith("mcp-trio [one_for_one] running")
    for name in ("housekeeping", "background", "shard-0", "shard-1", f"tcp://127.0.0.1:{0}"):
        assert any(f"── {name} running" in line for line in lines), (name, text)
    shard = next(child["tree"] for child in tree["children"] if child["id"] == "shard-1")
    assert [child["id"] for child in shard["children"]] == ["requests", "connections", "sessions"]
    requests = shard["children"][0]["tree"]
    connections = shard["children"][1]["tree"]
    assert (len(requests["children"]), len(connections["children"])) == (1, 1)
    assert port > 0


async def test_a_connection_id_and_a_session_id_lead_to_their_object_through_the_shard() -> None:
    server = build_server(8)
    async with server.open_runtime() as runtime:
        client_stream, server_stream = trio.testing.memory_stream_pair()
        handle = runtime.serve_stream(server_stream)
        connection = handle.value
        assert runtime.connection(connection.id) is connection
        assert runtime.shard_of(connection.id).connection_table[connection.id] is connection
        assert runtime.connection(10**9) is None
        await client_stream.aclose()
        await handle.wait()
        assert runtime.connection(connection.id) is None

        _, port = await runtime.add_listener(HttpListener("127.0.0.1", 0))
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        body = (
            b'{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25",'
            b'"capabilities":{},"clientInfo":{"name":"t","version":"1"}}}'
        )
        await stream.send_all(
            b"POST /mcp HTTP/1.1\r\nhost: 127.0.0.1:%d\r\ncontent-type: application/json\r\n"
            b"accept: application/json\r\ncontent-length: %d\r\n\r\n%s" % (port, len(body), body)
        )
        head = b""
        while b"\r\n\r\n" not in head:
            head += await stream.receive_some(65536)
        session_id = next(
            line.split(b":", 1)[1].strip().decode()
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"mcp-session-id")
        )
        session = runtime.sessions.get(session_id)
        assert session is not None
        assert runtime.sessions.place_of(session_id).sessions[session_id] is session
        assert len(runtime.sessions) == 1
        await stream.aclose()


async def test_a_failing_shard_is_restarted_alone_and_the_other_shards_keep_their_connections(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = build_server(4)
    async with server.open_runtime() as runtime:
        clients = [await memory_client(runtime) for _ in range(8)]  # ids 1..8: two per shard
        doomed_shard = runtime.shards[1]
        doomed = [c for c, cid in zip(clients, range(1, 9), strict=True) if cid % 4 == 1]
        kept = [c for c in clients if c not in doomed]

        async def bomb(*, task_status: trio.TaskStatus[None]) -> None:
            task_status.started()
            raise RuntimeError("a bug inside the shard")

        restarted = trio.Event()
        runtime.app.subscribe(lambda event: restarted.set() if event.kind is EventKind.RESTARTED else None)
        with caplog.at_level(logging.ERROR):
            # A permanent child that keeps failing makes the shard exceed its restart intensity and fail.
            await doomed_shard.supervisor.start_child(ChildSpec("bomb", bomb, restart=Restart.PERMANENT))
            with trio.fail_after(5):
                await restarted.wait()
        assert runtime.app.statistics().restarts == 1
        for client in doomed:
            with pytest.raises((trio.EndOfChannel, trio.BrokenResourceError)):  # the shard closed them
                await echo(client)
        for client in kept:
            assert await echo(client) == "hi"
        assert [figures.connections for figures in runtime.statistics()] == [2, 0, 2, 2]
        fresh = [await memory_client(runtime) for _ in range(4)]  # ids 9..12: one lands in the restarted shard
        for client in fresh:
            assert await echo(client) == "hi"
        assert runtime.statistics()[1].connections == 1
        assert "supervisor 'shard-1'" in caplog.text


async def test_a_handler_that_ignores_cancellation_is_abandoned_logged_and_counted_at_shutdown(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    server = build_server(2, shutdown_timeout=3.0)
    released = trio.Event()

    @server.tool()
    async def stubborn(ctx: Context) -> str:
        with trio.CancelScope(shield=True):
            await released.wait()
        return "finally"

    async def release_later() -> None:
        await trio.sleep(60)
        released.set()

    async with trio.open_nursery() as outer:
        outer.start_soon(release_later)
        with caplog.at_level(logging.ERROR, logger="supervision"):
            async with server.open_runtime() as runtime:
                stuck = await memory_client(runtime)
                other = await memory_client(runtime)
                await stuck.send({"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {"name": "stubborn"}})
                await trio.testing.wait_all_tasks_blocked()
                assert await echo(other) == "hi"
                stopping_at = trio.current_time()
        # The tree abandoned the stubborn handler after its timeout and stopped everything else meanwhile;
        # it could only return once the handler ended on its own.
        assert trio.current_time() == pytest.approx(60.0)
        assert stopping_at == 0.0
        abandoned = sum(figures.abandoned for figures in runtime.statistics())
        assert abandoned >= 1
        assert "did not stop within 3s of being cancelled" in caplog.text
        with pytest.raises(trio.EndOfChannel):
            await other.receive()


async def test_a_blocking_synchronous_handler_never_stalls_other_sessions() -> None:
    server = build_server(2)
    gate = threading.Event()
    entered = threading.Event()

    @server.tool()
    def blocking_query() -> str:
        """Blocks its thread, as a synchronous database call would."""
        entered.set()
        gate.wait(10)
        return "queried"

    async with server.open_runtime() as runtime:
        _, port = await runtime.add_listener(TcpListener("127.0.0.1", 0))
        slow = RawClient(await trio.open_tcp_stream("127.0.0.1", port))
        fast = RawClient(await trio.open_tcp_stream("127.0.0.1", port))
        await slow.initialize()
        await fast.initialize()
        async with trio.open_nursery() as nursery:
            answers: list[dict[str, Any]] = []

            async def call_slow() -> None:
                answers.append(await slow.request("tools/call", {"name": "blocking_query"}))

            nursery.start_soon(call_slow)
            await trio.to_thread.run_sync(entered.wait, 10)
            # The blocking handler holds its worker thread, not the event loop: the other session is served.
            with trio.fail_after(5):
                for index in range(20):
                    assert await echo(fast, str(index)) == str(index)
            assert answers == []
            gate.set()
        assert answers[0]["result"]["content"][0]["text"] == "queried"
        await slow.stream.aclose()
        await fast.stream.aclose()


async def test_hostile_input_on_one_tcp_connection_never_disturbs_the_others() -> None:
    server = build_server(4)
    async with server.open_runtime() as runtime:
        _, port = await runtime.add_listener(TcpListener("127.0.0.1", 0))
        clients = [RawClient(await trio.open_tcp_stream("127.0.0.1", port)) for _ in range(6)]
        for client in clients:
            await client.initialize()
        attacker, others = clients[0], clients[1:]
        hostile = [
            b"[" * 4000,
            b'{"a":' * 4000,
            b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":'
            + b"[" * 5000
            + b"}}}",
            b'{"jsonrpc":"2.0","id":' + b"7" * 6000 + b',"method":"ping"}',
            b'{"jsonrpc":"2.0","id":2,"method":"ping","params":' + b'{"_meta":' * 3000 + b"}",
        ]

        async def attack() -> None:
            for _ in range(20):
                for data in hostile:
                    await attacker.send(data)
                    answer = await attacker.receive()
                    assert answer["error"]["code"] in (-32700, -32600, -32602), answer

        async def keep_calling(client: RawClient, name: str) -> None:
            for index in range(50):
                assert await echo(client, f"{name}-{index}") == f"{name}-{index}"

        with trio.fail_after(30):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(attack)
                for index, client in enumerate(others):
                    nursery.start_soon(keep_calling, client, str(index))
        assert await echo(attacker) == "hi"  # the attacker's own session survived its garbage too
        assert sum(figures.failed_connections for figures in runtime.statistics()) == 0
        for client in clients:
            await client.stream.aclose()


class _BuggyStream(trio.abc.Stream):
    """An in-memory stream whose reads start failing with an unexpected error (a bug in connection code)."""

    def __init__(self, inner: trio.abc.Stream) -> None:
        self.inner = inner
        self.fail = False

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self.inner.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self.inner.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        data = await self.inner.receive_some(max_bytes)
        if self.fail:
            raise RuntimeError("a bug in the connection's code")
        return data

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_an_unexpected_error_in_connection_code_ends_that_connection_only_logged_and_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = build_server(2)
    async with server.open_runtime() as runtime:
        bystander = await memory_client(runtime)
        client_stream, server_stream = trio.testing.memory_stream_pair()
        buggy = _BuggyStream(server_stream)
        handle = runtime.serve_stream(buggy)
        victim = RawClient(client_stream)
        await victim.initialize()
        await victim.request("ping")  # a round trip: the server has read everything sent so far
        buggy.fail = True
        with caplog.at_level(logging.ERROR, logger="supervision"):
            await victim.send({"jsonrpc": "2.0", "id": 5, "method": "ping"})
            with trio.fail_after(5):
                await handle.wait()
        assert await echo(bystander, "still") == "still"
        shard = runtime.shard_of(handle.value.id)
        assert shard.statistics().failed_connections == 1
        assert runtime.connection(handle.value.id) is None
    record = next(r for r in caplog.records if "exited abnormally" in r.getMessage())
    assert f"<connection {handle.value.id} " in record.getMessage()
    assert f"supervisor '{shard.name}/connections'" in record.getMessage()
    assert record.exc_info is not None
    assert "a bug in the connection's code" in str(record.exc_info[1])
