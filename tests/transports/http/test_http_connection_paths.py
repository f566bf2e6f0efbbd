"""Both ways a request is read (the plain fast path and h11), end to end over loopback, mixed on one connection."""

from __future__ import annotations

import h11
import trio
import trio.testing
from http_test_helpers import RawHttp, Reply, build_server, modern_headers, modern_request, start

from mcp_trio.transports.http.request_head import parse_plain_head

MAX_HEAD = 16 * 1024  # HttpConfig's default max_header_bytes
LIST = modern_request("tools/list")


def _head(client: RawHttp, headers: dict[str, str], version: str = "1.1") -> bytes:
    fields = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return f"POST /mcp HTTP/{version}\r\nhost: {client.host}\r\n{fields}\r\n".encode()


def _request(client: RawHttp, headers: dict[str, str], body: bytes, version: str = "1.1") -> bytes:
    return _head(client, {**headers, "content-length": str(len(body))}, version=version) + body


def _plain(raw: bytes) -> bytes:
    """``raw``, checked to take the fast path."""
    assert parse_plain_head(raw, MAX_HEAD) is not None, raw
    return raw


def _not_plain(raw: bytes) -> bytes:
    """``raw``, checked to go to h11."""
    assert parse_plain_head(raw, MAX_HEAD) is None, raw
    return raw


def _echo(client: RawHttp, text: str) -> bytes:
    body = modern_request("tools/call", {"name": "echo", "arguments": {"text": text}})
    return _request(client, modern_headers("tools/call", "echo"), body)


async def _reply(client: RawHttp, *, expect: bool = True) -> Reply:
    """The next response (guarded: a framing bug must fail the test, not hang it)."""
    if expect:
        client.expect_raw()
    with trio.fail_after(10):
        return await client.reply()


async def _echoed(client: RawHttp) -> str:
    reply = await _reply(client)
    assert reply.status == 200, reply
    return str(reply.json()["result"]["content"][0]["text"])


async def _eof(client: RawHttp) -> bytes:
    """What the socket yields next: ``b""`` once the server has closed it (guarded, never a real wait)."""
    with trio.fail_after(10):
        return bytes(await client.stream.receive_some(1000))


async def test_connection_close_on_the_fast_path_is_answered_then_closed(nursery: trio.Nursery) -> None:
    client = await RawHttp.connect(await start(nursery, build_server()))
    await client.send_raw(_plain(_request(client, modern_headers("tools/list", connection="close"), LIST)))
    reply = await _reply(client)
    assert (reply.status, reply.headers["connection"]) == (200, "close")
    assert reply.json()["result"]["tools"]
    assert await _eof(client) == b""


async def test_an_http_1_0_request_goes_through_h11_and_the_connection_closes(nursery: trio.Nursery) -> None:
    client = await RawHttp.connect(await start(nursery, build_server()))
    await client.send_raw(_not_plain(_request(client, modern_headers("tools/list"), LIST, version="1.0")))
    reply = await _reply(client)
    assert (reply.status, reply.headers["connection"]) == (200, "close")
    assert reply.json()["result"]["tools"]
    assert await _eof(client) == b""


async def test_an_http_1_0_stream_is_delimited_by_closing(nursery: trio.Nursery) -> None:
    client = await RawHttp.connect(await start(nursery, build_server()))
    body = modern_request("tools/call", {"name": "progress"}, request_id=4, progressToken="p")
    await client.send_raw(_not_plain(_request(client, modern_headers("tools/call", "progress"), body, "1.0")))
    reply = await _reply(client)  # h11 reads the body until EOF: no length, no chunks
    assert (reply.status, reply.headers["connection"]) == (200, "close")
    assert "transfer-encoding" not in reply.headers
    assert "content-length" not in reply.headers
    messages = reply.messages()
    assert [m.get("method") for m in messages] == ["notifications/progress", "notifications/progress", None]
    assert messages[-1]["result"]["content"][0]["text"] == "progressed"


async def test_a_request_refused_before_its_body_is_read_keeps_the_connection(nursery: trio.Nursery) -> None:
    client = await RawHttp.connect(await start(nursery, build_server()))
    refused = _request(client, {**modern_headers("tools/list"), "content-type": "text/plain"}, b"hello")
    await client.send_raw(_plain(refused))
    reply = await _reply(client)
    assert reply.status == 415
    assert "connection" not in reply.headers
    await client.send_raw(_echo(client, "after 415"))  # the skipped body must not be read as a request
    assert await _echoed(client) == "after 415"


