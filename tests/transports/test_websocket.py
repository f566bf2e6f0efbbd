"""MCP over WebSocket (SEP-1288), server side: the upgrade and its refusals, both wire eras on the demo server, every
close code, keep-alive and deadlines under a mock clock, refusal at accept; the framer on its own (hypothesis);
and the official TypeScript SDK's ``WebSocketClientTransport`` against us."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import msgspec
import pytest
import trio
import trio.testing
from hypothesis import given
from hypothesis import strategies as st
from wsproto import ConnectionType, WSConnection
from wsproto.connection import Connection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Event,
    Ping,
    Pong,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)

from mcp_trio.demo import build_demo_server
from mcp_trio.protocol.framing import NEED_DATA
from mcp_trio.runtime import RuntimeConfig, WebSocketListener
from mcp_trio.runtime.application import Runtime
from mcp_trio.server.config import ServerConfig
from mcp_trio.server.server import Server
from mcp_trio.testing import modern_meta
from mcp_trio.transports.websocket import WebSocketConfig, WebSocketConnection, WebSocketFramer
from mcp_trio.transports.ws_framer import WSPROTO_BYTES

LEGACY = "2025-11-25"
INITIALIZE = {
    "protocolVersion": LEGACY,
    "capabilities": {},
    "clientInfo": {"name": "ws-test", "version": "0"},
}


def echo(text: str, request_id: Any = 1, meta: dict[str, Any] | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {"name": "echo", "arguments": {"text": text}}
    if meta is not None:
        params["_meta"] = meta
    return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}


def masked_frame(opcode: int, payload: bytes, *, fin: bool = True, mask: bool = True) -> bytes:
    """A client frame built by hand (for what wsproto would refuse to send)."""
    head = bytes([(0x80 if fin else 0) | opcode])
    size = len(payload)
    bit = 0x80 if mask else 0
    if size < 126:
        head += bytes([bit | size])
    elif size < 65536:
        head += bytes([bit | 126]) + size.to_bytes(2, "big")
    else:
        head += bytes([bit | 127]) + size.to_bytes(8, "big")
    if not mask:
        return head + payload
    key = b"\x01\x02\x03\x04"
    return head + key + bytes(byte ^ key[index % 4] for index, byte in enumerate(payload))


class RawWebSocket:
    """A WebSocket client at the frame level (wsproto) for tests: it sends anything and reads every event. Pings
    are answered while reading unless ``answer_pings`` is off; text messages arrive whole."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self.ws = WSConnection(ConnectionType.CLIENT)
        self.pending: list[Event] = []
        self.parts: list[str] = []
        self.answer_pings = True
        self.pings = 0

    @classmethod
    async def connect(
        cls,
        port: int,
        path: str = "/mcp",
        subprotocols: tuple[str, ...] = ("mcp",),
        headers: tuple[tuple[str, str], ...] = (),
        then: bytes = b"",
    ) -> tuple[RawWebSocket, Any]:
        """Upgrade (sending ``then`` right behind the request); the client and the ``AcceptConnection``, or the
        ``RejectConnection`` and its body."""
        client = cls(await trio.open_tcp_stream("127.0.0.1", port))
        extra = [(name.encode(), value.encode()) for name, value in headers]
        request = Request(host=f"127.0.0.1:{port}", target=path, subprotocols=list(subprotocols), extra_headers=extra)
        await client.stream.send_all(client.ws.send(request) + then)
        rejected: RejectConnection | None = None
        body = b""
        while True:
            events = await client._events()
            for index, event in enumerate(events):
                if isinstance(event, AcceptConnection):
                    client.pending.extend(events[index + 1 :])  # frames that came with the 101
                    return client, event
                if isinstance(event, RejectConnection):
                    rejected = event
                elif isinstance(event, RejectData):
                    body += event.data
                    if event.body_finished:
                        return client, (rejected, json.loads(body))

    async def _events(self) -> list[Event]:
        with trio.fail_after(30):
            data = await self.stream.receive_some(65536)
        self.ws.receive_data(data or None)
        return list(self.ws.events())

    async def event(self) -> Event:
        """The next event; a text message only once whole; ``EndOfChannel`` when the server closed TCP."""
        while True:
            while self.pending:
                event = self.pending.pop(0)
                if isinstance(event, Ping):
                    self.pings += 1
                    if self.answer_pings:
                        await self.send_raw(self.ws.send(event.response()))
                    continue
                if isinstance(event, TextMessage) and not event.message_finished:
                    self.parts.append(event.data)
                    continue
                if isinstance(event, TextMessage) and self.parts:
                    event = TextMessage(data="".join([*self.parts, event.data]))
                    self.parts = []
                return event
            with trio.fail_after(30):
                data = await self.stream.receive_some(65536)
            if not data:
                raise trio.EndOfChannel("the server closed the connection")
            self.ws.receive_data(data)
            self.pending.extend(self.ws.events())

    async def send(self, message: Any) -> None:
        text = message if isinstance(message, str) else msgspec.json.encode(message).decode()
        await self.send_raw(self.ws.send(TextMessage(data=text)))

    async def send_raw(self, data: bytes) -> None:
        await self.stream.send_all(data)

    async def receive(self) -> dict[str, Any]:
        event = await self.event()
        assert isinstance(event, TextMessage), event
        decoded: dict[str, Any] = json.loads(event.data)
        return decoded

    async def request(self, message: dict[str, Any]) -> dict[str, Any]:
        await self.send(message)
        while True:
            answer = await self.receive()
            if answer.get("id") == message["id"] and "method" not in answer:
                return answer

    async def initialize(self) -> dict[str, Any]:
        answer = await self.request({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": INITIALIZE})
        await self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return answer

    async def closed(self) -> CloseConnection:
        """Read until the server's Close (answering it), then until it closes TCP; the Close."""
        while True:
            event = await self.event()
            if isinstance(event, CloseConnection):
                break
        if self.ws.state.name == "REMOTE_CLOSING":
            await self.send_raw(self.ws.send(event.response()))
        with trio.fail_after(30):
            while await self.stream.receive_some(65536):
                pass
        await self.stream.aclose()
        return event

    async def aclose(self) -> None:
        await self.stream.aclose()


def demo(**runtime: Any) -> Server:
    server = build_demo_server()
    runtime.setdefault("loop_lag_threshold", None)
    server.config = ServerConfig(runtime=RuntimeConfig(**runtime))
    return server


@asynccontextmanager
async def serving(
    server: Server | None = None, config: WebSocketConfig | None = None, path: str = "/mcp"
) -> AsyncIterator[tuple[Runtime, int]]:
    async with (server or demo()).open_runtime() as runtime:
        _, port = await runtime.add_listener(WebSocketListener("127.0.0.1", 0, path, config))
        yield runtime, port


# ------------------------------------------------------------------------------------------ both eras


async def test_the_legacy_era_initializes_then_calls_tools_one_message_per_text_frame() -> None:
    async with serving() as (runtime, port):
        client, accepted = await RawWebSocket.connect(port)
        assert accepted.subprotocol == "mcp"
        init = await client.initialize()
        assert init["result"]["protocolVersion"] == LEGACY
        assert init["result"]["serverInfo"]["name"] == "mcp-trio-demo"
        answer = await client.request(echo("über"))
        assert answer["result"]["content"] == [{"type": "text", "text": "über"}]
        listed = await client.request({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
        assert "echo" in [tool["name"] for tool in listed["result"]["tools"]]
        (connection,) = [c for shard in runtime.shards for c in shard.connection_table.values()]
        assert isinstance(connection, WebSocketConnection)
        assert connection.size_info()["framer"] > WSPROTO_BYTES  # wsproto's objects are counted
        await client.aclose()


async def test_the_modern_era_carries_meta_in_every_request_without_initialize() -> None:
    async with serving() as (_, port):
        client, _ = await RawWebSocket.connect(port)
        for request_id in range(1, 4):
            answer = await client.request(echo(f"n{request_id}", request_id, modern_meta()))
            assert answer["result"]["content"][0]["text"] == f"n{request_id}"
            assert answer["result"]["resultType"] == "complete"
        await client.aclose()


async def test_requests_of_a_burst_are_answered_in_one_go_and_progress_arrives_as_frames() -> None:
    async with serving() as (_, port):
        client, _ = await RawWebSocket.connect(port)
        await client.initialize()
        burst = b"".join(
            client.ws.send(TextMessage(data=msgspec.json.encode(echo(str(i), i)).decode())) for i in range(20)
        )
        await client.send_raw(burst)
        assert sorted([(await client.receive())["id"] for _ in range(20)]) == list(range(20))
        sleep = {"name": "sleep", "arguments": {"seconds": 0.01}, "_meta": {"progressToken": "p"}}
        await client.send({"jsonrpc": "2.0", "id": 99, "method": "tools/call", "params": sleep})
        progress = [await client.receive() for _ in range(10)]
        assert [note["params"]["progress"] for note in progress] == list(range(1, 11))
        assert (await client.receive())["id"] == 99
        await client.aclose()


async def test_the_in_flight_limit_refuses_as_on_streams() -> None:
    server = demo()
    server.config = ServerConfig(max_in_flight=1, runtime=RuntimeConfig(loop_lag_threshold=None))
    async with serving(server) as (_, port):
        client, _ = await RawWebSocket.connect(port)
        await client.initialize()
        sleep = {"name": "sleep", "arguments": {"seconds": 0.5}}
        await client.send({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": sleep})
        await client.send({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": sleep})
        refused = await client.receive()
        assert refused["id"] == 2
        assert refused["error"]["code"] == -32000
        assert refused["error"]["data"]["reason"] == "connection_in_flight"
        assert (await client.receive())["id"] == 1
        await client.aclose()


# ------------------------------------------------------------------------------------------ the upgrade


async def test_the_mcp_subprotocol_is_echoed_when_offered_absent_when_not_and_others_alone_are_refused() -> None:
    async with serving() as (_, port):
        client, accepted = await RawWebSocket.connect(port, subprotocols=("chat", "mcp"))
        assert isinstance(accepted, AcceptConnection)
        assert accepted.subprotocol == "mcp"
        await client.aclose()
        client, accepted = await RawWebSocket.connect(port, subprotocols=())
        assert isinstance(accepted, AcceptConnection)
        assert accepted.subprotocol is None
        assert (await client.request(echo("none offered", 1, modern_meta())))["result"]
        await client.aclose()
        client, (rejected, body) = await RawWebSocket.connect(port, subprotocols=("chat",))
        assert rejected.status_code == 400
        assert "'mcp' subprotocol" in body["error"]["message"]
        await client.aclose()


async def test_another_path_gets_404_with_a_json_rpc_error() -> None:
    async with serving(path="/ws") as (_, port):
        client, (rejected, body) = await RawWebSocket.connect(port, path="/mcp")
        assert rejected.status_code == 404
        assert body["error"] == {"code": -32600, "message": "no MCP endpoint at '/mcp'"}
        await client.aclose()
        client, accepted = await RawWebSocket.connect(port, path="/ws?token=x")  # the query is not the path
        assert isinstance(accepted, AcceptConnection)
        await client.aclose()


async def test_a_foreign_origin_gets_403_and_our_own_is_served() -> None:
    async with serving() as (_, port):
        client, (rejected, body) = await RawWebSocket.connect(port, headers=(("Origin", "https://evil.example"),))
        assert rejected.status_code == 403
        assert body["error"]["message"] == "Origin not allowed"
        await client.aclose()
        client, accepted = await RawWebSocket.connect(port, headers=(("Origin", f"http://localhost:{port}"),))
        assert isinstance(accepted, AcceptConnection)
        await client.aclose()
    config = WebSocketConfig(allowed_origins=("https://app.example",))
    async with serving(config=config) as (_, port):
        client, accepted = await RawWebSocket.connect(port, headers=(("Origin", "https://app.example"),))
        assert isinstance(accepted, AcceptConnection)
        await client.aclose()


async def test_requests_that_are_not_upgrades_are_refused_with_http_errors() -> None:
    async with serving() as (_, port):
        host = b"host: 127.0.0.1:%d\r\n" % port
        for request, status in [
            (b"GET /mcp HTTP/1.1\r\n" + host + b"\r\n", b"400"),  # no Upgrade
            (b"POST /mcp HTTP/1.1\r\n" + host + b"content-length: 0\r\n\r\n", b"400"),
            (b"GET /mcp HTTP/1.1\r\n" + host + b"x-big: " + b"a" * 20000 + b"\r\n\r\n", b"431"),
            (b"GET /mcp HTTP/1.1\r\nhost: evil.example\r\n\r\n", b"421"),  # DNS rebinding
            (b"\x16\x03\x01\x02\x00garbage\r\n\r\n", b"400"),  # a TLS hello: not HTTP
        ]:
            stream = await trio.open_tcp_stream("127.0.0.1", port)
            await stream.send_all(request)
            data = b""
            with trio.fail_after(10):
                while chunk := await stream.receive_some(65536):
                    data += chunk
            assert data.startswith(b"HTTP/1.1 " + status), data[:100]
            await stream.aclose()
        # A wrong WebSocket version is 426 naming the one we speak.
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        await stream.send_all(
            b"GET /mcp HTTP/1.1\r\n" + host + b"upgrade: websocket\r\nconnection: upgrade\r\n"
            b"sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 8\r\n\r\n"
        )
        data = await stream.receive_some(65536)
        assert data.startswith(b"HTTP/1.1 426 ")
        assert b"sec-websocket-version: 13\r\n" in data.lower()
        await stream.aclose()


async def test_frames_sent_right_behind_the_upgrade_request_are_not_lost() -> None:
    async with serving() as (_, port):
        early = Connection(ConnectionType.CLIENT).send(TextMessage(data=json.dumps(echo("early", 7, modern_meta()))))
        client, accepted = await RawWebSocket.connect(port, then=early)
        assert isinstance(accepted, AcceptConnection)
        # wsproto's client parses the answer with the frames that follow the 101 (its trailing data).
        assert (await client.receive())["result"]["content"][0]["text"] == "early"
        await client.aclose()


async def test_the_upgrade_must_end_within_its_timeout(autojump_clock: trio.testing.MockClock) -> None:
    async with serving(config=WebSocketConfig(handshake_timeout=3.0)) as (runtime, port):
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        await stream.send_all(b"GET /mcp HTTP/1.1\r\n")  # ...and nothing more
        assert await stream.receive_some(65536) == b""
        assert trio.current_time() == pytest.approx(3.0)
        await stream.aclose()
        assert runtime.overload()["connections"] == 0


# ------------------------------------------------------------------------------------------ what ends a WebSocket


async def test_a_binary_message_closes_with_1003() -> None:
    async with serving() as (_, port):
        client, _ = await RawWebSocket.connect(port)
        await client.send_raw(client.ws.send(BytesMessage(data=b'{"jsonrpc":"2.0","id":1,"method":"ping"}')))
        closed = await client.closed()
        assert closed.code == 1003
        assert "text frames" in closed.reason


async def test_a_text_message_that_is_not_utf8_closes_with_1007() -> None:
    async with serving() as (_, port):
        client, _ = await RawWebSocket.connect(port)
        await client.send_raw(masked_frame(0x1, b'{"text": "\xff\xfe"}'))
        assert (await client.closed()).code == 1007


async def test_a_frame_that_breaks_the_protocol_closes_with_1002() -> None:
    async with serving() as (_, port):
        client, _ = await RawWebSocket.connect(port)
        await client.send_raw(masked_frame(0x1, b"{}", mask=False))  # clients must mask
        assert (await client.closed()).code == 1002


@pytest.mark.parametrize("fragments", [1, 4])
async def test_a_message_over_the_limit_closes_with_1009(fragments: int) -> None:
    async with serving(config=WebSocketConfig(max_message_size=1000)) as (_, port):
        client, _ = await RawWebSocket.connect(port)
        ok = echo("x" * 900, 1, modern_meta())
        ok["params"]["arguments"]["text"] = "x" * (1000 - len(json.dumps(ok)) + 900)
        assert len(json.dumps(ok)) == 1000
        assert (await client.request(ok))["result"]  # exactly at the limit: served
        text = json.dumps(echo("y" * 1200, 2))
        size = len(text) // fragments + 1
        pieces = [text[i : i + size] for i in range(0, len(text), size)]
        for index, piece in enumerate(pieces):
            last = index == len(pieces) - 1
            await client.send_raw(client.ws.send(TextMessage(data=piece, message_finished=last)))
        closed = await client.closed()
        assert closed.code == 1009
        assert "1000-byte limit" in closed.reason


async def test_bad_json_and_deep_nesting_get_json_rpc_errors_and_the_websocket_stays_open() -> None:
    async with serving() as (_, port):
        client, _ = await RawWebSocket.connect(port)
        await client.send("{not json")
        assert (await client.receive())["error"]["code"] == -32700
        await client.send("[" * 100_000)
        nested = await client.receive()
        assert nested["error"]["code"] in (-32700, -32600)
        await client.send("")
        assert (await client.receive())["error"]["code"] == -32700
        await client.send({"jsonrpc": "2.0", "id": 5})
        assert (await client.receive())["error"]["code"] == -32600
        assert (await client.request(echo("still here", 6, modern_meta())))["result"]["content"][0]["text"] == (
            "still here"
        )
        await client.aclose()


async def test_a_ping_gets_its_pong_and_a_close_gets_its_own_code_back() -> None:
    async with serving() as (runtime, port):
        client, _ = await RawWebSocket.connect(port)
        await client.send_raw(client.ws.send(Ping(payload=b"are you there")))
        pong = await client.event()
        assert isinstance(pong, Pong)
        assert pong.payload == b"are you there"
        await client.send_raw(client.ws.send(CloseConnection(code=4000, reason="done here")))
        answer = await client.event()
        assert isinstance(answer, CloseConnection)
        assert (answer.code, answer.reason) == (4000, "done here")
        with pytest.raises(trio.EndOfChannel):
            await client.event()
        await client.aclose()
        with trio.fail_after(5):
            while runtime.overload()["connections"]:
                await trio.testing.wait_all_tasks_blocked()


async def test_a_client_that_leaves_without_a_close_ends_its_session_and_running_requests() -> None:
    async with serving() as (runtime, port):
        client, _ = await RawWebSocket.connect(port)
        await client.initialize()
        sleep = {"name": "sleep", "arguments": {"seconds": 60}}
        await client.send({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": sleep})
        with trio.fail_after(5):
            while not runtime.overload()["in_flight"]:
                await trio.testing.wait_all_tasks_blocked()
        await client.aclose()
        with trio.fail_after(5):
            while runtime.overload()["connections"] or runtime.overload()["in_flight"]:
                await trio.testing.wait_all_tasks_blocked()


async def test_shutdown_closes_every_websocket_with_1001() -> None:
    closes: list[CloseConnection] = []

    async def wait_for_close(client: RawWebSocket) -> None:
        closes.append(await client.closed())

    async with trio.open_nursery() as nursery, serving() as (_, port):
        for _ in range(3):
            client, _ = await RawWebSocket.connect(port)
            await client.initialize()
            nursery.start_soon(wait_for_close, client)
    assert [(close.code, close.reason) for close in closes] == [(1001, "the server is shutting down")] * 3


async def test_a_connection_refused_at_the_limit_is_told_why_then_closed_with_1013() -> None:
    async with serving(demo(max_connections=1)) as (runtime, port):
        kept, _ = await RawWebSocket.connect(port)
        await kept.initialize()
        refused, accepted = await RawWebSocket.connect(port)
        assert isinstance(accepted, AcceptConnection)
        assert accepted.subprotocol == "mcp"
        told = await refused.receive()
        assert told["id"] is None
        assert told["error"]["code"] == -32000
        assert told["error"]["data"] == {"reason": "connections", "retryAfterMs": 1000}
        assert (await refused.closed()).code == 1013
        assert runtime.overload()["refusals"] == {"connections": 1}
        assert (await kept.request(echo("kept", 3)))["result"]
        await kept.aclose()


# ------------------------------------------------------------------------------------------ time (mock clock)


async def test_keep_alive_pings_a_silent_client_and_drops_it_when_it_never_answers(
    autojump_clock: trio.testing.MockClock,
) -> None:
    config = WebSocketConfig(ping_interval=10.0, pong_timeout=5.0, sweep_interval=1.0)
    async with serving(config=config) as (runtime, port):
        silent, _ = await RawWebSocket.connect(port)
        await silent.initialize()
        silent.answer_pings = False
        # The first sweep (t=1) hears the upgrade; the ping goes at t=11; no answer by t=16: dropped.
        closed = await silent.closed()
        assert (closed.code, closed.reason) == (1011, "keep-alive ping timeout")
        assert silent.pings == 1
        assert trio.current_time() == pytest.approx(16.0)
        assert runtime.overload()["connections"] == 0


async def test_keep_alive_keeps_a_client_that_answers_its_pings(autojump_clock: trio.testing.MockClock) -> None:
    config = WebSocketConfig(ping_interval=10.0, pong_timeout=5.0, sweep_interval=1.0)
    async with serving(config=config) as (_, port):
        client, _ = await RawWebSocket.connect(port)
        await client.initialize()
        with trio.move_on_after(100):
            await client.event()  # nothing but pings (answered) comes
        assert client.pings >= 8
        assert (await client.request(echo("alive", 1, modern_meta())))["result"]
        await client.aclose()


async def test_a_websocket_that_never_completes_the_mcp_handshake_is_told_then_closed_with_1008(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with serving(demo(handshake_timeout=5.0)) as (runtime, port):
        client, _ = await RawWebSocket.connect(port)
        told = await client.receive()
        assert told["error"]["data"]["reason"] == "handshake"
        assert (await client.closed()).code == 1008
        assert 5.0 <= trio.current_time() <= 6.0
        assert runtime.overload()["refusals"] == {"handshake": 1}


# ------------------------------------------------------------------------------------------ the framer alone


def _server_framer(max_message_size: int = 1 << 20) -> WebSocketFramer:
    return WebSocketFramer(Connection(ConnectionType.SERVER), max_message_size)


@given(
    messages=st.lists(st.tuples(st.text(max_size=300), st.integers(1, 4), st.booleans()), max_size=8),
    cuts=st.lists(st.integers(0, 4000), max_size=20),
)
def test_the_framer_yields_each_text_message_whole_whatever_the_chunking(
    messages: list[tuple[str, int, bool]], cuts: list[int]
) -> None:
    client = Connection(ConnectionType.CLIENT)
    wire = b""
    pings = 0
    for text, fragments, ping in messages:
        size = len(text) // fragments + 1
        pieces = [text[i : i + size] for i in range(0, len(text), size)] or [""]
        for index, piece in enumerate(pieces):
            wire += client.send(TextMessage(data=piece, message_finished=index == len(pieces) - 1))
            if ping:  # control frames may come between fragments
                wire += client.send(Ping(payload=b"p"))
                pings += 1
    framer = _server_framer()
    received: list[bytes] = []
    start = 0
    for cut in [*sorted(cut for cut in cuts if cut < len(wire)), len(wire)]:
        if cut > start:
            framer.receive_data(wire[start:cut])
            start = cut
        while (message := framer.next_message()) is not NEED_DATA:
            assert isinstance(message, bytes)
            received.append(message)
    assert received == [text.encode() for text, _, _ in messages]
    client.receive_data(bytes(framer.take_output() or b""))
    assert sum(isinstance(event, Pong) for event in client.events()) == pings
    assert framer.open


@given(st.sampled_from([0, 1, 125, 126, 127, 65535, 65536, 70000]))
def test_server_frames_of_every_length_parse_as_one_text_message(size: int) -> None:
    framer = _server_framer()
    client = Connection(ConnectionType.CLIENT)
    outbox = bytearray()
    framer.write(outbox, b"a" * size)
    framer.write(outbox, "ü".encode())
    client.receive_data(bytes(outbox))
    events = list(client.events())
    assert [(type(e), e.data, e.message_finished) for e in events] == [  # type: ignore[attr-defined]
        (TextMessage, "a" * size, True),
        (TextMessage, "ü", True),
    ]


@given(
    prefix=st.lists(st.sampled_from(["{}", "x", ""]), max_size=3),
    noise=st.binary(max_size=300),
    cuts=st.lists(st.integers(0, 400), max_size=6),
)
def test_the_framer_takes_any_bytes_without_raising_and_reads_nothing_once_finished(
    prefix: list[str], noise: bytes, cuts: list[int]
) -> None:
    client = Connection(ConnectionType.CLIENT)
    wire = b"".join(client.send(TextMessage(data=text)) for text in prefix) + noise
    framer = _server_framer(max_message_size=64)
    start = 0
    for cut in [*sorted(cut for cut in cuts if cut < len(wire)), len(wire), None]:
        if cut is None:
            framer.receive_data(b"")  # then the peer leaves
        elif cut > start:
            framer.receive_data(wire[start:cut])
            start = cut
        while (message := framer.next_message()) is not NEED_DATA:
            assert isinstance(message, bytes)
            assert not framer.finished
        output = framer.take_output()
        assert output is None or isinstance(output, bytearray)
    assert framer.finished
    assert framer.next_message() is NEED_DATA
    assert not framer.open


@given(
    st.one_of(
        st.binary(max_size=600),
        st.builds(
            lambda head, tail: head + tail,
            st.sampled_from(
                [
                    b"GET /mcp HTTP/1.1\r\nhost: 127.0.0.1:80\r\nupgrade: websocket\r\nconnection: upgrade\r\n"
                    b"sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n",
                    b"GET /mcp HTTP/1.1\r\n",
                    b"GET / HTTP/1.0\r\n",
                ]
            ),
            st.binary(max_size=300),
        ),
    )
)
def test_the_upgrade_answers_any_bytes_with_a_101_an_http_refusal_or_silence(data: bytes) -> None:
    from mcp_trio.transports.http.security import OriginPolicy
    from mcp_trio.transports.ws_handshake import UpgradePolicy, accept_upgrade

    async def main() -> None:
        client, server = trio.testing.memory_stream_pair()
        await client.send_all(data)
        await client.send_eof()
        policy = UpgradePolicy("/mcp", OriginPolicy("127.0.0.1", 80), 1024)
        with trio.fail_after(5):
            connection = await accept_upgrade(server, policy, 65536)
        await server.aclose()
        answer = b""
        while chunk := await client.receive_some():
            answer += chunk
        if connection is not None:
            assert answer.startswith(b"HTTP/1.1 101 ")
        else:
            assert answer == b"" or answer[:10] in (b"HTTP/1.1 4", b"HTTP/1.1 5"), answer[:50]

    trio.run(main)


def test_after_a_close_the_framer_reads_no_message_and_writes_nothing() -> None:
    framer = _server_framer(max_message_size=10)
    client = Connection(ConnectionType.CLIENT)
    framer.receive_data(client.send(TextMessage(data="x" * 11)) + client.send(TextMessage(data="late")))
    assert framer.next_message() is NEED_DATA
    assert framer.finished
    assert framer.awaiting_close
    assert framer.close_code == 1009
    client.receive_data(bytes(framer.take_output() or b""))
    (close,) = client.events()
    assert isinstance(close, CloseConnection)
    assert close.code == 1009
    assert framer.close(1000) == b""
    assert framer.ping() == b""
    framer.receive_data(client.send(close.response()))
    assert framer.next_message() is NEED_DATA
    assert not framer.awaiting_close


# ------------------------------------------------------------------------------------------ the TypeScript SDK

TS_CLIENT = Path(__file__).with_name("ts_ws_client.mjs")


def _ts_client() -> list[str]:
    """The command that runs ``ts_ws_client.mjs`` with the SDK installed (by the benchmarks' helper) beside it."""
    from benchmarks._ts_peer import TS_DIR, ts_peer_argv

    argv, note = ts_peer_argv()
    if argv is None:
        pytest.skip(f"the TypeScript SDK cannot be run here: {note}")
    script = TS_DIR / "ws_client.mjs"
    shutil.copyfile(TS_CLIENT, script)
    return [argv[0], str(script)]


@pytest.mark.slow
async def test_the_typescript_sdk_websocket_client_initializes_lists_tools_and_calls_echo() -> None:
    command = await trio.to_thread.run_sync(_ts_client)
    async with serving() as (_, port):
        with trio.fail_after(60):
            done = await trio.run_process(
                [*command, f"ws://127.0.0.1:{port}/mcp"],
                capture_stdout=True,
                capture_stderr=True,
                check=False,
                stdin=subprocess.DEVNULL,
            )
    assert done.returncode == 0, done.stderr.decode()
    seen = json.loads(done.stdout.decode().strip().splitlines()[-1])
    assert seen["server"] == {"name": "mcp-trio-demo", "version": "0.1.0"}
    assert "echo" in seen["tools"]
    assert seen["echo"] == "hi from ts"
