"""What keeping Trio's stream contract costs ``LeanSocketStream``, per operation, next to the old one and Trio's own.

Three streams over a Unix socketpair, 100-byte messages, all in one process and one Trio run:

* old: ``LeanSocketStream`` as it was before it honoured the contract (copied below as ``_OldLeanSocketStream``:
  no ``checkpoint_if_cancelled``, ``send_all`` never yields when the kernel takes everything, no conflict or
  closed-state bookkeeping);
* new: ``mcp_trio.transports.lean_socket.LeanSocketStream``;
* trio: ``trio.SocketStream``.

Measured:

* ``round trip``: one task sends on one end, reads on the other, answers, reads the answer: every call finds
  the kernel ready (the fast path, what a busy server mostly runs); 2 ``send_all`` + 2 ``receive_some``.
* ``ping-pong``: two tasks, each reading what the other sent: every read waits for the peer (``wait_readable``,
  the idle-connection path), so this adds a real sleep and wake-up per message.
* ``send_all`` / ``receive_some`` alone: batches of sends, then the batch read back one message at a time.

Figures are medians of several repeats of ~``REPEAT_SECONDS`` each, the three streams taking turns in every
repeat so drift hits them alike; a repeat counts only if its wall time stayed within ``_PREEMPTED`` of its CPU
time (the core was not taken meanwhile). This process pins itself to one core.
"""

from __future__ import annotations

import errno
import gc
import os
import socket
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Final

import trio

from benchmarks._procs import load_core, pinned_self
from mcp_trio.transports.lean_socket import LeanSocketStream

__all__ = ["main"]

MESSAGE: Final = b"m" * 100
REPEATS: Final = 7
MAX_REPEATS: Final = 15
REPEAT_SECONDS: Final = 0.08
BATCH: Final = 32  # messages per batch in the one-operation loops (well inside the socket buffer)
_PREEMPTED: Final = 1.05

Maker = Callable[[trio.socket.SocketType], trio.abc.HalfCloseableStream]
Loop = Callable[[trio.abc.HalfCloseableStream, trio.abc.HalfCloseableStream, int], Awaitable[int]]


class _OldLeanSocketStream(trio.abc.HalfCloseableStream):
    """``LeanSocketStream`` before it kept Trio's contract (kept verbatim for this comparison only)."""

    __slots__ = ("_fd", "socket")

    def __init__(self, sock: trio.socket.SocketType) -> None:
        self.socket = sock
        self._fd = sock.fileno()

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        size = 65536 if max_bytes is None else max_bytes
        try:
            data = os.read(self._fd, size)
        except BlockingIOError:
            pass
        except OSError as exc:
            raise _old_broken(exc) from exc
        else:
            await trio.lowlevel.cancel_shielded_checkpoint()
            return data
        while True:
            await trio.lowlevel.wait_readable(self.socket)
            try:
                return os.read(self._fd, size)
            except BlockingIOError:
                continue
            except OSError as exc:
                raise _old_broken(exc) from exc

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        with memoryview(data) as view:
            sent, total = 0, len(view)
            while sent < total:
                try:
                    sent += os.write(self._fd, view[sent:])
                except BlockingIOError:
                    await trio.lowlevel.wait_writable(self.socket)
                except OSError as exc:
                    raise _old_broken(exc) from exc

    async def wait_send_all_might_not_block(self) -> None:
        await trio.lowlevel.wait_writable(self.socket)

    async def send_eof(self) -> None:
        await trio.lowlevel.checkpoint()
        try:
            self.socket.shutdown(socket.SHUT_WR)
        except OSError as exc:
            if exc.errno != errno.ENOTCONN:
                raise _old_broken(exc) from exc

    async def aclose(self) -> None:
        self.socket.close()
        await trio.lowlevel.checkpoint()


def _old_broken(exc: OSError) -> trio.BrokenResourceError | trio.ClosedResourceError:
    if exc.errno == errno.EBADF:
        return trio.ClosedResourceError("the socket was closed")
    return trio.BrokenResourceError(f"the peer broke the connection: {exc}")


STREAMS: Final[dict[str, Maker]] = {
    "old": _OldLeanSocketStream,
    "new": LeanSocketStream,
    "trio": trio.SocketStream,
}


# Each loop runs ``n`` iterations and returns the nanoseconds it spent in what it measures.