async def test_plain_then_chunked_then_plain_pipelined_are_answered_in_order(nursery: trio.Nursery) -> None:
    client = await RawHttp.connect(await start(nursery, build_server()))
    body = modern_request("tools/call", {"name": "echo", "arguments": {"text": "second"}})
    half = len(body) // 2
    chunked = _head(client, {**modern_headers("tools/call", "echo"), "transfer-encoding": "chunked"}) + (
        b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n" % (half, body[:half], len(body) - half, body[half:])
    )
    await client.send_raw(_plain(_echo(client, "first")) + _not_plain(chunked) + _plain(_echo(client, "third")))
    assert [await _echoed(client) for _ in range(3)] == ["first", "second", "third"]
    await client.send_raw(_echo(client, "fourth"))  # and the connection is still good
    assert await _echoed(client) == "fourth"


async def test_a_plain_head_split_across_two_sends_is_answered(nursery: trio.Nursery) -> None:
    client = await RawHttp.connect(await start(nursery, build_server()))
    raw = _plain(_echo(client, "split"))
    cut = raw.index(b"\r\n\r\n") // 2
    await client.send_raw(raw[:cut])
    await trio.testing.wait_all_tasks_blocked()  # the server has read the first half: the head is incomplete
    await client.send_raw(raw[cut:])
    assert await _echoed(client) == "split"
    await client.send_raw(_plain(_echo(client, "next")))
    assert await _echoed(client) == "next"


async def test_head_gets_405_with_allow_and_no_body_bytes(nursery: trio.Nursery) -> None:
    client = await RawHttp.connect(await start(nursery, build_server()))
    client.h11 = h11.Connection(h11.CLIENT)  # the oracle knows it asked HEAD: no body may follow the head
    data = client.h11.send(h11.Request(method="HEAD", target="/mcp", headers=[("host", client.host)]))
    data += client.h11.send(h11.EndOfMessage())
    await client.send_raw(_plain(data))
    reply = await _reply(client, expect=False)
    assert (reply.status, reply.headers["allow"], reply.body) == (405, "GET, POST, DELETE", b"")
    assert int(reply.headers["content-length"]) > 0  # declared, never sent
    assert client.h11.trailing_data == (b"", False)
    await client.send_raw(_echo(client, "after HEAD"))
    assert await _echoed(client) == "after HEAD"  # stray body bytes would be read as this response


async def test_a_body_arriving_after_the_head_in_several_sends_is_read_whole(nursery: trio.Nursery) -> None:
    client = await RawHttp.connect(await start(nursery, build_server()))
    raw = _echo(client, "x" * 300)
    head_end = raw.index(b"\r\n\r\n") + 4
    sends = [raw[: head_end + 3], raw[head_end + 3 : head_end + 40], raw[head_end + 40 : -5]]
    assert _plain(sends[0])
    for data in sends:
        await client.send_raw(data)
        await trio.testing.wait_all_tasks_blocked()  # the server has taken it and waits for more
    await client.send_raw(raw[-5:] + _plain(_echo(client, "pipelined")))  # the body's end and the next request
    assert await _echoed(client) == "x" * 300
    assert await _echoed(client) == "pipelined"


async def test_a_streamed_response_on_the_fast_path_is_chunked_and_keeps_the_connection(
    nursery: trio.Nursery,
) -> None:
    client = await RawHttp.connect(await start(nursery, build_server()))
    body = modern_request("tools/call", {"name": "progress"}, request_id=9, progressToken="p")
    await client.send_raw(_plain(_request(client, modern_headers("tools/call", "progress"), body)))
    reply = await _reply(client)  # h11 parsed every chunk and the last one
    assert (reply.status, reply.headers["content-type"]) == (200, "text/event-stream")
    assert reply.headers["transfer-encoding"] == "chunked"
    assert "connection" not in reply.headers
    assert "content-length" not in reply.headers
    messages = reply.messages()
    assert [m.get("method") for m in messages] == ["notifications/progress", "notifications/progress", None]
    assert [m["params"]["progress"] for m in messages[:2]] == [1, 2]
    assert (messages[2]["id"], messages[2]["result"]["content"][0]["text"]) == (9, "progressed")
    assert client.h11.trailing_data == (b"", False)
    await client.send_raw(_echo(client, "after the stream"))
    assert await _echoed(client) == "after the stream"
