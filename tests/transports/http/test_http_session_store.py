"""Legacy sessions carried on by a process that did not mint them, through a ``SessionStore``; and the two
stores we ship (in memory, bounded and expiring; a directory, shared by the workers of one box)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import msgspec
import pytest
import trio
import trio.testing
from http_test_helpers import RawHttp, build_server, call, encode, open_session, start

from mcp_trio.transports.http import DirectorySessionStore, HttpConfig, InMemorySessionStore, SessionStore


async def test_the_in_memory_store_is_bounded_and_expires(autojump_clock: trio.testing.MockClock) -> None:
    store = InMemorySessionStore(max_sessions=2, ttl=10.0)
    await store.save("a", b"1")
    await store.save("b", b"2")
    await store.save("a", b"1'")  # a save refreshes: "b" is now the least recently saved
    await store.save("c", b"3")
    assert await store.load("b") is None
    assert await store.load("a") == b"1'"
    await trio.sleep(10.0)
    assert await store.load("c") is None  # expired
    assert len(store) == 1
    await store.delete("a")
    assert len(store) == 0
    with pytest.raises(ValueError, match="positive"):
        InMemorySessionStore(max_sessions=0)


async def test_the_directory_store_round_trips_expires_and_refuses_foreign_names(tmp_path: Path) -> None:
    store = DirectorySessionStore(str(tmp_path), ttl=60.0)
    await store.save("worker-1.abc_DEF-123", b"state")
    assert await store.load("worker-1.abc_DEF-123") == b"state"
    for hostile in ("../escape", "a/b", ".hidden", "", "x" * 200, "a.b.c"):
        await store.save(hostile, b"no")
        assert await store.load(hostile) is None
    assert sorted(os.listdir(tmp_path)) == ["worker-1.abc_DEF-123"]
    old = time.time() - 120
    os.utime(tmp_path / "worker-1.abc_DEF-123", (old, old))
    assert await store.load("worker-1.abc_DEF-123") is None  # older than the ttl: gone
    assert os.listdir(tmp_path) == []
    await store.save("s", b"1")
    await store.delete("s")
    await store.delete("s")  # deleting what is not there is fine
    assert await store.load("s") is None


def _subscribe(uri: str) -> bytes:
    return encode({"jsonrpc": "2.0", "id": 5, "method": "resources/subscribe", "params": {"uri": uri}})


@pytest.mark.parametrize("kind", ["memory", "directory"])
async def test_a_process_that_did_not_mint_a_session_adopts_it_from_the_store(
    nursery: trio.Nursery, tmp_path: Path, kind: str
) -> None:
    store: SessionStore = InMemorySessionStore() if kind == "memory" else DirectorySessionStore(str(tmp_path))
    config = HttpConfig(session_store=store)
    first_server, second_server = build_server(), build_server()
    first = await start(nursery, first_server, config)
    second = await start(nursery, second_server, config)
    minted = await RawHttp.connect(first)
    headers = await open_session(minted)
    listing = encode({"jsonrpc": "2.0", "id": 4, "method": "resources/list"})
    resources = await minted.request("POST", "/mcp", headers, listing)
    uri = resources.json()["result"]["resources"][0]["uri"]
    assert (await minted.request("POST", "/mcp", headers, _subscribe(uri))).status == 200

    elsewhere = await RawHttp.connect(second)
    reply = await elsewhere.request("POST", "/mcp", headers, call("echo", {"text": "hi"}))
    assert reply.status == 200, reply  # not a 404: the second process adopted the session
    assert reply.messages()[-1]["result"]["content"][0]["text"] == "hi"
    # The subscription came along: an update posted in the second process reaches this session's stream.
    adopted = second_server.hub
    assert any(uri in (subscriber.uris or ()) for subscriber in adopted._subscribers)

    assert (await elsewhere.request("DELETE", "/mcp", headers)).status == 200
    assert await store.load(headers["mcp-session-id"]) is None
    third = await start(nursery, build_server(), config)
    late = await RawHttp.connect(third)
    assert (await late.request("POST", "/mcp", headers, call("echo", {"text": "x"}))).status == 404


async def test_a_session_the_store_does_not_know_is_still_a_404(nursery: trio.Nursery) -> None:
    port = await start(nursery, build_server(), HttpConfig(session_store=InMemorySessionStore()))
    client = await RawHttp.connect(port)
    headers = {"content-type": "application/json", "accept": "application/json, text/event-stream"}
    headers["mcp-session-id"] = "never-minted"
    reply = await client.request("POST", "/mcp", headers, call("echo", {"text": "x"}))
    assert reply.status == 404
    assert "initialize again" in msgspec.json.decode(reply.body)["error"]["message"]
