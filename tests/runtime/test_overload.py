"""Overload control: every limit refuses at once, explicitly, and is counted; nothing accepted is lost."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import msgspec
import pytest
import trio
import trio.testing
from hypothesis import given
from hypothesis import strategies as st

from mcp_trio.protocol.framing import NEED_DATA, LineFramer
from mcp_trio.protocol.jsonrpc import encode_message, error_response
from mcp_trio.runtime.admission import Admission, Refusal
from mcp_trio.runtime.application import Runtime
from mcp_trio.runtime.config import RuntimeConfig
from mcp_trio.runtime.listeners import HttpListener, TcpListener
from mcp_trio.server.config import BreakerSettings, ServerConfig
from mcp_trio.server.server import Server
from mcp_trio.server.tools import ToolError
from mcp_trio.testing import RawClient, modern_meta

LEGACY = "2025-11-25"


def build_server(server_config: dict[str, Any] | None = None, **runtime: Any) -> Server:
    runtime.setdefault("loop_lag_threshold", None)
    runtime.setdefault("shards", 2)
    config = ServerConfig(runtime=RuntimeConfig(**runtime), **(server_config or {}))
    server = Server("overload", "1.0", config=config)

    @server.tool(blocking=False)
    def echo(text: str) -> str:
        return text

    @server.tool()
    async def nap(seconds: float) -> str:
        await trio.sleep(seconds)
        return "rested"

    @server.tool(task_support="optional")
    async def job(seconds: float) -> str:
        await trio.sleep(seconds)
        return "done"

    return server


@asynccontextmanager
async def running(server: Server) -> AsyncIterator[Runtime]:
    async with server.open_runtime() as runtime:
        yield runtime


async def connect(runtime: Runtime, *, initialize: bool = True) -> RawClient:
    client_stream, server_stream = trio.testing.memory_stream_pair()
    runtime.serve_stream(server_stream)
    client = RawClient(client_stream)
    if initialize:
        await client.initialize()
    return client


def call(name: str, request_id: Any, **arguments: Any) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments},
    }


def busy(reason: str, retry_after_ms: int = 1000) -> dict[str, Any]:
    """The ``data`` of a refusal."""
    return {"reason": reason, "retryAfterMs": retry_after_ms}


# ------------------------------------------------------------------------------------------ work in flight


async def test_past_the_server_wide_in_flight_limit_a_request_is_refused_at_once_and_counted(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with running(build_server(max_in_flight=2)) as runtime:
        client = await connect(runtime)
        for index in range(3):
            await client.send(call("nap", index, seconds=5))
        refused = await client.receive()
        assert trio.current_time() == 0  # at once, not after the running calls
        assert refused["id"] == 2
        assert refused["error"]["code"] == -32000
        assert refused["error"]["data"] == busy("in_flight")
        assert runtime.overload()["in_flight"] == 2
        assert {(await client.receive())["id"] for _ in range(2)} == {0, 1}
        assert runtime.overload()["in_flight"] == 0
        assert runtime.overload()["refusals"] == {"in_flight": 1}
        # Requests answered inline never wait anywhere: they are not in flight and are never refused for it.
        await client.send(call("nap", 10, seconds=5))
        await client.send(call("nap", 11, seconds=5))
        echoed = await client.request("tools/call", {"name": "echo", "arguments": {"text": "hi"}})
        assert echoed["result"]["content"][0]["text"] == "hi", echoed


async def test_each_shard_has_its_own_in_flight_limit(autojump_clock: trio.testing.MockClock) -> None:
    async with running(build_server(max_in_flight_per_shard=1, shards=2)) as runtime:
        first = await connect(runtime)  # connection 1: shard 1
        second = await connect(runtime)  # connection 2: shard 0
        await first.send(call("nap", "a", seconds=5))
        await trio.testing.wait_all_tasks_blocked()
        refused = await first.request("tools/call", {"name": "nap", "arguments": {"seconds": 5}})
        assert refused["error"]["data"] == busy("in_flight_per_shard")
        await second.send(call("nap", "b", seconds=5))  # another shard: accepted
        assert (await second.receive())["result"]["content"][0]["text"] == "rested"


async def test_listen_streams_have_a_limit_of_their_own_and_are_not_in_flight() -> None:
    async with running(build_server(max_listen_streams=1, max_in_flight=1)) as runtime:
        client = await connect(runtime, initialize=False)
        listen = {"notifications": {"toolsListChanged": True}, "_meta": modern_meta()}
        await client.send({"jsonrpc": "2.0", "id": "L1", "method": "subscriptions/listen", "params": listen})
        acknowledged = await client.receive()
        assert acknowledged["method"] == "notifications/subscriptions/acknowledged"
        refused = await client.request("subscriptions/listen", listen)
        assert refused["error"]["data"] == busy("listen_streams")
        assert runtime.overload()["listen_streams"] == 1
        assert runtime.overload()["in_flight"] == 0


async def test_a_full_task_store_refuses_new_tasks_with_reason_tasks(autojump_clock: trio.testing.MockClock) -> None:
    async with running(build_server({"max_tasks": 1})) as runtime:
        client = await connect(runtime, initialize=False)
        meta = modern_meta({"extensions": {"io.modelcontextprotocol/tasks": {}}})
        params = {"name": "job", "arguments": {"seconds": 5}, "_meta": meta}
        created = await client.request("tools/call", params)
        assert created["result"]["resultType"] == "task"
        refused = await client.request("tools/call", params)
        assert refused["error"]["code"] == -32000
        assert refused["error"]["data"]["reason"] == "tasks"
        assert runtime.overload()["refusals"] == {"tasks": 1}


# ------------------------------------------------------------------------------------------ connections


async def _tcp_line(port: int) -> dict[str, Any]:
    """Connect and read the first message the server sends (a refusal, here), then the end of the stream."""
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    framer = LineFramer()
    with trio.fail_after(5):
        while (line := framer.next_message()) is NEED_DATA:
            data = await stream.receive_some(65536)
            assert data, "closed without an answer"
            framer.receive_data(bytes(data))
        assert await stream.receive_some(65536) == b""  # then closed
    await stream.aclose()
    message: dict[str, Any] = msgspec.json.decode(line)  # type: ignore[arg-type]
    return message


async def test_past_the_connection_limit_a_connection_gets_the_refusal_then_is_closed() -> None:
    async with running(build_server(max_connections=2)) as runtime:
        _, port = await runtime.add_listener(TcpListener("127.0.0.1", 0))
        kept = [RawClient(await trio.open_tcp_stream("127.0.0.1", port)) for _ in range(2)]
        for client in kept:
            await client.initialize()
        refusal = await _tcp_line(port)
        assert refusal["id"] is None
        assert refusal["error"]["code"] == -32000
        assert refusal["error"]["data"] == busy("connections")
        assert runtime.overload()["connections"] == 2
        await kept[0].stream.aclose()
        with trio.fail_after(5):
            while runtime.overload()["connections"] != 1:
                await trio.testing.wait_all_tasks_blocked()
        again = RawClient(await trio.open_tcp_stream("127.0.0.1", port))
        await again.initialize()  # a slot was freed
        await again.stream.aclose()
        await kept[1].stream.aclose()


async def test_a_burst_of_queued_connections_is_refused_in_the_accept_loop_each_with_its_answer() -> None:
    """Connections waiting in the kernel's queue are drained in batches; each refused one reads its refusal then
    EOF, whether its request was already sent (drained before closing) or not (the client closes first)."""
    async with running(build_server(max_connections=1, max_refusing=4)) as runtime:
        _, port = await runtime.add_listener(TcpListener("127.0.0.1", 0))
        kept = RawClient(await trio.open_tcp_stream("127.0.0.1", port))
        await kept.initialize()
        queued = []
        for index in range(300):  # the handshake completes in the kernel: nothing accepts until we checkpoint
            sock = socket.create_connection(("127.0.0.1", port))
            if index % 2:
                sock.sendall(b'{"jsonrpc":"2.0","id":1,"method":"ping"}\n')
            queued.append(trio.SocketStream(trio.socket.from_stdlib_socket(sock)))
        for stream in queued:
            data = b""
            with trio.fail_after(5):
                while chunk := await stream.receive_some(65536):
                    data += chunk
            refusal = msgspec.json.decode(data)
            assert data.endswith(b"\n")
            assert refusal["error"]["data"] == busy("connections")
            await stream.aclose()
        assert runtime.overload()["refusals"]["connections"] == 300
        await kept.stream.aclose()


async def test_each_shard_has_its_own_connection_limit() -> None:
    async with running(build_server(max_connections_per_shard=1, shards=2)) as runtime:
        _, port = await runtime.add_listener(TcpListener("127.0.0.1", 0))
        kept = [RawClient(await trio.open_tcp_stream("127.0.0.1", port)) for _ in range(2)]  # ids 1, 2
        for client in kept:
            await client.initialize()
        refusal = await _tcp_line(port)  # id 3: shard 1 again
        assert refusal["error"]["data"] == busy("connections_per_shard")
        for client in kept:
            await client.stream.aclose()


async def test_the_accept_rate_refuses_connections_past_its_burst_with_the_wait() -> None:
    async with running(build_server(accept_rate=0.5, accept_burst=2)) as runtime:
        _, port = await runtime.add_listener(TcpListener("127.0.0.1", 0))
        kept = [RawClient(await trio.open_tcp_stream("127.0.0.1", port)) for _ in range(2)]
        for client in kept:
            await client.initialize()
        refusal = await _tcp_line(port)
        assert refusal["error"]["data"]["reason"] == "accept_rate"
        assert 1000 < refusal["error"]["data"]["retryAfterMs"] <= 2000  # one token every 2 s
        for client in kept:
            await client.stream.aclose()


async def test_an_http_connection_past_the_limit_gets_a_503_with_retry_after() -> None:
    async with running(build_server(max_connections=1)) as runtime:
        _, port = await runtime.add_listener(HttpListener("127.0.0.1", 0))
        kept = await trio.open_tcp_stream("127.0.0.1", port)
        await trio.testing.wait_all_tasks_blocked()
        refused = await trio.open_tcp_stream("127.0.0.1", port)
        await refused.send_all(b"POST /mcp HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: 2\r\n\r\n{}")
        data = b""
        with trio.fail_after(5):
            while chunk := await refused.receive_some(65536):
                data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 503 ")
        assert b"\r\nretry-after: 1\r\n" in head.lower()
        assert msgspec.json.decode(body)["error"]["data"] == busy("connections")
        await refused.aclose()
        await kept.aclose()


# ------------------------------------------------------------------------------------------ handshakes


async def test_a_connection_that_does_not_complete_its_handshake_in_time_is_told_and_closed(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with running(build_server(handshake_timeout=5.0)) as runtime:
        silent = await connect(runtime, initialize=False)
        half = await connect(runtime, initialize=False)
        await half.request(
            "initialize",
            {"protocolVersion": LEGACY, "capabilities": {}, "clientInfo": {"name": "half", "version": "1"}},
        )  # ...and never notifications/initialized
        done = await connect(runtime)
        modern = await connect(runtime, initialize=False)
        await modern.request("tools/call", {"name": "echo", "arguments": {"text": "x"}, "_meta": modern_meta()})
        await trio.sleep(7)
        for client in (silent, half):
            last = await client.receive()
            assert last["error"]["data"] == busy("handshake")
            with pytest.raises(trio.EndOfChannel):
                await client.receive()
        for client in (done, modern):  # their handshakes are complete: they stay
            assert (await client.request("ping"))["result"] == {}
        assert runtime.overload()["refusals"] == {"handshake": 2}
        assert 5.0 <= trio.current_time() <= 7.0


async def test_a_legacy_http_session_never_initialized_ends_at_its_handshake_deadline(
    autojump_clock: trio.testing.MockClock,
) -> None:
    from tests.transports.http.http_test_helpers import RawHttp, initialize_body, post_headers

    async with running(build_server(handshake_timeout=5.0)) as runtime:
        _, port = await runtime.add_listener(HttpListener("127.0.0.1", 0))
        client = await RawHttp.connect(port)
        reply = await client.request("POST", "/mcp", post_headers(), initialize_body())
        headers = post_headers(**{"mcp-session-id": reply.headers["mcp-session-id"], "mcp-protocol-version": LEGACY})
        assert len(runtime.sessions) == 1
        await trio.sleep(7)
        assert len(runtime.sessions) == 0
        gone = await client.request("POST", "/mcp", headers, b'{"jsonrpc":"2.0","id":1,"method":"ping"}')
        assert gone.status == 404
        await client.aclose()


# ------------------------------------------------------------------------------------------ rate limits


async def test_a_connection_past_its_rate_is_refused_with_the_exact_wait(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with running(build_server(connection_rate=1.0, connection_burst=2)) as runtime:
        client = await connect(runtime)  # initialize is the first request of the bucket
        assert (await client.request("ping"))["result"] == {}
        refused = await client.request("ping")
        assert refused["error"]["data"] == busy("rate_limit_connection", 1000)
        await trio.sleep(1)
        assert (await client.request("ping"))["result"] == {}
        assert runtime.overload()["refusals"] == {"rate_limit_connection": 1}


async def test_one_client_identity_shares_its_rate_across_its_connections(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with running(build_server(client_rate=1.0, client_burst=3)) as runtime:
        first = await connect(runtime)  # 1 request (initialize; notifications are free)
        second = await connect(runtime)  # 2
        assert (await first.request("ping"))["result"] == {}  # 3
        refused = await second.request("ping")
        assert refused["error"]["data"]["reason"] == "rate_limit_client"


# ------------------------------------------------------------------------------------------ shedding


async def test_shedding_refuses_connections_then_requests_and_recovers_with_hysteresis(
    autojump_clock: trio.testing.MockClock,
) -> None:
    config = {"shed_loop_lag": (1.0, 5.0), "shed_recover_after": 2.0, "load_check_interval": 1000.0}
    async with running(build_server(**config)) as runtime:
        _, port = await runtime.add_listener(TcpListener("127.0.0.1", 0))
        client = await connect(runtime)
        admission = runtime.admission
        admission.sample(trio.current_time(), rss=None, lag=2.0)  # past the first threshold
        assert runtime.overload()["shedding"] == "refuse_connections"
        assert (await _tcp_line(port))["error"]["data"] == busy("shedding")
        assert (await client.request("ping"))["result"] == {}  # requests still accepted
        admission.sample(trio.current_time(), rss=None, lag=6.0)  # past the second
        refused = await client.request("ping")
        assert refused["error"]["data"] == busy("shedding")
        admission.sample(trio.current_time(), rss=None, lag=0.0)
        assert runtime.overload()["shedding"] == "refuse_requests"  # calm must last: no flapping
        await trio.sleep(2)
        admission.sample(trio.current_time(), rss=None, lag=0.0)
        assert runtime.overload()["shedding"] == "refuse_connections"  # one level at a time
        assert (await client.request("ping"))["result"] == {}
        await trio.sleep(2)
        admission.sample(trio.current_time(), rss=None, lag=0.0)
        assert runtime.overload()["shedding"] == "normal"
        await (await trio.open_tcp_stream("127.0.0.1", port)).aclose()
        assert runtime.overload()["refusals"] == {"shedding": 2}


# ------------------------------------------------------------------------------------------ a tool's breaker


async def test_a_tool_that_keeps_failing_is_refused_by_its_breaker_until_a_probe_succeeds(
    autojump_clock: trio.testing.MockClock,
) -> None:
    server = build_server()
    calls: list[str] = []

    @server.tool(blocking=False, breaker=BreakerSettings(failure_threshold=2, open_timeout=10.0))
    def flaky(fail: bool) -> str:
        calls.append("failed" if fail else "ok")
        if fail:
            raise ConnectionError("the database is down")
        return "ok"

    @server.tool(blocking=False, breaker=BreakerSettings(failure_threshold=1))
    def reported(fail: bool) -> str:
        raise ToolError("not found")  # a reported error says nothing about the dependency: never trips it

    async with running(server) as runtime:
        client = await connect(runtime)

        async def use(name: str, fail: bool) -> dict[str, Any]:
            reply = await client.request("tools/call", {"name": name, "arguments": {"fail": fail}})
            result: dict[str, Any] = reply["result"]
            return result

        assert (await use("flaky", True))["isError"] is True
        assert (await use("flaky", True))["isError"] is True
        refused = await use("flaky", False)
        assert refused["isError"] is True
        assert "circuit breaker open" in refused["content"][0]["text"]
        assert "retry in 10.0 s" in refused["content"][0]["text"]
        assert calls == ["failed", "failed"]  # the refused call never ran
        await trio.sleep(10)
        assert (await use("flaky", False)) == {"content": [{"type": "text", "text": "ok"}]}  # the probe closes it
        assert (await use("flaky", False)) == {"content": [{"type": "text", "text": "ok"}]}
        for _ in range(3):
            assert (await use("reported", True))["content"][0]["text"] == "not found"
        breaker = server.tools["reported"].breaker
        assert breaker is not None
        assert breaker.statistics(trio.current_time()).state == "closed"


# ------------------------------------------------------------------------------------------ end to end


async def test_an_overloaded_server_answers_every_request_exactly_once_over_real_sockets() -> None:
    async with running(build_server(max_in_flight=5)) as runtime:
        _, port = await runtime.add_listener(TcpListener("127.0.0.1", 0))
        clients = [RawClient(await trio.open_tcp_stream("127.0.0.1", port)) for _ in range(10)]
        for client in clients:
            await client.initialize()
        answers: list[list[dict[str, Any]]] = [[] for _ in clients]

        async def burst(index: int, client: RawClient) -> None:
            for request_id in range(3):
                await client.send(call("nap", request_id, seconds=0.05))
            while len(answers[index]) < 3:
                answers[index].append(await client.receive())

        with trio.fail_after(20):
            async with trio.open_nursery() as nursery:
                for index, client in enumerate(clients):
                    nursery.start_soon(burst, index, client)
        results = refusals = 0
        for received in answers:
            assert sorted(answer["id"] for answer in received) == [0, 1, 2]  # exactly once each
            for answer in received:
                if "result" in answer:
                    results += 1
                else:
                    assert answer["error"]["data"]["reason"] == "in_flight"
                    refusals += 1
        assert results + refusals == 30
        assert results >= 5
        assert runtime.overload()["refusals"].get("in_flight", 0) == refusals
        assert runtime.overload()["in_flight"] == 0
        for client in clients:
            await client.stream.aclose()


async def test_an_http_refusal_is_a_503_with_retry_after_and_the_reason(
    autojump_clock: trio.testing.MockClock,
) -> None:
    from tests.transports.http.http_test_helpers import RawHttp, modern_headers, modern_request

    async with running(build_server(max_in_flight=1)) as runtime:
        _, port = await runtime.add_listener(HttpListener("127.0.0.1", 0))
        first, second = await RawHttp.connect(port), await RawHttp.connect(port)
        await first.send(
            "POST",
            "/mcp",
            modern_headers("tools/call", "nap"),
            modern_request("tools/call", {"name": "nap", "arguments": {"seconds": 5}}),
        )
        await trio.testing.wait_all_tasks_blocked()
        reply = await second.request(
            "POST",
            "/mcp",
            modern_headers("tools/call", "nap"),
            modern_request("tools/call", {"name": "nap", "arguments": {"seconds": 5}}),
        )
        assert reply.status == 503
        assert reply.headers["retry-after"] == "1"
        assert reply.json()["error"]["data"] == busy("in_flight")
        assert (await first.reply()).status == 200
        await first.aclose()
        await second.aclose()


# ------------------------------------------------------------------------------------------ refusal templates


@given(
    request_id=st.one_of(st.none(), st.integers(min_value=-(2**63), max_value=2**63 - 1), st.text()),
    message=st.text(),
    reason=st.text(min_size=1),
    retry_after_ms=st.integers(min_value=0, max_value=10**9),
)
def test_a_refusal_template_answers_exactly_as_the_error_would_encode(
    request_id: int | str | None, message: str, reason: str, retry_after_ms: int
) -> None:
    refusal = Refusal(message, reason, retry_after_ms)
    assert refusal.answer(request_id) == encode_message(error_response(refusal.error(), request_id))
    error = refusal.error()
    assert (error.reason, error.retry_after_ms, error.message) == (reason, retry_after_ms, message)


def test_refusals_are_counted_each_time_and_their_templates_shared_and_bounded() -> None:
    admission = Admission(RuntimeConfig())
    first = admission.refusal("in_flight", "10 requests in progress")
    assert admission.refusal("in_flight", "10 requests in progress") is first
    assert admission.refusal("in_flight", "10 requests in progress", retry_after=0.0101).retry_after_ms == 11
    assert admission.refusals == {"in_flight": 3}
    for wait in range(2000):  # many distinct hints: the cache starts over instead of growing
        admission.refusal("rate_limit_connection", "over 5 requests/s", retry_after=wait / 1000)
    assert len(admission._templates) <= 512
    assert admission.refusals["rate_limit_connection"] == 2000
