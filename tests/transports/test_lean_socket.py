"""LeanSocketStream: the fast-path socket stream the TCP and Unix listeners hand to connections."""

from __future__ import annotations

import array
import socket
from collections.abc import Awaitable, Callable

import pytest
import trio
import trio.testing

from mcp_trio.transports.lean_socket import LeanSocketStream


def _pair() -> tuple[LeanSocketStream, trio.socket.SocketType]:
    a, b = trio.socket.socketpair()
    return LeanSocketStream(a), b


async def test_bytes_round_trip_both_ways() -> None:
    stream, peer = _pair()
    with trio.fail_after(5):
        await stream.send_all(b"hello")
        assert await peer.recv(100) == b"hello"
        await peer.send(b"world")
        assert await stream.receive_some(100) == b"world"
    await stream.aclose()
    peer.close()


async def test_a_large_write_completes_across_would_block() -> None:
    stream, peer = _pair()
    payload = b"x" * (4 * 1024 * 1024)
    received = bytearray()

    async def drain() -> None:
        while len(received) < len(payload):
            received.extend(await peer.recv(65536))

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(drain)
            await stream.send_all(payload)
    assert bytes(received) == payload
    await stream.aclose()
    peer.close()


async def test_the_peer_closing_reads_as_end_of_stream() -> None:
    stream, peer = _pair()
    peer.close()
    with trio.fail_after(5):
        assert await stream.receive_some(10) == b""
    await stream.aclose()


async def test_send_eof_half_closes_and_the_other_direction_keeps_working() -> None:
    stream, peer = _pair()
    with trio.fail_after(5):
        await stream.send_eof()
        assert await peer.recv(10) == b""
        await peer.send(b"still here")
        assert await stream.receive_some(100) == b"still here"
    await stream.aclose()
    peer.close()


async def test_writing_to_a_vanished_peer_is_a_broken_resource() -> None:
    stream, peer = _pair()
    peer.close()

    async def write_until_broken() -> None:
        for _ in range(100):
            await stream.send_all(b"x" * 65536)

    with trio.fail_after(5), pytest.raises(trio.BrokenResourceError):
        await write_until_broken()
    await stream.aclose()


async def test_using_a_closed_stream_is_a_closed_resource() -> None:
    stream, peer = _pair()
    await stream.aclose()
    with pytest.raises(trio.ClosedResourceError):
        await stream.receive_some(10)
    peer.close()


async def test_a_reader_that_never_blocks_still_lets_other_tasks_run() -> None:
    stream, peer = _pair()
    peer.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
    await peer.send(b"y" * (64))
    others_ran = 0

    async def other() -> None:
        nonlocal others_ran
        while True:
            others_ran += 1
            await trio.lowlevel.checkpoint()

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(other)
            before = others_ran
            for _ in range(32):
                assert await stream.receive_some(1) == b"y"
            # Every read that found data passed through the scheduler (Trio orders each batch at random,
            # so count overall): letting reads skip it would leave the other task a handful of turns.
            assert others_ran - before >= 16
            nursery.cancel_scope.cancel()
    await stream.aclose()
    peer.close()


# ---------------------------------------------------------------------- Trio's stream contract

PairMaker = Callable[[], Awaitable[tuple[LeanSocketStream, LeanSocketStream]]]


async def _tcp_pair() -> tuple[LeanSocketStream, LeanSocketStream]:
    """As the listeners build them: a trio.SocketStream's socket (TCP_NODELAY, TCP_NOTSENT_LOWAT) re-wrapped."""
    (listener,) = await trio.open_tcp_listeners(0, host="127.0.0.1")
    async with listener:
        client = await trio.open_tcp_stream("127.0.0.1", listener.socket.getsockname()[1])
        server = await listener.accept()
    return LeanSocketStream(client.socket), LeanSocketStream(server.socket)


async def _unix_pair() -> tuple[LeanSocketStream, LeanSocketStream]:
    a, b = trio.socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    return LeanSocketStream(a), LeanSocketStream(b)


async def _clog(stream: LeanSocketStream) -> None:
    """Write until a send_all waits for room (the kernel says not writable), as Trio's own socket tests do."""

    async def fill() -> None:
        while True:
            await stream.send_all(b"x" * 10000)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(fill)
        await trio.testing.wait_all_tasks_blocked()
        nursery.cancel_scope.cancel()


def _clogged(make: PairMaker) -> PairMaker:
    async def clogged_pair() -> tuple[LeanSocketStream, LeanSocketStream]:
        left, right = await make()
        await _clog(left)
        await _clog(right)
        return left, right

    return clogged_pair


@pytest.mark.parametrize("make", [_tcp_pair, _unix_pair], ids=["tcp", "unix"])
async def test_trios_generic_half_closeable_stream_checks_pass(make: PairMaker) -> None:
    with trio.fail_after(30):
        await trio.testing.check_half_closeable_stream(make, _clogged(make))


async def test_every_operation_checkpoints_even_when_the_kernel_does_not_block() -> None:
    stream, peer = _pair()
    await peer.send(b"ready")
    with trio.testing.assert_checkpoints():
        assert await stream.receive_some(100) == b"ready"
    with trio.testing.assert_checkpoints():
        await stream.send_all(b"taken at once")
    with trio.testing.assert_checkpoints():
        await stream.send_all(b"")
    assert await peer.recv(100) == b"taken at once"
    await stream.aclose()
    peer.close()


async def test_a_cancelled_receive_raises_although_data_is_buffered_and_loses_nothing() -> None:
    stream, peer = _pair()
    await peer.send(b"buffered")
    with trio.CancelScope() as scope:
        scope.cancel()
        await stream.receive_some(100)
    assert scope.cancelled_caught
    with trio.fail_after(5):
        assert await stream.receive_some(100) == b"buffered"
    await stream.aclose()
    peer.close()


