"""LeanSocketStream: the fast-path socket stream the TCP and Unix listeners hand to connections."""

from __future__ import annotations

import socket

import pytest
import trio

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
