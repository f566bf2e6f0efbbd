"""The garbage collector's freezes (``runtime/collector.py``): objects move out of collections' reach and are
still freed by reference counting, a thaw reclaims cycles among frozen objects, and a closed connection
leaves no cycle behind (so freezing it loses nothing)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest
import trio
import trio.testing

from mcp_trio.runtime.collector import OLDER_THRESHOLD, GcFreezer
from mcp_trio.runtime.config import RuntimeConfig
from mcp_trio.runtime.listeners import TcpListener
from mcp_trio.server.config import ServerConfig
from mcp_trio.server.driver import SessionDriver
from mcp_trio.server.server import Server
from mcp_trio.testing import RawClient
from mcp_trio.transports.stream import StreamConnection


class Node:
    """An object that can be in a reference cycle, and be watched by a weak reference."""

    def __init__(self) -> None:
        self.other: object = None


def _cycle() -> tuple[weakref.ref[Node], Node]:
    a, b = Node(), Node()
    a.other, b.other = b, a
    return weakref.ref(a), a


@pytest.fixture
def thawed() -> Iterator[None]:
    gc.collect()
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_a_freeze_moves_objects_out_of_reach_and_reference_counting_still_frees_them(thawed: None) -> None:
    survivor_ref, survivor = _cycle()
    plain = Node()
    plain_ref = weakref.ref(plain)
    frozen_before = gc.get_freeze_count()
    GcFreezer(1.0, None).step(0.0)
    assert gc.get_freeze_count() > frozen_before
    assert survivor not in gc.get_objects()  # frozen: no collection walks it
    del plain
    assert plain_ref() is None  # no cycle: freed by reference counting, frozen or not
    del survivor
    gc.collect()
    assert survivor_ref() is not None  # a cycle that died frozen waits for a thaw


def test_a_thaw_reclaims_cycles_that_died_frozen(thawed: None) -> None:
    freezer = GcFreezer(1.0, 10.0)
    freezer._next_thaw = 10.0
    dead_ref, dead = _cycle()
    freezer.step(1.0)
    del dead
    gc.collect()
    assert dead_ref() is not None
    freezer.step(5.0)  # not yet due
    assert dead_ref() is not None
    assert freezer.thaws == 0
    freezer.step(10.0)
    assert dead_ref() is None
    assert freezer.thaws == 1
    assert freezer.freezes == 3
    assert gc.get_freeze_count() > 0  # frozen again after the thaw


async def test_the_runtime_freezes_every_interval(autojump_clock: trio.testing.MockClock, thawed: None) -> None:
    server = Server("gc", "1.0", config=ServerConfig(runtime=RuntimeConfig(shards=1, gc_freeze_interval=2.0)))
    async with server.open_runtime() as runtime:
        await trio.sleep(5)
        assert runtime.collector is not None
        assert runtime.collector.freezes == 2
    off = Server("gc", "1.0", config=ServerConfig(runtime=RuntimeConfig(shards=1, gc_freeze_interval=None)))
    async with off.open_runtime() as runtime:
        await trio.sleep(5)
        assert runtime.collector is None


@pytest.mark.parametrize("name", ["gc_freeze_interval", "gc_thaw_interval"])
def test_the_intervals_are_validated(name: str) -> None:
    with pytest.raises(ValueError, match=name):
        RuntimeConfig(**{name: 0})


CALLS = 40


async def test_requests_and_closed_connections_leave_no_reference_cycle(thawed: None) -> None:
    # Freezing is only safe if what dies frozen needs no collection: what a request makes, and a closed connection
    # (its stream, framer, driver and sockets), must be freed by reference counting alone.
    runtime_config = RuntimeConfig(shards=2, loop_lag_threshold=None, gc_freeze_interval=None)
    server = Server("cycles", "1.0", config=ServerConfig(runtime=runtime_config))

    @server.tool(blocking=False)
    def echo(text: str) -> str:
        return text

    gc.disable()
    try:
        async with server.open_runtime() as runtime:
            _, port = await runtime.add_listener(TcpListener("127.0.0.1", 0))
            for index in range(5):
                client = RawClient(await trio.open_tcp_stream("127.0.0.1", port))
                await client.initialize()
                for call in range(CALLS):
                    text = f"n{index}.{call}"
                    answer = await client.request("tools/call", {"name": "echo", "arguments": {"text": text}})
                    assert answer["result"]["content"][0]["text"] == text
                await client.stream.aclose()
            with trio.fail_after(10):
                while runtime.admission.connections:  # noqa: ASYNC110 (a counter: the runtime has no event for it)
                    await trio.sleep(0.01)
            gc.set_debug(gc.DEBUG_SAVEALL)
            gc.collect()
            leftovers = [o for o in gc.garbage if isinstance(o, (StreamConnection, SessionDriver))]
            garbage = len(gc.garbage)
            gc.set_debug(0)
            gc.garbage.clear()
            assert leftovers == []
            # The request path makes no cycles either (a few one-off objects of start-up, not one per call).
            assert garbage < CALLS
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


async def test_older_generations_wait_for_the_freezer_while_it_runs(
    autojump_clock: trio.testing.MockClock, thawed: None
) -> None:
    before = gc.get_threshold()
    server = Server("gc", "1.0", config=ServerConfig(runtime=RuntimeConfig(shards=1, gc_freeze_interval=1.0)))
    async with server.open_runtime():
        await trio.sleep(0.5)
        assert gc.get_threshold() == (before[0], OLDER_THRESHOLD, OLDER_THRESHOLD)
    assert gc.get_threshold() == before
