"""Compact state: what a connection or session holds (``size_info``/``estimate_memory``), and the hand-off of a
legacy session to another process (``export`` / ``adopt``)."""

from __future__ import annotations

import platform
from typing import Any

import msgspec
import pytest
import trio
import trio.testing
from hypothesis import given
from hypothesis import strategies as st

from mcp_trio.demo import COUNTER_URI, build_demo_server
from mcp_trio.protocol.errors import InvalidRequest
from mcp_trio.protocol.jsonrpc import decode_message
from mcp_trio.protocol.session import ServerSession, decode_snapshot, encode_snapshot
from mcp_trio.runtime import application
from mcp_trio.runtime.config import RuntimeConfig
from mcp_trio.runtime.listeners import HttpListener
from mcp_trio.runtime.memory import ReleasePolicy, release_free_memory
from mcp_trio.server.config import ServerConfig
from mcp_trio.server.server import Server
from mcp_trio.testing import RawClient
from mcp_trio.transports.http.event_store import InMemoryEventStore
from mcp_trio.transports.http.legacy import LegacyEndpoint
from mcp_trio.transports.http.sessions import HttpSession, decode_export
from mcp_trio.transports.stream import TASK_BYTES
from tests.transports.http.http_test_helpers import RawHttp, initialize_body, post_headers

LEGACY = "2025-11-25"
INITIALIZE = (
    b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25",'
    b'"capabilities":{"sampling":{},"roots":{"listChanged":true}},"clientInfo":{"name":"desk","version":"1.2"}}}'
)


def demo() -> Server:
    server = build_demo_server()
    server.config = ServerConfig(runtime=RuntimeConfig(shards=2, loop_lag_threshold=None))
    return server


def test_a_session_snapshot_is_small_and_restores_the_negotiated_state() -> None:
    server = demo()
    session = ServerSession(server.profile)
    session.receive(decode_message(INITIALIZE))  # type: ignore[arg-type]
    session.receive(decode_message(b'{"jsonrpc":"2.0","method":"notifications/initialized"}'))  # type: ignore[arg-type]
    session.receive(
        decode_message(b'{"jsonrpc":"2.0","id":2,"method":"logging/setLevel","params":{"level":"error"}}')  # type: ignore[arg-type]
    )
    data = encode_snapshot(session.snapshot())
    assert len(data) < 120
    restored = ServerSession.restore(server.profile, decode_snapshot(data))
    for field in ("phase", "version", "client_capabilities", "client_info", "log_level", "next_request_id"):
        assert getattr(restored, field) == getattr(session, field), field
    with pytest.raises(InvalidRequest):
        decode_snapshot(b"\x93not a snapshot")


async def test_a_connection_says_what_it_holds() -> None:
    async with demo().open_runtime() as runtime:
        client_stream, server_stream = trio.testing.memory_stream_pair()
        handle = runtime.serve_stream(server_stream)
        client = RawClient(client_stream)
        await client.initialize()
        await client.request("ping")  # notifications/initialized has been read: the session subscribed
        connection: Any = handle.value
        info = connection.size_info()
        assert set(info) >= {"connection", "stream", "framer", "driver", "session", "client", "subscriber"}
        assert all(size > 0 for size in info.values())
        assert connection.estimate_memory() == sum(info.values()) + TASK_BYTES
        assert 3_000 < connection.estimate_memory() < 8_000  # the idle TCP budget is 6 KB, measured with RSS
        await client_stream.aclose()


