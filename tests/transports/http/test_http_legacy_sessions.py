"""The 2025-x session wire over HTTP: session lifecycle, resumable SSE, server requests, cancellation."""

from __future__ import annotations

import pytest
import trio
import trio.testing
from http_test_helpers import (
    LEGACY,
    Probe,
    RawHttp,
    build_server,
    call,
    encode,
    initialize_body,
    open_session,
    post_headers,
    start,
)

from mcp_trio.runtime.config import RuntimeConfig
from mcp_trio.server.config import ServerConfig
from mcp_trio.transports.http import HttpConfig, InMemoryEventStore

LIST = encode({"jsonrpc": "2.0", "id": 1, "method": "tools/list"})


async def test_initialize_mints_a_visible_ascii_session_id(nursery: trio.Nursery) -> None:
    client = await RawHttp.connect(await start(nursery, build_server()))
    reply = await client.request("POST", "/mcp", post_headers(), initialize_body())
    assert reply.status == 200
    session_id = reply.headers["mcp-session-id"]
    assert len(session_id) >= 32
    assert all(0x21 <= ord(c) <= 0x7E for c in session_id)
    assert reply.json()["result"]["protocolVersion"] == LEGACY


async def test_session_lifecycle_400_404_and_delete(nursery: trio.Nursery) -> None:
    client = await RawHttp.connect(await start(nursery, build_server()))
    headers = await open_session(client)
    assert (await client.request("POST", "/mcp", headers, LIST)).json()["result"]["tools"]
    no_session = {k: v for k, v in headers.items() if k != "mcp-session-id"}
    assert (await client.request("POST", "/mcp", no_session, LIST)).status == 400
    unknown = {**headers, "mcp-session-id": "no-such-session"}
    assert (await client.request("POST", "/mcp", unknown, LIST)).status == 404
    assert (await client.request("DELETE", "/mcp", headers)).status == 200
    assert (await client.request("POST", "/mcp", headers, LIST)).status == 404
    assert (await client.request("DELETE", "/mcp", headers)).status == 404


async def test_an_unsupported_protocol_version_header_is_400(nursery: trio.Nursery) -> None:
    client = await RawHttp.connect(await start(nursery, build_server()))
    headers = await open_session(client)
    reply = await client.request("POST", "/mcp", {**headers, "mcp-protocol-version": "1999-01-01"}, LIST)
    assert reply.status == 400
    absent = {k: v for k, v in headers.items() if k != "mcp-protocol-version"}
    assert (await client.request("POST", "/mcp", absent, LIST)).status == 200  # assumed 2025-03-26


async def test_json_rpc_errors_of_a_live_session_are_200(nursery: trio.Nursery) -> None:
    client = await RawHttp.connect(await start(nursery, build_server()))
    headers = await open_session(client)
    body = encode({"jsonrpc": "2.0", "id": 5, "method": "no/such/method"})
    reply = await client.request("POST", "/mcp", headers, body)
    assert (reply.status, reply.json()["error"]["code"]) == (200, -32601)


async def test_a_long_request_streams_with_a_priming_event_and_event_ids(nursery: trio.Nursery) -> None:
    client = await RawHttp.connect(await start(nursery, build_server(), HttpConfig(sse_retry_ms=250)))
    headers = await open_session(client)
    reply = await client.request("POST", "/mcp", headers, call("progress", _meta={"progressToken": "t"}))
    assert reply.headers["content-type"] == "text/event-stream"
    events = reply.events()
    assert events[0] == {"id": "1-0", "retry": "250", "data": ""}
    assert [e["id"] for e in events[1:]] == ["1-1", "1-2", "1-3"]
    assert '"progressed"' in events[-1]["data"]


async def test_close_stream_then_resume_with_last_event_id_delivers_the_result(nursery: trio.Nursery) -> None:
    probe = Probe()
    port = await start(nursery, build_server(probe))
    client = await RawHttp.connect(port)
    headers = await open_session(client)
    with trio.fail_after(10):
        reply = await client.request("POST", "/mcp", headers, call("reconnect", request_id=7))
        events = reply.events()
        assert events[0]["data"] == ""
        assert events[-1] == {"retry": "10"}
        assert '"before"' in events[1]["data"]
        last_id = events[1]["id"]
        probe.release.set()
        resumed = await RawHttp.connect(port)
        get_headers = {**headers, "accept": "text/event-stream", "last-event-id": last_id}
        await resumed.send("GET", "/mcp", get_headers)
        assert (await resumed.head())[0] == 200
        replayed = await resumed.events_until(lambda e: '"result"' in e.get("data", ""))
    assert '"after"' in replayed[0]["data"]
    assert '"id":7' in replayed[-1]["data"]
    assert "reconnected closed=True" in replayed[-1]["data"]
    assert [e["id"] for e in replayed] == ["1-2", "1-3"]


