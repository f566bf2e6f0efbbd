"""HTTP/1.1 behaviour of the transport: status codes, limits, timeouts, keep-alive, pipelining, chunking."""

from __future__ import annotations

import pytest
import trio
import trio.testing
from http_test_helpers import (
    RawHttp,
    build_server,
    encode,
    modern_headers,
    modern_request,
    post_headers,
    start,
)

from mcp_trio.transports.http import HttpConfig

LIST = modern_request("tools/list")


async def test_unknown_path_is_404_with_a_json_rpc_error_body(nursery: trio.Nursery) -> None:
    client = await RawHttp.connect(await start(nursery, build_server()))
    reply = await client.request("POST", "/elsewhere", modern_headers("tools/list"), LIST)
    assert reply.status == 404
    assert reply.json()["error"]["code"] == -32600
    assert reply.json()["id"] is None


async def test_unsupported_methods_get_405_with_allow(nursery: trio.Nursery) -> None:
    client = await RawHttp.connect(await start(nursery, build_server()))
    reply = await client.request("PUT", "/mcp", post_headers(), b"{}")
    assert (reply.status, reply.headers["allow"]) == (405, "GET, POST, DELETE")
    client = await RawHttp.connect(client.stream.socket.getpeername()[1])
    reply = await client.request("GET", "/mcp", {"accept": "text/event-stream", "mcp-protocol-version": "2026-07-28"})
    assert (reply.status, reply.headers["allow"]) == (405, "POST")


async def test_modern_only_endpoint_refuses_get_and_delete(nursery: trio.Nursery) -> None:
    port = await start(nursery, build_server(), HttpConfig(legacy_sessions=False))
    for method in ("GET", "DELETE"):
        client = await RawHttp.connect(port)
        reply = await client.request(method, "/mcp", {"accept": "text/event-stream", "mcp-session-id": "x"})
        assert (reply.status, reply.headers["allow"]) == (405, "POST")


async def test_wrong_content_type_is_415(nursery: trio.Nursery) -> None:
    client = await RawHttp.connect(await start(nursery, build_server()))
    headers = {**modern_headers("tools/list"), "content-type": "text/plain"}
    reply = await client.request("POST", "/mcp", headers, LIST)
    assert reply.status == 415
    assert reply.json()["error"]["code"] == -32600


async def test_accept_without_json_or_sse_is_406(nursery: trio.Nursery) -> None:
    port = await start(nursery, build_server())
    client = await RawHttp.connect(port)
    reply = await client.request("POST", "/mcp", {**modern_headers("tools/list"), "accept": "text/html"}, LIST)
    assert reply.status == 406
    session_get = await (await RawHttp.connect(port)).request("GET", "/mcp", {"accept": "application/json"})
    assert session_get.status == 406


async def test_bad_json_is_400_with_parse_error(nursery: trio.Nursery) -> None:
    client = await RawHttp.connect(await start(nursery, build_server()))
    reply = await client.request("POST", "/mcp", modern_headers("tools/list"), b'{"jsonrpc": "2.0", "id": 1,')
    assert reply.status == 400
    assert reply.json() == {"jsonrpc": "2.0", "id": None, "error": reply.json()["error"]}
    assert reply.json()["error"]["code"] == -32700
    reply = await client.request("POST", "/mcp", modern_headers("tools/list"), b'{"jsonrpc": "1.0", "id": 7}')
    assert (reply.status, reply.json()["error"]["code"], reply.json()["id"]) == (400, -32600, 7)


async def test_batches_are_refused(nursery: trio.Nursery) -> None:
    client = await RawHttp.connect(await start(nursery, build_server()))
    reply = await client.request("POST", "/mcp", modern_headers("tools/list"), b"[" + LIST + b"]")
    assert (reply.status, reply.json()["error"]["code"]) == (400, -32600)


async def test_declared_oversized_body_is_413_and_the_connection_closes(nursery: trio.Nursery) -> None:
    client = await RawHttp.connect(await start(nursery, build_server(), HttpConfig(max_body_bytes=100)))
    await client.send_raw(
        b"POST /mcp HTTP/1.1\r\nhost: " + client.host.encode() + b"\r\ncontent-type: application/json\r\n"
        b"content-length: 101\r\n\r\n"
    )
    client.expect_raw()
    reply = await client.reply()
    assert (reply.status, reply.headers["connection"]) == (413, "close")
    assert await client.closed()


async def test_chunked_body_over_the_limit_is_413(nursery: trio.Nursery) -> None:
    client = await RawHttp.connect(await start(nursery, build_server(), HttpConfig(max_body_bytes=100)))
    headers = {**modern_headers("tools/list"), "transfer-encoding": "chunked"}
    await client.send("POST", "/mcp", headers, b"x" * 150)
    assert (await client.reply()).status == 413
    assert await client.closed()


async def test_oversized_head_is_431(nursery: trio.Nursery) -> None:
    client = await RawHttp.connect(await start(nursery, build_server(), HttpConfig(max_header_bytes=1024)))
    await client.send_raw(b"POST /mcp HTTP/1.1\r\nhost: x\r\nx-big: " + b"a" * 2000 + b"\r\n\r\n")
    client.expect_raw()
    assert (await client.reply()).status == 431
    assert await client.closed()


