"""``Runtime.drain``: stop accepting, refuse new work explicitly, let the requests in flight finish in time."""

from __future__ import annotations

import trio
import trio.testing

from mcp_trio import Server
from mcp_trio.runtime import TcpListener
from mcp_trio.testing import RawClient


def slow_server() -> Server:
    server = Server("slow")

    @server.tool()
    async def nap(seconds: float) -> str:
        await trio.sleep(seconds)
        return f"napped {seconds}"

    return server


async def test_drain_lets_requests_in_flight_finish_and_refuses_new_ones(
    autojump_clock: trio.testing.MockClock,
) -> None:
    client_stream, server_stream = trio.testing.memory_stream_pair()
    async with slow_server().open_runtime() as runtime:
        host, port = await runtime.add_listener(TcpListener("127.0.0.1", 0))
        runtime.serve_stream(server_stream)
        client = RawClient(client_stream)
        await client.initialize()
        await client.send(
            {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "nap", "arguments": {"seconds": 5}}}
        )
        await trio.sleep(1)
        assert runtime.admission.in_flight == 1
        async with trio.open_nursery() as nursery:
            outcome: list[bool] = []

            async def drain() -> None:
                outcome.append(await runtime.drain(30))

            nursery.start_soon(drain)
            await trio.sleep(0.1)
            refused = await client.request("tools/call", {"name": "nap", "arguments": {"seconds": 1}})
            assert refused["error"]["code"] == -32000
            assert refused["error"]["data"]["reason"] == "draining"
            answer = await client.response_to(7)
            assert answer["result"]["content"][0]["text"] == "napped 5.0"
        assert outcome == [True]
        try:
            await trio.open_tcp_stream(host, port)
        except OSError:
            pass
        else:
            raise AssertionError("the listener still accepts after drain")


async def test_drain_gives_up_at_its_deadline(autojump_clock: trio.testing.MockClock) -> None:
    client_stream, server_stream = trio.testing.memory_stream_pair()
    async with slow_server().open_runtime() as runtime:
        runtime.serve_stream(server_stream)
        client = RawClient(client_stream)
        await client.initialize()
        await client.send(
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "tools/call",
                "params": {"name": "nap", "arguments": {"seconds": 100}},
            }
        )
        await trio.sleep(1)
        started = trio.current_time()
        assert await runtime.drain(10) is False
        assert trio.current_time() - started == 10


async def test_drain_ends_listen_streams_with_their_final_result(autojump_clock: trio.testing.MockClock) -> None:
    from mcp_trio.demo import build_demo_server
    from mcp_trio.testing import modern_meta

    client_stream, server_stream = trio.testing.memory_stream_pair()
    async with build_demo_server().open_runtime() as runtime:
        runtime.serve_stream(server_stream)
        client = RawClient(client_stream)
        params = {"notifications": {"toolsListChanged": True}, "_meta": modern_meta()}
        await client.send({"jsonrpc": "2.0", "id": 5, "method": "subscriptions/listen", "params": params})
        acknowledged = await client.receive()
        assert acknowledged["method"] == "notifications/subscriptions/acknowledged"
        assert await runtime.drain(5) is True
        final = await client.response_to(5)
        assert final["result"]["resultType"] == "complete"


async def test_connections_are_counted_by_transport_as_they_open_and_close() -> None:
    async with slow_server().open_runtime() as runtime:
        client_stream, server_stream = trio.testing.memory_stream_pair()
        handle = runtime.serve_stream(server_stream)
        await RawClient(client_stream).initialize()
        assert runtime.connections_by_transport() == {"ndjson": 1}
        await client_stream.aclose()
        with trio.fail_after(5):
            await handle.wait()  # the connection ended, and left its shard's tables
        assert runtime.connections_by_transport() == {}
