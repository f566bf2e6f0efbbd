"""One stream connection: in-flight limit and backpressure, half-close, disconnect, output coalescing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import msgspec
import pytest
import trio
import trio.testing
from server_test_helpers import LEGACY, call, legacy_client, settle

from mcp_trio.runtime.application import Runtime
from mcp_trio.server.config import ServerConfig
from mcp_trio.server.context import Context
from mcp_trio.server.server import Server
from mcp_trio.testing import RawClient


class RecordingStream(trio.abc.Stream):
    """The server's end of an in-memory stream, recording every write; ``break_now`` fakes a reset."""

    def __init__(self, inner: trio.abc.Stream) -> None:
        self.inner = inner
        self.writes: list[bytes] = []
        self.broken = False
        self.closed = False

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(data))
        await self.inner.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self.inner.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        data = await self.inner.receive_some(max_bytes)
        if self.broken:
            raise trio.BrokenResourceError("connection reset (simulated)")
        return data

    async def aclose(self) -> None:
        self.closed = True
        await self.inner.aclose()


class Harness:
    def __init__(self, client: RawClient, server_stream: RecordingStream, runtime: Runtime) -> None:
        self.client = client
        self.server_stream = server_stream
        self.runtime = runtime
        self.served = trio.Event()

    def leftovers(self) -> int:
        """Connections and request tasks the runtime still holds."""
        return sum(len(shard.connection_table) + len(shard.requests) for shard in self.runtime.shards)


@asynccontextmanager
async def serve_one(server: Server) -> AsyncIterator[Harness]:
    """Serve one in-memory connection under the server's tree, so we can see what it leaves behind."""
    client_stream, server_stream = trio.testing.memory_stream_pair()
    recording = RecordingStream(server_stream)
    async with server.open_runtime() as runtime, trio.open_nursery() as outer:
        harness = Harness(RawClient(client_stream), recording, runtime)
        handle = runtime.serve_stream(recording)

        async def watch() -> None:
            await handle.wait()
            harness.served.set()

        outer.start_soon(watch)
        yield harness
        outer.cancel_scope.cancel()


def slow_server(limit: int, policy: str = "block", **config: Any) -> tuple[Server, dict[str, int]]:
    server = Server("slow", config=ServerConfig(max_in_flight=limit, in_flight_policy=policy, **config))
    stats = {"running": 0, "peak": 0, "started": 0}

    @server.tool()
    async def slow(payload: str) -> str:
        stats["running"] += 1
        stats["started"] += 1
        stats["peak"] = max(stats["peak"], stats["running"])
        try:
            await trio.sleep(1)
        finally:
            stats["running"] -= 1
        return payload

    return server, stats


async def test_requests_beyond_the_in_flight_limit_are_all_answered_exactly_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    server, stats = slow_server(3)
    async with legacy_client(server) as client:
        for i in range(20):
            await client.send(
                {"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": call("slow", {"payload": f"p{i}"})}
            )
            await settle()
        answers: dict[Any, dict[str, Any]] = {}
        with trio.fail_after(60):
            while len(answers) < 20:
                response = await client.receive()
                assert response["id"] not in answers, "answered twice"
                answers[response["id"]] = response
        await client.send({"jsonrpc": "2.0", "id": "last", "method": "ping"})
        assert await client.receive() == {"jsonrpc": "2.0", "id": "last", "result": {}}
    assert stats["started"] == 20
    assert {i: a["result"]["content"][0]["text"] for i, a in answers.items()} == {i: f"p{i}" for i in range(20)}


async def test_by_default_requests_past_the_limit_are_refused_at_once_and_named(
    autojump_clock: trio.testing.MockClock,
) -> None:
    server, stats = slow_server(3, policy="refuse")
    async with legacy_client(server) as client:
        for i in range(5):
            await client.send(
                {"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": call("slow", {"payload": "x"})}
            )
        with trio.fail_after(0.5):  # the refusals come at once, not after the running calls (1 s)
            refused = [await client.receive() for _ in range(2)]
        assert [r["id"] for r in refused] == [3, 4]
        for response in refused:
            assert response["error"] == {
                "code": -32000,
                "message": "server busy: 3 requests in progress on this connection; retry later",
                "data": {"reason": "connection_in_flight", "retryAfterMs": 1000},
            }
        assert stats["started"] == 3
        done = {(await client.receive())["id"] for _ in range(3)}
        assert done == {0, 1, 2}
        again = await client.request("tools/call", call("slow", {"payload": "y"}))  # a slot is free again
        assert again["result"]["content"][0]["text"] == "y"