async def test_chunked_body_with_expect_100_continue(nursery: trio.Nursery) -> None:
    client = await RawHttp.connect(await start(nursery, build_server()))
    headers = {**modern_headers("tools/list"), "transfer-encoding": "chunked", "expect": "100-continue"}
    head = (
        f"POST /mcp HTTP/1.1\r\nhost: {client.host}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    )
    await client.send_raw(head.encode())
    interim = b""
    while b"\r\n\r\n" not in interim:
        interim += await client.stream.receive_some(1000)
    assert interim.startswith(b"HTTP/1.1 100 ")
    half = len(LIST) // 2
    await client.send_raw(b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n" % (half, LIST[:half], len(LIST) - half, LIST[half:]))
    client.expect_raw()
    assert interim.endswith(b"\r\n\r\n")  # nothing but the interim response yet
    reply = await client.reply()
    assert reply.status == 200
    assert reply.json()["result"]["tools"][0]["name"] == "echo"


async def test_keep_alive_serves_several_requests_on_one_connection(nursery: trio.Nursery) -> None:
    client = await RawHttp.connect(await start(nursery, build_server()))
    for request_id in range(3):
        reply = await client.request(
            "POST", "/mcp", modern_headers("tools/list"), modern_request("tools/list", None, 1)
        )
        assert reply.status == 200, request_id
        assert "connection" not in reply.headers


async def test_pipelined_requests_are_answered_in_order(nursery: trio.Nursery) -> None:
    client = await RawHttp.connect(await start(nursery, build_server()))
    heads = []
    for text in ("first", "second", "third"):
        body = modern_request("tools/call", {"name": "echo", "arguments": {"text": text}})
        headers = modern_headers("tools/call", "echo")
        heads.append(
            f"POST /mcp HTTP/1.1\r\nhost: {client.host}\r\ncontent-length: {len(body)}\r\n".encode()
            + "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode()
            + b"\r\n"
            + body
        )
    await client.send_raw(b"".join(heads))
    texts = []
    for _ in heads:
        client.expect_raw()
        reply = await client.reply()
        texts.append(reply.json()["result"]["content"][0]["text"])
    assert texts == ["first", "second", "third"]


@pytest.mark.parametrize("partial", [b"POST /mcp HTTP/1.1\r\nhost: x\r\n", b"P"])
async def test_a_slow_request_head_gets_408_after_the_header_timeout(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock, partial: bytes
) -> None:
    config = HttpConfig(header_timeout=5.0, keep_alive_timeout=100.0)
    client = await RawHttp.connect(await start(nursery, build_server(), config))
    await client.send_raw(partial)
    client.expect_raw()
    began = trio.current_time()
    with trio.fail_after(60):
        reply = await client.reply()
        assert reply.status == 408
        assert await client.closed()
    assert trio.current_time() - began == pytest.approx(5.0, abs=0.01)


async def test_a_slow_body_gets_408_after_the_body_timeout(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    client = await RawHttp.connect(await start(nursery, build_server(), HttpConfig(body_timeout=7.0)))
    await client.send_raw(
        f"POST /mcp HTTP/1.1\r\nhost: {client.host}\r\ncontent-type: application/json\r\n"
        "content-length: 50\r\n\r\n{".encode()
    )
    client.expect_raw()
    began = trio.current_time()
    with trio.fail_after(60):
        assert (await client.reply()).status == 408
    assert trio.current_time() - began == pytest.approx(7.0, abs=0.01)


async def test_an_idle_keep_alive_connection_is_closed_quietly(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    config = HttpConfig(keep_alive_timeout=20.0, keep_alive_sweep_interval=3.0)
    client = await RawHttp.connect(await start(nursery, build_server(), config))
    assert (await client.request("POST", "/mcp", modern_headers("tools/list"), LIST)).status == 200
    began = trio.current_time()
    with trio.fail_after(60):
        assert await client.stream.receive_some(1000) == b""
    # One sweep per endpoint, not a timer per connection: closed within one sweep interval after the timeout.
    assert 20.0 <= trio.current_time() - began <= 23.0 + 0.01


async def test_a_handler_running_longer_than_the_keep_alive_timeout_is_not_cut_off(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    server = build_server()

    @server.tool()
    async def slow() -> str:
        await trio.sleep(50.0)  # longer than keep_alive_timeout: only idle waits are timed
        return "finally"

    client = await RawHttp.connect(await start(nursery, server, HttpConfig(keep_alive_timeout=20.0)))
    body = modern_request("tools/call", {"name": "slow", "arguments": {}})
    with trio.fail_after(120):
        reply = await client.request("POST", "/mcp", modern_headers("tools/call", "slow"), body)
    assert reply.status == 200
    assert b"finally" in reply.body


async def test_a_notification_is_202_with_no_body(nursery: trio.Nursery) -> None:
    client = await RawHttp.connect(await start(nursery, build_server()))
    note = encode({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1}})
    reply = await client.request("POST", "/mcp", modern_headers("notifications/cancelled"), note)
    assert (reply.status, reply.body) == (202, b"")