async def test_a_legacy_session_moves_to_another_runtime_and_carries_on() -> None:
    first, second = demo(), demo()
    async with first.open_runtime() as old, second.open_runtime() as new:
        _, old_port = await old.add_listener(HttpListener("127.0.0.1", 0))
        _, new_port = await new.add_listener(HttpListener("127.0.0.1", 0))
        client = await RawHttp.connect(old_port)
        reply = await client.request("POST", "/mcp", post_headers(), initialize_body(LEGACY, {"sampling": {}}))
        session_id = reply.headers["mcp-session-id"]
        headers = post_headers(**{"mcp-session-id": session_id, "mcp-protocol-version": LEGACY})
        note = b'{"jsonrpc":"2.0","method":"notifications/initialized"}'
        assert (await client.request("POST", "/mcp", headers, note)).status == 202
        subscribe = b'{"jsonrpc":"2.0","id":2,"method":"resources/subscribe","params":{"uri":"%s"}}' % (
            COUNTER_URI.encode()
        )
        assert (await client.request("POST", "/mcp", headers, subscribe)).status == 200

        session = old.sessions.get(session_id)
        assert isinstance(session, HttpSession)
        info = session.size_info()
        assert {"http_session", "standalone_stream", "driver", "session", "subscriber"} <= set(info)
        assert session.estimate_memory() < 1536  # the budget of an idle legacy session
        exported = session.export()
        assert len(exported) < 200
        assert decode_export(exported)[0] == session_id

        endpoint = LegacyEndpoint(second, second_config(), new.sessions, InMemoryEventStore(10, 10_000, 60))
        adopted = endpoint.adopt(exported)
        assert adopted.ready
        moved = await RawHttp.connect(new_port)
        call = b'{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"increment","arguments":{"by":2}}}'
        answered = await moved.request("POST", "/mcp", headers, call)
        assert answered.status == 200
        assert msgspec.json.decode(answered.body)["result"]["structuredContent"] == {"result": 2}
        assert adopted.port is not None
        assert adopted.port.snapshot() == session.port.snapshot()  # type: ignore[union-attr]
        with pytest.raises(InvalidRequest):
            endpoint.adopt(b"garbage")
        await client.aclose()
        await moved.aclose()


def second_config() -> Any:
    from mcp_trio.transports.http.config import HttpConfig

    return HttpConfig()


# ------------------------------------------------------------------------------------------ memory release


def test_memory_is_released_once_per_busy_period_after_it_ends() -> None:
    policy = ReleasePolicy(min_drop=100)
    assert [policy.update(work) for work in (0, 500, 1200, 900, 700, 600, 20)] == [False] * 7  # busy, easing
    assert policy.update(20) is True  # under half the peak, 1180 fewer, no longer falling: the period is over
    assert [policy.update(work) for work in (500, 400, 300, 250)] == [False] * 4  # the new peak is 500
    assert policy.update(250) is True
    assert policy.releases == 2


def test_a_small_fall_is_not_a_busy_period_however_steep() -> None:
    policy = ReleasePolicy(min_drop=256)
    assert [policy.update(work) for work in (200, 0, 0, 255, 0, 0)] == [False] * 6


def test_nothing_left_is_the_end_of_a_busy_period_at_once() -> None:
    policy = ReleasePolicy(min_drop=10)
    assert [policy.update(work) for work in (100, 0)] == [False, True]


@given(st.lists(st.integers(min_value=0, max_value=10_000), max_size=200), st.integers(min_value=1, max_value=5000))
def test_releases_never_come_closer_than_a_fall_to_half_by_min_drop(works: list[int], min_drop: int) -> None:
    policy = ReleasePolicy(min_drop)
    peak = 0
    for work in works:
        peak = max(peak, work)
        if policy.update(work):
            assert work * 2 <= peak
            assert peak - work >= min_drop
            peak = work


def test_release_free_memory_runs_where_the_c_library_has_it() -> None:
    assert release_free_memory() is (platform.libc_ver()[0] == "glibc")
    with pytest.raises(ValueError, match="min_drop"):
        ReleasePolicy(0)


async def test_the_runtime_releases_memory_when_its_connections_are_gone(
    autojump_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    released: list[int] = []
    monkeypatch.setattr(application, "release_free_memory", lambda: released.append(1) or True)
    config = ServerConfig(runtime=RuntimeConfig(release_memory_after=3, loop_lag_threshold=None, shards=2))
    async with Server("release", "1.0", config=config).open_runtime() as runtime:
        clients = []
        for _ in range(4):
            client_stream, server_stream = trio.testing.memory_stream_pair()
            runtime.serve_stream(server_stream)
            clients.append(client_stream)
        await trio.sleep(1)
        assert released == []
        for stream in clients:
            await stream.aclose()
        await trio.sleep(1)
        assert released == [1]  # once closing stopped
        await trio.sleep(10)
        assert released == [1]  # once per busy period