async def test_the_reader_blocks_once_the_limit_is_reached(autojump_clock: trio.testing.MockClock) -> None:
    server, stats = slow_server(3)
    async with legacy_client(server) as client:
        for i in range(5):
            await client.send(
                {"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": call("slow", {"payload": "x"})}
            )
            await settle()
        assert stats["running"] == 3
        assert stats["started"] == 3


async def test_the_in_flight_limit_bounds_running_handlers_even_within_one_chunk(
    autojump_clock: trio.testing.MockClock,
) -> None:
    server, stats = slow_server(3)
    async with legacy_client(server) as client:
        chunk = b"".join(
            msgspec.json.encode(
                {"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": call("slow", {"payload": f"p{i}"})}
            )
            + b"\n"
            for i in range(20)
        )
        await client.stream.send_all(chunk)
        with trio.fail_after(60):
            ids = {(await client.receive())["id"] for _ in range(20)}
    assert ids == set(range(20))
    assert stats["peak"] == 3
    # 20 calls of 1 s, 3 at a time: 7 rounds.
    assert trio.current_time() == pytest.approx(7.0)


async def test_at_the_limit_the_server_stops_reading(autojump_clock: trio.testing.MockClock) -> None:
    server, _ = slow_server(1)
    async with serve_one(server) as harness:
        client = harness.client
        await client.initialize()
        await client.send(
            {"jsonrpc": "2.0", "id": "slow", "method": "tools/call", "params": call("slow", {"payload": "s"})}
        )
        await settle()
        writes_before = len(harness.server_stream.writes)
        await client.send({"jsonrpc": "2.0", "id": "ping", "method": "ping"})
        await settle()
        # The ping waits unread behind the running call.
        assert len(harness.server_stream.writes) == writes_before
        first = await client.receive()
        second = await client.receive()
    assert [first["id"], second["id"]] == ["slow", "ping"]


async def test_a_tool_awaiting_the_client_at_the_in_flight_limit_does_not_deadlock(
    autojump_clock: trio.testing.MockClock,
) -> None:
    server = Server("asks", config=ServerConfig(max_in_flight=1))

    @server.tool()
    async def ask(ctx: Context) -> str:
        answer = await ctx.elicit("ok?", {"type": "object"})
        return answer.action

    async def on_request(message: dict[str, Any]) -> dict[str, Any]:
        return {"action": "accept", "content": {}}

    async with legacy_client(server, capabilities={"elicitation": {}}, on_request=on_request) as client:
        with trio.move_on_after(5) as scope:
            response = await client.request("tools/call", call("ask"))
        assert not scope.cancelled_caught, "deadlocked"
        assert response["result"]["content"][0]["text"] == "accept"


async def test_a_client_that_closes_its_sending_side_gets_answers_to_sync_requests() -> None:
    server, _ = slow_server(64)
    async with serve_one(server) as harness:
        client = harness.client
        await client.initialize()
        for i in range(3):
            await client.send({"jsonrpc": "2.0", "id": i, "method": "ping"})
        await client.stream.send_stream.aclose()  # type: ignore[attr-defined]
        received: list[dict[str, Any]] = []
        with trio.fail_after(10):
            while True:
                try:
                    received.append(await client.receive())
                except trio.EndOfChannel:
                    break
            await harness.served.wait()
    assert [r["id"] for r in received] == [0, 1, 2]
    assert harness.server_stream.closed


async def test_a_client_that_closes_its_sending_side_still_gets_every_answer(
    autojump_clock: trio.testing.MockClock,
) -> None:
    server, _ = slow_server(64)
    async with serve_one(server) as harness:
        client = harness.client
        await client.initialize()
        for i in range(5):
            await client.send(
                {"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": call("slow", {"payload": str(i)})}
            )
        await client.send({"jsonrpc": "2.0", "id": "sync", "method": "ping"})
        await client.stream.send_stream.aclose()  # type: ignore[attr-defined]
        received: list[dict[str, Any]] = []
        with trio.fail_after(10):
            while True:
                try:
                    received.append(await client.receive())
                except trio.EndOfChannel:
                    break
        await harness.served.wait()
    assert sorted(str(r["id"]) for r in received) == ["0", "1", "2", "3", "4", "sync"]
    assert harness.server_stream.closed
    assert trio.current_time() == pytest.approx(1.0)


