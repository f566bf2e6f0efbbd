"""The stateless 2026-07-28 wire over HTTP: status codes, routing headers, SSE, and disconnect = cancel."""

from __future__ import annotations

import pytest
import trio
import trio.testing
from http_test_helpers import (
    Probe,
    RawHttp,
    build_server,
    encode,
    live_work,
    modern_headers,
    modern_request,
    start,
)

from mcp_trio.transports.hangups import HangupWatch
from mcp_trio.transports.http import HttpConfig


async def _post(port: int, headers: dict[str, str], body: bytes):  # type: ignore[no-untyped-def]
    client = await RawHttp.connect(port)
    return await client.request("POST", "/mcp", headers, body)


async def test_a_synchronous_result_is_json_with_the_modern_result_fields(nursery: trio.Nursery) -> None:
    reply = await _post(
        await start(nursery, build_server()), modern_headers("tools/list"), modern_request("tools/list")
    )
    assert (reply.status, reply.headers["content-type"]) == (200, "application/json")
    result = reply.json()["result"]
    assert result["resultType"] == "complete"
    assert [tool["name"] for tool in result["tools"]][:2] == ["echo", "regional"]
    assert "mcp-session-id" not in reply.headers


@pytest.mark.parametrize("method", ["ping", "initialize", "logging/setLevel", "resources/subscribe", "unknown/method"])
async def test_removed_and_unknown_methods_are_404_with_method_not_found(nursery: trio.Nursery, method: str) -> None:
    port = await start(nursery, build_server())
    reply = await _post(port, modern_headers(method), modern_request(method, request_id=500))
    assert reply.status == 404
    assert reply.json()["error"]["code"] == -32601
    assert reply.json()["id"] == 500


async def test_missing_meta_is_400_invalid_params(nursery: trio.Nursery) -> None:
    body = encode({"jsonrpc": "2.0", "id": 101, "method": "server/discover", "params": {}})
    reply = await _post(await start(nursery, build_server()), modern_headers("server/discover"), body)
    assert (reply.status, reply.json()["error"]["code"], reply.json()["id"]) == (400, -32602, 101)


async def test_an_unsupported_version_is_400_with_the_supported_list(nursery: trio.Nursery) -> None:
    body = modern_request("server/discover", request_id=301, **{"io.modelcontextprotocol/protocolVersion": "v9"})
    headers = modern_headers("server/discover", **{"mcp-protocol-version": "v9"})
    reply = await _post(await start(nursery, build_server()), headers, body)
    error = reply.json()["error"]
    assert (reply.status, error["code"]) == (400, -32022)
    assert error["data"] == {"supported": ["2026-07-28"], "requested": "v9"}


async def test_a_header_version_differing_from_meta_is_400_header_mismatch(nursery: trio.Nursery) -> None:
    body = modern_request("server/discover", request_id=302, **{"io.modelcontextprotocol/protocolVersion": "v9"})
    reply = await _post(await start(nursery, build_server()), modern_headers("server/discover"), body)
    assert (reply.status, reply.json()["error"]["code"], reply.json()["id"]) == (400, -32020, 302)


def _echo(text: str = "hi") -> bytes:
    return modern_request("tools/call", {"name": "echo", "arguments": {"text": text}})


@pytest.mark.parametrize(
    ("headers", "accepted"),
    [
        ({"mcp-method": "tools/call", "mcp-name": "echo"}, True),
        ({"MCP-METHOD": "tools/call", "Mcp-Name": "echo"}, True),
        ({"mcp-method": "tools/call", "mcp-name": "=?base64?ZWNobw==?="}, True),
        ({"mcp-method": "tools/call"}, False),
        ({"mcp-method": "tools/call", "mcp-name": "other"}, False),
        ({"mcp-method": "TOOLS/CALL", "mcp-name": "echo"}, False),
        ({"mcp-method": "tools/list", "mcp-name": "echo"}, False),
        ({"mcp-name": "echo"}, False),
    ],
)
async def test_routing_headers_must_match_the_body(
    nursery: trio.Nursery, headers: dict[str, str], accepted: bool
) -> None:
    base = modern_headers("x")
    del base["mcp-method"]
    reply = await _post(await start(nursery, build_server()), {**base, **headers}, _echo())
    if accepted:
        assert reply.status == 200, reply
        assert reply.json()["result"]["content"][0]["text"] == "hi"
    else:
        assert (reply.status, reply.headers["content-type"]) == (400, "application/json")
        assert reply.json()["error"]["code"] == -32020


async def test_routing_header_values_are_trimmed(nursery: trio.Nursery) -> None:
    client = await RawHttp.connect(await start(nursery, build_server()))
    body = _echo()
    headers = {**modern_headers("tools/call"), "content-length": str(len(body))}
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    await client.send_raw(
        f"POST /mcp HTTP/1.1\r\nhost: {client.host}\r\n{head}mcp-name:   echo  \r\n\r\n".encode() + body
    )
    client.expect_raw()
    reply = await client.reply()
    assert reply.status == 200, reply


def _regional(**arguments: object) -> bytes:
    return modern_request("tools/call", {"name": "regional", "arguments": arguments})


