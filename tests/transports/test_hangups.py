"""The hangup watch: one task notices peers closing any number of sockets, and nothing else."""

from __future__ import annotations

import socket

import pytest
import trio
import trio.testing

from mcp_trio.transports.hangups import HangupWatch


async def _started(nursery: trio.Nursery) -> HangupWatch:
    watch = HangupWatch()
    await nursery.start(watch.run)
    assert watch.available
    return watch


async def test_a_peer_that_closes_calls_its_callback_once_and_leaves_the_watch(nursery: trio.Nursery) -> None:
    watch = await _started(nursery)
    pairs = [socket.socketpair() for _ in range(50)]
    calls: list[int] = []
    for index, (ours, _) in enumerate(pairs):
        watch.watch(ours.fileno(), lambda index=index: calls.append(index))  # type: ignore[misc]
    for index in range(0, 50, 2):
        pairs[index][1].close()
    with trio.fail_after(5):
        while len(calls) < 25:
            await trio.testing.wait_all_tasks_blocked()
    assert sorted(calls) == list(range(0, 50, 2))
    assert len(watch) == 25
    for ours, theirs in pairs:
        watch.unwatch(ours.fileno())
        ours.close()
        theirs.close()
    assert len(watch) == 0


async def test_input_is_not_a_hangup_and_stays_for_the_reader(nursery: trio.Nursery) -> None:
    watch = await _started(nursery)
    ours, theirs = socket.socketpair()
    calls: list[str] = []
    watch.watch(ours.fileno(), lambda: calls.append("gone"))
    theirs.sendall(b"next request")
    await trio.testing.wait_all_tasks_blocked()  # the kernel's readiness is immediate on a socketpair
    assert calls == []
    assert ours.recv(100) == b"next request"
    theirs.shutdown(socket.SHUT_WR)  # a half-close is the client going away too
    with trio.fail_after(5):
        while not calls:
            await trio.testing.wait_all_tasks_blocked()
    assert calls == ["gone"]
    ours.close()
    theirs.close()


async def test_an_unwatched_socket_is_never_called_back_and_its_number_may_be_reused(nursery: trio.Nursery) -> None:
    watch = await _started(nursery)
    ours, theirs = socket.socketpair()
    calls: list[str] = []
    watch.watch(ours.fileno(), lambda: calls.append("first"))
    with pytest.raises(RuntimeError, match="already watched"):
        watch.watch(ours.fileno(), lambda: calls.append("twice"))
    watch.unwatch(ours.fileno())
    watch.unwatch(ours.fileno())  # harmless
    theirs.close()
    await trio.testing.wait_all_tasks_blocked()
    assert calls == []
    number = ours.fileno()
    ours.close()
    again, peer = socket.socketpair()
    if again.fileno() == number:  # usually: the lowest free number
        watch.watch(again.fileno(), lambda: calls.append("second"))
        peer.close()
        with trio.fail_after(5):
            while not calls:
                await trio.testing.wait_all_tasks_blocked()
        assert calls == ["second"]
    again.close()
    peer.close()


async def test_when_the_watcher_stops_it_is_unavailable_and_forgets_its_sockets() -> None:
    watch = HangupWatch()
    assert not watch.available
    ours, theirs = socket.socketpair()
    async with trio.open_nursery() as nursery:
        await nursery.start(watch.run)
        watch.watch(ours.fileno(), lambda: None)
        nursery.cancel_scope.cancel()
    assert not watch.available
    assert len(watch) == 0
    ours.close()
    theirs.close()