async def test_a_disconnect_is_not_a_cancel_and_the_answer_waits_for_a_resume(nursery: trio.Nursery) -> None:
    probe = Probe()
    port = await start(nursery, build_server(probe))
    client = await RawHttp.connect(port)
    headers = await open_session(client)
    with trio.fail_after(10):
        await client.send("POST", "/mcp", headers, call("hang", request_id=3, _meta={"progressToken": 1}))
        await client.head()
        seen = await client.events_until(lambda e: "progress" in e.get("data", ""))
        await client.aclose()
        await trio.testing.wait_all_tasks_blocked()
        probe.release.set()
        await probe.finished.wait()
        resumed = await RawHttp.connect(port)
        get_headers = {**headers, "accept": "text/event-stream", "last-event-id": seen[-1]["id"]}
        reply = await resumed.request("GET", "/mcp", get_headers)
    assert not probe.cancelled.is_set()
    assert '"released"' in reply.events()[-1]["data"]


async def test_notifications_cancelled_cancels_the_running_request(nursery: trio.Nursery) -> None:
    probe = Probe()
    port = await start(nursery, build_server(probe))
    client = await RawHttp.connect(port)
    headers = await open_session(client)
    with trio.fail_after(10):
        await client.send("POST", "/mcp", headers, call("hang", request_id=4))
        await probe.started.wait()
        cancel = encode({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 4}})
        other = await RawHttp.connect(port)
        assert (await other.request("POST", "/mcp", headers, cancel)).status == 202
        await probe.cancelled.wait()
        reply = await client.reply()
    assert "result" not in reply.body.decode()


async def test_sampling_mid_call_goes_out_on_the_post_stream_and_the_answer_comes_back(nursery: trio.Nursery) -> None:
    port = await start(nursery, build_server())
    client = await RawHttp.connect(port)
    headers = await open_session(client, capabilities={"sampling": {}})
    with trio.fail_after(10):
        await client.send("POST", "/mcp", headers, call("sample", request_id=11))
        await client.head()
        events = await client.events_until(lambda e: "sampling/createMessage" in e.get("data", ""))
        asked = trio_json(events[-1]["data"])
        answer = {"role": "assistant", "content": {"type": "text", "text": "42"}, "model": "m", "stopReason": "endTurn"}
        other = await RawHttp.connect(port)
        response = encode({"jsonrpc": "2.0", "id": asked["id"], "result": answer})
        assert (await other.request("POST", "/mcp", headers, response)).status == 202
        events = await client.events_until(lambda e: '"result"' in e.get("data", ""))
    assert "model said 42" in events[-1]["data"]


def trio_json(data: str):  # type: ignore[no-untyped-def]
    import json

    return json.loads(data)


async def test_the_standalone_stream_carries_list_changed_and_is_exclusive(nursery: trio.Nursery) -> None:
    server = build_server()
    port = await start(nursery, server)
    client = await RawHttp.connect(port)
    headers = await open_session(client)
    get_headers = {**headers, "accept": "text/event-stream"}
    with trio.fail_after(10):
        listener = await RawHttp.connect(port)
        await listener.send("GET", "/mcp", get_headers)
        assert (await listener.head())[0] == 200
        primed = await listener.events_until(lambda e: "id" in e)
        assert primed[-1]["data"] == ""
        second = await (await RawHttp.connect(port)).request("GET", "/mcp", get_headers)
        assert second.status == 409
        server.add_tool(lambda: "new", name="added", description="Added later.")
        events = await listener.events_until(lambda e: "list_changed" in e.get("data", ""))
    assert "notifications/tools/list_changed" in events[-1]["data"]
    assert events[-1]["id"].startswith("0-")


async def test_the_session_cap_answers_503(nursery: trio.Nursery) -> None:
    client = await RawHttp.connect(await start(nursery, build_server(), HttpConfig(max_sessions=1)))
    await open_session(client)
    reply = await client.request("POST", "/mcp", post_headers(), initialize_body())
    assert (reply.status, reply.headers["retry-after"]) == (503, "1")


async def test_idle_sessions_expire(nursery: trio.Nursery, autojump_clock: trio.testing.MockClock) -> None:
    config = HttpConfig(session_idle_timeout=60.0)
    server = build_server()
    server.config = ServerConfig(runtime=RuntimeConfig(session_sweep_interval=10.0))  # the runtime sweeps
    client = await RawHttp.connect(await start(nursery, server, config))
    headers = await open_session(client)
    await trio.sleep(50)
    assert (await client.request("POST", "/mcp", headers, LIST)).status == 200
    await trio.sleep(50)
    assert (await client.request("POST", "/mcp", headers, LIST)).status == 200
    await trio.sleep(71)
    assert (await client.request("POST", "/mcp", headers, LIST)).status == 404


@pytest.mark.parametrize(("limit", "kept"), [("count", [4, 5]), ("bytes", [4, 5]), ("age", [5])])
async def test_the_in_memory_event_store_is_bounded(
    autojump_clock: trio.testing.MockClock, limit: str, kept: list[int]
) -> None:
    store = InMemoryEventStore(
        max_events=3 if limit == "count" else 100,
        max_bytes=20 if limit == "bytes" else 10_000,
        max_age=5.0 if limit == "age" else 1000.0,
    )
    for seq in range(1, 6):
        await store.append("s", 1, seq, b"0123456789")
        await trio.sleep(3)
    if limit == "count":
        await store.append("s", 2, 1, b"x")  # another stream's event counts towards the session's limit
    replayed = await store.replay("s", 1, 0, 100)
    assert [seq for seq, _ in replayed][-len(kept) :] == kept
    assert len(replayed) == len(kept)
    await store.discard("s")
    assert await store.replay("s", 1, 0, 100) == []