@pytest.mark.parametrize(
    ("arguments", "params", "accepted"),
    [
        ({"region": "Hello"}, {"Region": "=?base64?SGVsbG8=?="}, True),
        ({"region": "Hello"}, {"Region": "=?base64?SGVsbG8?="}, False),  # bad padding
        ({"region": "Hello"}, {"Region": "=?base64?SGVs!!!bG8=?="}, False),  # bad characters
        ({"region": "SGVsbG8="}, {"Region": "SGVsbG8="}, True),  # no sentinel: literal
        ({"region": "=?base64?SGVsbG8="}, {"Region": "=?base64?SGVsbG8="}, True),  # no suffix: literal
        ({"region": "test-value"}, {}, False),  # missing
        ({"region": "a"}, {"Region": "b"}, False),
        ({"count": 42}, {"Count": "42"}, True),
        ({"count": 42}, {"Count": "42.0"}, True),  # numbers compare numerically
        ({"count": 42}, {"Count": "43"}, False),
        ({}, {"Region": "x"}, False),  # a header for an argument the body lacks
        ({}, {}, True),
    ],
)
async def test_mcp_param_headers_follow_x_mcp_header_annotations(
    nursery: trio.Nursery, arguments: dict[str, object], params: dict[str, str], accepted: bool
) -> None:
    headers = modern_headers("tools/call", "regional", **{f"Mcp-Param-{k}": v for k, v in params.items()})
    reply = await _post(await start(nursery, build_server()), headers, _regional(**arguments))
    if accepted:
        assert reply.status == 200, reply
        assert "error" not in reply.json()
    else:
        assert (reply.status, reply.json()["error"]["code"]) == (400, -32020)


async def test_a_coroutine_handler_streams_its_notifications_then_the_answer(nursery: trio.Nursery) -> None:
    body = modern_request("tools/call", {"name": "progress", "_meta_token": 1}, request_id=9, progressToken="p")
    reply = await _post(await start(nursery, build_server()), modern_headers("tools/call", "progress"), body)
    assert reply.status == 200
    assert reply.headers["content-type"] == "text/event-stream"
    assert reply.headers["x-accel-buffering"] == "no"
    events = reply.events()
    assert all("id" not in event for event in events)  # no resumability on this wire
    messages = reply.messages()
    assert [m.get("method") for m in messages] == ["notifications/progress", "notifications/progress", None]
    assert [m["params"]["progress"] for m in messages[:2]] == [1, 2]
    assert messages[2]["id"] == 9
    assert messages[2]["result"]["content"][0]["text"] == "progressed"


async def test_a_coroutine_that_only_answers_is_sent_as_json(nursery: trio.Nursery) -> None:
    body = modern_request("tools/call", {"name": "progress"})  # no progressToken: nothing to stream
    reply = await _post(await start(nursery, build_server()), modern_headers("tools/call", "progress"), body)
    assert (reply.status, reply.headers["content-type"]) == (200, "application/json")
    assert reply.json()["result"]["content"][0]["text"] == "progressed"


async def test_json_only_clients_get_the_answer_without_notifications(nursery: trio.Nursery) -> None:
    body = modern_request("tools/call", {"name": "progress"}, progressToken="p")
    headers = {**modern_headers("tools/call", "progress"), "accept": "application/json"}
    reply = await _post(await start(nursery, build_server()), headers, body)
    assert (reply.status, reply.headers["content-type"]) == (200, "application/json")
    assert reply.json()["result"]["content"][0]["text"] == "progressed"


@pytest.mark.parametrize("watch", ["hangup watch", "watcher task"])
async def test_client_disconnect_cancels_the_handler_and_leaves_no_task(
    nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch, watch: str
) -> None:
    if watch == "watcher task":  # how a stream notices the client leaving without the runtime's watch
        monkeypatch.setattr(HangupWatch, "available", property(lambda self: False))
    probe = Probe()
    port = await start(nursery, build_server(probe))
    client = await RawHttp.connect(port)
    body = modern_request("tools/call", {"name": "hang"}, progressToken="p")
    await client.send("POST", "/mcp", modern_headers("tools/call", "hang"), body)
    with trio.fail_after(10):
        status, _ = await client.head()
        assert status == 200
        await client.events_until(lambda e: "progress" in e.get("data", ""))
        assert live_work(port) == 2  # the connection and its request's handler
        await client.aclose()
        await probe.cancelled.wait()
        await trio.testing.wait_all_tasks_blocked()
    assert not probe.finished.is_set()
    assert live_work(port) == 0


async def test_silent_streams_get_keep_alive_comments(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    probe = Probe()
    port = await start(nursery, build_server(probe), HttpConfig(sse_keepalive_interval=3.0))
    client = await RawHttp.connect(port)
    body = modern_request("tools/call", {"name": "hang"}, progressToken="p")
    await client.send("POST", "/mcp", modern_headers("tools/call", "hang"), body)
    with trio.fail_after(60):
        await client.head()
        await client.events_until(lambda e: "progress" in e.get("data", ""))
        began = trio.current_time()
        events = await client.events_until(lambda e: "comment" in e)
        assert events[-1] == {"comment": "keep-alive"}
        silence = trio.current_time() - began
        assert 3.0 <= silence <= 3.0 + HttpConfig().keep_alive_sweep_interval + 0.01  # at the sweep after 3 s
        probe.release.set()
        events = await client.events_until(lambda e: "result" in e.get("data", ""))
    assert '"released"' in events[-1]["data"]


async def test_ids_may_repeat_and_session_ids_are_ignored(nursery: trio.Nursery) -> None:
    port = await start(nursery, build_server())
    for _ in range(2):
        headers = modern_headers("tools/call", "echo", **{"mcp-session-id": "nonsense"})
        reply = await _post(port, headers, _echo())
        assert reply.status == 200
        assert "mcp-session-id" not in reply.headers


async def test_client_responses_are_refused(nursery: trio.Nursery) -> None:
    body = encode({"jsonrpc": "2.0", "id": 1, "result": {}})
    reply = await _post(await start(nursery, build_server()), modern_headers("x"), body)
    assert (reply.status, reply.json()["error"]["code"]) == (400, -32600)
