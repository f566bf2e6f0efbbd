"""Compact state: what a connection or session holds (``size_info``/``estimate_memory``), and the hand-off of a
legacy session to another process (``export`` / ``adopt``)."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
import trio
import trio.testing

from mcp_trio.demo import COUNTER_URI, build_demo_server
from mcp_trio.protocol.errors import InvalidRequest
from mcp_trio.protocol.jsonrpc import decode_message
from mcp_trio.protocol.session import ServerSession, decode_snapshot, encode_snapshot
from mcp_trio.runtime.config import RuntimeConfig
from mcp_trio.runtime.listeners import HttpListener
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