async def test_an_expired_deadline_stops_a_reader_that_always_finds_data() -> None:
    stream, peer = _pair()
    await peer.send(b"z" * 64)
    got = bytearray()
    with trio.CancelScope() as scope:
        while True:
            got += await stream.receive_some(1)
            if len(got) == 8:
                scope.deadline = trio.current_time()  # expires now; Trio notices at the next scheduler pass
    assert scope.cancelled_caught
    # The read whose pass through the scheduler noticed the deadline keeps its byte; the next one raises
    # before reading (before the fix every buffered byte was read first).
    assert len(got) in (8, 9)
    with trio.fail_after(5):
        while len(got) < 64:
            got += await stream.receive_some(100)
    assert bytes(got) == b"z" * 64
    await stream.aclose()
    peer.close()


async def test_a_cancelled_send_all_raises_and_sends_nothing() -> None:
    stream, peer = _pair()
    with trio.CancelScope() as scope:
        scope.cancel()
        await stream.send_all(b"never")
    assert scope.cancelled_caught
    with trio.fail_after(5):
        await stream.send_all(b"sent")
        assert await peer.recv(100) == b"sent"
    await stream.aclose()
    peer.close()


async def test_two_readers_conflict_even_when_data_is_already_there() -> None:
    stream, peer = _pair()
    await peer.send(b"one message")
    outcomes: list[bytes | str] = []

    async def read() -> None:
        try:
            outcomes.append(await stream.receive_some(100))
        except trio.BusyResourceError:
            outcomes.append("busy")

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(read)
            nursery.start_soon(read)
    assert sorted(outcomes, key=str) == [b"one message", "busy"]
    await stream.aclose()
    peer.close()


async def test_the_sending_side_is_busy_while_a_send_all_waits_for_room() -> None:
    stream, peer = _pair()
    await _clog(stream)
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(stream.send_all, b"waits")
            await trio.testing.wait_all_tasks_blocked()
            with pytest.raises(trio.BusyResourceError):
                await stream.send_all(b"second")
            with pytest.raises(trio.BusyResourceError):
                stream.send_nowait(b"interleaved")
            with pytest.raises(trio.BusyResourceError):
                await stream.wait_send_all_might_not_block()
            with pytest.raises(trio.BusyResourceError):
                await stream.send_eof()
            nursery.cancel_scope.cancel()
    await stream.aclose()
    peer.close()


async def test_every_operation_on_a_closed_stream_is_a_closed_resource() -> None:
    stream, peer = _pair()
    await stream.aclose()
    await stream.aclose()  # idempotent
    with pytest.raises(trio.ClosedResourceError):
        await stream.send_all(b"x")
    with pytest.raises(trio.ClosedResourceError):
        await stream.send_all(b"")
    with pytest.raises(trio.ClosedResourceError):
        stream.send_nowait(b"x")
    with pytest.raises(trio.ClosedResourceError):
        await stream.wait_send_all_might_not_block()
    with pytest.raises(trio.ClosedResourceError):
        await stream.send_eof()
    peer.close()


async def test_a_closed_stream_never_touches_a_reused_descriptor_number() -> None:
    stream, peer = _pair()
    await stream.aclose()
    newcomer, other = trio.socket.socketpair()  # the kernel hands out the lowest free number: likely the old one
    await other.send(b"not yours")
    with pytest.raises(trio.ClosedResourceError):
        await stream.receive_some(100)
    with pytest.raises(trio.ClosedResourceError):
        await stream.send_all(b"not yours either")
    assert await newcomer.recv(100) == b"not yours"
    for sock in (newcomer, other, peer):
        sock.close()


async def test_sending_after_send_eof_is_a_closed_resource() -> None:
    stream, peer = _pair()
    await stream.send_eof()
    await stream.send_eof()  # idempotent
    with pytest.raises(trio.ClosedResourceError):
        await stream.send_all(b"late")
    with pytest.raises(trio.ClosedResourceError):
        stream.send_nowait(b"late")
    await stream.aclose()
    peer.close()


async def test_closing_wakes_a_blocked_reader_with_closed_resource() -> None:
    stream, peer = _pair()
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:

            async def read() -> None:
                with pytest.raises(trio.ClosedResourceError):
                    await stream.receive_some(100)

            nursery.start_soon(read)
            await trio.testing.wait_all_tasks_blocked()
            await stream.aclose()
    peer.close()


async def test_max_bytes_must_be_positive() -> None:
    stream, peer = _pair()
    await peer.send(b"data")
    for bad in (0, -1):
        with pytest.raises(ValueError, match="max_bytes"):
            await stream.receive_some(bad)
    assert await stream.receive_some(100) == b"data"  # os.read(fd, 0) would have read as end of stream
    await stream.aclose()
    peer.close()


async def test_send_nowait_is_synchronous_and_reports_what_the_kernel_took() -> None:
    stream, peer = _pair()
    with trio.testing.assert_no_checkpoints():
        assert stream.send_nowait(b"quick") == 5
    assert await peer.recv(100) == b"quick"
    await _clog(stream)
    assert stream.send_nowait(b"no room") == 0
    await stream.aclose()
    peer.close()


async def test_a_memoryview_of_wide_items_is_sent_whole() -> None:
    stream, peer = _pair()
    words = array.array("I", range(1000))
    received = bytearray()

    async def drain() -> None:
        while len(received) < len(words) * words.itemsize:
            received.extend(await peer.recv(65536))

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(drain)
            await stream.send_all(memoryview(words))
    assert bytes(received) == words.tobytes()
    await stream.aclose()
    peer.close()
