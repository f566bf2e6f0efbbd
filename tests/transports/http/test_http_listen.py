"""``subscriptions/listen`` over Streamable HTTP, served by pushes (``ListenPump``): no task of its own, bounded
when the client reads slowly, unsubscribed when the client leaves, ended with its result on a drain."""

from __future__ import annotations

from typing import Any

import msgspec
import trio
import trio.lowlevel
import trio.testing
from http_test_helpers import RUNTIMES, RawHttp, modern_headers, parse_sse, start

from mcp_trio.protocol.events import RequestReceived
from mcp_trio.protocol.types import SubscriptionFilter
from mcp_trio.server.hub import Subscriber
from mcp_trio.server.listen import ListenPump
from mcp_trio.server.server import Server
from mcp_trio.testing import modern_meta
from mcp_trio.transports.http import HttpConfig

URIS = [f"mem://r{index}" for index in range(40)]


def _echo(text: str) -> str:
    return text


def _server() -> Server:
    server = Server("listen-pump")
    server.add_tool(_echo)  # so that tools.listChanged is a capability
    for uri in URIS:
        server.add_resource(lambda: "x", uri, name=uri.rsplit("/", 1)[-1])
    server.capabilities.resources.subscribe = True  # type: ignore[union-attr]
    return server


def _listen_body(request_id: int = 7, uris: list[str] | None = None) -> bytes:
    notifications: dict[str, Any] = {"toolsListChanged": True}
    if uris is not None:
        notifications["resourceSubscriptions"] = uris
    params = {"notifications": notifications, "_meta": modern_meta()}
    return msgspec.json.encode({"jsonrpc": "2.0", "id": request_id, "method": "subscriptions/listen", "params": params})


async def _open_listen(port: int, uris: list[str] | None = None, receive_buffer: int | None = None) -> RawHttp:
    if receive_buffer is None:
        client = await RawHttp.connect(port)
    else:  # a small window, set before connecting, so the server's writes soon stop
        sock = trio.socket.socket()
        sock.setsockopt(trio.socket.SOL_SOCKET, trio.socket.SO_RCVBUF, receive_buffer)
        await sock.connect(("127.0.0.1", port))
        client = RawHttp(trio.SocketStream(sock), f"127.0.0.1:{port}")
    await client.send("POST", "/mcp", modern_headers("subscriptions/listen"), _listen_body(uris=uris))
    status, headers = await client.head()
    assert status == 200
    assert headers["content-type"].startswith("text/event-stream")
    seen = await client.events_until(lambda event: "data" in event)
    acknowledged = msgspec.json.decode(seen[-1]["data"])
    assert acknowledged["method"] == "notifications/subscriptions/acknowledged"
    assert acknowledged["params"]["notifications"]["toolsListChanged"] is True
    return client


def _tasks() -> int:
    return trio.lowlevel.current_statistics().tasks_living


async def test_an_idle_listen_stream_holds_only_its_connection_task() -> None:
    server = _server()
    async with trio.open_nursery() as nursery:
        port = await start(nursery, server)
        runtime = RUNTIMES[port]
        warm = await _open_listen(port)  # the first connection may start shared machinery
        before = _tasks()
        clients = [await _open_listen(port) for _ in range(5)]
        assert _tasks() - before == 5  # the connection's task each, and no request task
        assert len(server.hub) == 6
        assert runtime.overload()["listen_streams"] == 6
        server.hub.post_list_changed("notifications/tools/list_changed")
        for client in [warm, *clients]:
            seen = await client.events_until(lambda event: "data" in event)
            assert msgspec.json.decode(seen[-1]["data"])["method"] == "notifications/tools/list_changed"
            await client.aclose()
        await trio.testing.wait_all_tasks_blocked()  # the server noticed the hangups
        assert len(server.hub) == 0
        assert runtime.overload()["listen_streams"] == 0
        nursery.cancel_scope.cancel()


async def test_a_drain_ends_the_stream_with_its_complete_result() -> None:
    server = _server()
    async with trio.open_nursery() as nursery:
        port = await start(nursery, server)
        client = await _open_listen(port)
        assert await RUNTIMES[port].drain(5) is True
        seen = await client.events_until(lambda event: "data" in event)
        final = msgspec.json.decode(seen[-1]["data"])
        assert final["id"] == 7
        assert final["result"]["resultType"] == "complete"
        assert await client.chunk() is None  # and the response ends
        assert len(server.hub) == 0
        nursery.cancel_scope.cancel()