async def _round_trip(a: trio.abc.HalfCloseableStream, b: trio.abc.HalfCloseableStream, n: int) -> int:
    size = len(MESSAGE)
    start = time.perf_counter_ns()
    for _ in range(n):
        await a.send_all(MESSAGE)
        data = await b.receive_some(size)
        await b.send_all(data)
        await a.receive_some(size)
    return time.perf_counter_ns() - start


async def _ping_pong(a: trio.abc.HalfCloseableStream, b: trio.abc.HalfCloseableStream, n: int) -> int:
    size = len(MESSAGE)

    async def echo() -> None:
        for _ in range(n):
            await b.send_all(await b.receive_some(size))

    start = time.perf_counter_ns()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(echo)
        for _ in range(n):
            await a.send_all(MESSAGE)
            await a.receive_some(size)
    return time.perf_counter_ns() - start


async def _send_only(a: trio.abc.HalfCloseableStream, b: trio.abc.HalfCloseableStream, n: int) -> int:
    size, spent = len(MESSAGE) * BATCH, 0
    for _ in range(n // BATCH):
        start = time.perf_counter_ns()
        for _ in range(BATCH):
            await a.send_all(MESSAGE)
        spent += time.perf_counter_ns() - start
        got = 0
        while got < size:
            got += len(await b.receive_some(size - got))
    return spent


async def _receive_only(a: trio.abc.HalfCloseableStream, b: trio.abc.HalfCloseableStream, n: int) -> int:
    size, spent = len(MESSAGE), 0
    for _ in range(n // BATCH):
        await a.send_all(MESSAGE * BATCH)
        start = time.perf_counter_ns()
        for _ in range(BATCH):
            await b.receive_some(size)
        spent += time.perf_counter_ns() - start
    return spent


LOOPS: Final[dict[str, Loop]] = {
    "round trip": _round_trip,
    "ping-pong": _ping_pong,
    "send_all": _send_only,
    "receive_some": _receive_only,
}


async def _measure(loop: Loop) -> dict[str, float]:
    """Median ns per iteration of ``loop`` for each stream, the streams taking turns in every repeat."""
    pairs = {}
    for name, make in STREAMS.items():
        left, right = trio.socket.socketpair()
        pairs[name] = (make(left), make(right))
    iterations = {}
    for name, (a, b) in pairs.items():
        spent = await loop(a, b, BATCH * 16)  # warm-up and calibration
        iterations[name] = max(BATCH * 16, int(REPEAT_SECONDS * 1e9 / (spent / (BATCH * 16))) // BATCH * BATCH)
    clean: dict[str, list[float]] = {name: [] for name in pairs}
    every: dict[str, list[float]] = {name: [] for name in pairs}
    for _ in range(MAX_REPEATS):
        if all(len(runs) >= REPEATS for runs in clean.values()):
            break
        for name, (a, b) in pairs.items():
            gc.collect()
            n = iterations[name]
            cpu = time.thread_time_ns()
            wall = time.perf_counter_ns()
            spent = await loop(a, b, n)
            wall = time.perf_counter_ns() - wall
            cpu = time.thread_time_ns() - cpu
            every[name].append(spent / n)
            if wall <= cpu * _PREEMPTED:
                clean[name].append(spent / n)
    for a, b in pairs.values():
        await a.aclose()
        await b.aclose()
    return {name: statistics.median(clean[name] if len(clean[name]) >= 3 else every[name]) for name in pairs}


async def _run() -> dict[str, dict[str, float]]:
    return {label: await _measure(loop) for label, loop in LOOPS.items()}


def main() -> None:
    print(
        f"LeanSocketStream before/after keeping Trio's stream contract, and trio.SocketStream: {len(MESSAGE)}-byte "
        f"messages over a Unix socketpair, one process pinned to one core; median of {REPEATS} loops of "
        f"~{REPEAT_SECONDS * 1000:.0f} ms each, microseconds"
    )
    with pinned_self(load_core()):
        results = trio.run(_run)
    print(f"  {'us per':<14} {'old':>7} {'new':>7} {'trio':>7} {'new/old':>8} {'trio/new':>9}")
    for label, figures in results.items():
        old, new, tri = (figures[name] / 1000 for name in ("old", "new", "trio"))
        print(f"  {label:<14} {old:>7.2f} {new:>7.2f} {tri:>7.2f} {new / old:>7.2f}x {tri / new:>8.2f}x")
    print(
        "  round trip = 2 send_all + 2 receive_some that find the kernel ready; ping-pong = the same between two "
        "tasks, each read waiting for the peer"
    )


if __name__ == "__main__":
    main()