async def test_half_closed_connection_gives_up_on_requests_after_the_drain_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    server = Server("drain", config=ServerConfig(drain_timeout=4.0))
    seen: list[str] = []

    @server.tool()
    async def forever() -> str:
        try:
            await trio.sleep_forever()
        except trio.Cancelled:
            seen.append("cancelled")
            raise
        return "never"  # pragma: no cover

    async with serve_one(server) as harness:
        await harness.client.initialize()
        await harness.client.send({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": call("forever")})
        await settle()
        start = trio.current_time()
        await harness.client.stream.send_stream.aclose()  # type: ignore[attr-defined]
        with trio.fail_after(60):
            await harness.served.wait()
        await settle()
        assert seen == ["cancelled"]
        assert trio.current_time() - start == pytest.approx(4.0)
        assert harness.leftovers() == 0


async def test_a_broken_connection_cancels_its_in_flight_handlers_and_leaves_no_task() -> None:
    server = Server("reset")
    started = trio.Event()
    seen: list[str] = []

    @server.tool()
    async def forever() -> str:
        started.set()
        try:
            await trio.sleep_forever()
        except trio.Cancelled:
            seen.append("cancelled")
            raise
        return "never"  # pragma: no cover

    @server.tool()
    async def ask(ctx: Context) -> str:
        try:
            await ctx.elicit("?", {"type": "object"})
        except trio.Cancelled:
            seen.append("ask cancelled")
            raise
        return "never"  # pragma: no cover

    async with serve_one(server) as harness:
        client = harness.client
        await client.initialize({"elicitation": {}})
        await client.send({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": call("forever")})
        await client.send({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": call("ask")})
        with trio.fail_after(5):
            await started.wait()
            elicitation = await client.receive()
        assert elicitation["method"] == "elicitation/create"
        harness.server_stream.broken = True
        await client.stream.send_all(b"\n")
        with trio.fail_after(5):
            await harness.served.wait()
        await settle()
        assert sorted(seen) == ["ask cancelled", "cancelled"]
        assert harness.leftovers() == 0
        assert harness.server_stream.closed
        assert len(server.hub) == 0


async def test_answers_produced_by_one_chunk_are_coalesced_into_one_write() -> None:
    server = Server("coalesce")

    @server.tool(blocking=False)  # answered inline by the reader (a worker thread answers on its own)
    def echo(text: str) -> str:
        return text

    async with serve_one(server) as harness:
        client = harness.client
        await client.initialize()
        await settle()
        writes_before = len(harness.server_stream.writes)
        chunk = b"".join(
            msgspec.json.encode(
                {"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": call("echo", {"text": f"t{i}"})}
            )
            + b"\n"
            for i in range(10)
        )
        await client.stream.send_all(chunk)
        responses = [await client.receive() for _ in range(10)]
        await settle()
        new_writes = harness.server_stream.writes[writes_before:]
    assert len(new_writes) == 1
    assert new_writes[0].count(b"\n") == 10
    assert [r["id"] for r in responses] == list(range(10))
    assert [r["result"]["content"][0]["text"] for r in responses] == [f"t{i}" for i in range(10)]


async def test_initialize_response_and_later_requests_in_one_chunk_are_answered_in_order() -> None:
    server = Server("pipelined")

    @server.tool(blocking=False)  # inline answers keep input order (worker threads finish in any order)
    def echo(text: str) -> str:
        return text

    async with serve_one(server) as harness:
        lines = [
            {
                "jsonrpc": "2.0",
                "id": 0,
                "method": "initialize",
                "params": {"protocolVersion": LEGACY, "capabilities": {}, "clientInfo": {"name": "c", "version": "1"}},
            },
            {"jsonrpc": "2.0", "method": "notifications/initialized"},
            *(
                {"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": call("echo", {"text": str(i)})}
                for i in (1, 2)
            ),
        ]
        await harness.client.stream.send_all(b"".join(msgspec.json.encode(line) + b"\n" for line in lines))
        responses = [await harness.client.receive() for _ in range(3)]
    assert [r["id"] for r in responses] == [0, 1, 2]


async def test_a_slow_reader_does_not_lose_output(autojump_clock: trio.testing.MockClock) -> None:
    """Past max_outbox_bytes producers wait; every byte still arrives, in order per request."""
    server = Server("big", config=ServerConfig(max_outbox_bytes=1024))

    @server.tool()
    async def chatty(n: int, ctx: Context) -> str:
        for i in range(n):
            await ctx.info("x" * 200 + str(i))
        return "done"

    async with legacy_client(server) as client:
        await client.send({"jsonrpc": "2.0", "id": "c", "method": "tools/call", "params": call("chatty", {"n": 50})})
        await trio.sleep(1)  # let the outbox fill while nobody reads
        response = await client.response_to("c")
    assert response["result"]["content"][0]["text"] == "done"
    assert [n["params"]["data"][200:] for n in client.notifications] == [str(i) for i in range(50)]