async def test_a_client_that_does_not_read_costs_bounded_memory() -> None:
    server = _server()
    config = HttpConfig(max_stream_buffer_bytes=2048)
    async with trio.open_nursery() as nursery:
        port = await start(nursery, server, config)
        client = await _open_listen(port, URIS, receive_buffer=4096)
        subscriber = next(iter(server.hub._subscribers))
        stream = subscriber.wake.__self__._driver.outlet._stream  # type: ignore[union-attr]
        queued = []
        for _ in range(1000):  # 40,000 updates (5.2 MB, past the kernel's socket buffers) of 40 resources
            for uri in URIS:
                server.hub.post_resource_updated(uri)
            queued.append(stream._size)
            await trio.lowlevel.checkpoint()
        assert max(queued) > 2048  # the client did fall behind
        assert max(queued) <= 2048 + len(URIS) * 200  # the limit, plus at most one batch of one per resource
        server.hub.close()  # then the stream ends, after what is pending
        body = b""
        with trio.fail_after(10):
            while (piece := await client.chunk()) is not None:
                body += piece
        messages = [msgspec.json.decode(event["data"]) for event in parse_sse(body) if "data" in event]
        assert messages[-1]["result"]["resultType"] == "complete"
        received = [message["params"]["uri"] for message in messages[:-1]]
        # What reached the client is what coalesced: fewer than the 40,000 posts, and every resource at least
        # once (the last update of each is never lost).
        assert set(received) == set(URIS)
        assert len(received) < 40_000
        nursery.cancel_scope.cancel()


class _FakeOutlet:
    """A push outlet with room for ``room`` messages at a time."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.sent: list[Any] = []
        self.answers: list[Any] = []
        self.on_room: Any = None
        self.ended = 0

    @property
    def room(self) -> bool:
        return len(self.sent) < self.capacity

    def push(self, data: bytes, origin: Any) -> None:
        self.sent.append(msgspec.json.decode(data))

    def push_answer(self, request_id: Any, data: bytes, status: int) -> None:
        self.answers.append(msgspec.json.decode(data))

    def when_room(self, callback: Any) -> None:
        self.on_room = callback

    async def send(self, data: bytes, origin: Any) -> None:
        raise AssertionError("a pump never waits")

    async def answer(self, request_id: Any, data: bytes, status: int) -> None:
        raise AssertionError("a pump never waits")

    def done(self, request_id: Any) -> None:
        self.ended += 1

    async def close_stream(self, origin: Any, retry_ms: int | None) -> bool:
        return False


class _Driver:
    def __init__(self, outlet: _FakeOutlet) -> None:
        self.outlet = outlet
        self.ended: list[Any] = []

    def pump_ended(self, event: Any, value: Any, started: float) -> None:
        self.ended.append(value)


def _event() -> RequestReceived:
    return RequestReceived(7, "subscriptions/listen", None, "modern", "2026-07-28")


async def test_the_pump_stops_when_the_outlet_is_full_and_resumes_when_it_has_room() -> None:
    server = _server()
    outlet = _FakeOutlet(capacity=1)
    driver = _Driver(outlet)
    pump = ListenPump(server, _event(), SubscriptionFilter(), Subscriber(frozenset()), set(URIS[:10]), {"s": 7})  # type: ignore[arg-type]
    pump.start(driver, 0.0)  # type: ignore[arg-type]
    assert outlet.sent[0]["method"] == "notifications/subscriptions/acknowledged"
    for uri in URIS[:10]:
        server.hub.post_resource_updated(uri)
    # The acknowledgement filled the outlet: the updates wait, coalesced, in the subscriber.
    assert len(outlet.sent) == 1
    for uri in URIS[:10]:
        server.hub.post_resource_updated(uri)  # repeats change nothing
    outlet.capacity = 4
    outlet.on_room()  # what the stream calls as the client catches up: one batch goes
    assert len(outlet.sent) == 11
    uris = [message["params"]["uri"] for message in outlet.sent[1:]]
    assert uris == URIS[:10]  # each update once, in order: nothing lost, nothing repeated
    server.hub.close()  # a drain: the pump ends itself with the complete result
    assert driver.ended[-1].result_type == "complete"
    assert len(server.hub) == 0
    assert outlet.on_room is None
