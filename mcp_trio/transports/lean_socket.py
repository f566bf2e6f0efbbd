"""A connected socket as a Trio stream, with the fast path first: try the system call, wait only if it would block.

Theory of operation: ``trio.SocketStream`` wraps every operation in conflict detectors and two checkpoints, which
at tens of thousands of small messages per second costs more than the system calls themselves. This stream tries
the non-blocking ``read``/``write`` straight away and waits (``wait_readable``/``wait_writable``, which are
checkpoints) only when the kernel says it would block. A read that finds data still passes once through the
scheduler, so a peer that always has its next message ready cannot make the others wait (measured: letting 16
reads skip the scheduler raised throughput but multiplied p99 at 100 clients); a write that the kernel takes at
once does not, since the connection's next step is a read.
Concurrent use from two tasks is the caller's bug: the server's connection driver reads from one task and
serialises writes through its own flush flag, so the per-operation conflict detectors are not needed here.
"""

from __future__ import annotations

import errno
import os
import socket
from typing import Final

import trio

__all__ = ["LeanSocketStream"]

_DEFAULT_RECEIVE: Final = 65536


class LeanSocketStream(trio.abc.HalfCloseableStream):
    """A stream over a connected, non-blocking Trio socket (TCP or Unix)."""

    __slots__ = ("_fd", "socket")

    def __init__(self, sock: trio.socket.SocketType) -> None:
        self.socket = sock
        self._fd = sock.fileno()

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        size = _DEFAULT_RECEIVE if max_bytes is None else max_bytes
        try:
            data = os.read(self._fd, size)
        except BlockingIOError:
            pass
        except OSError as exc:
            raise _broken(exc) from exc
        else:
            # Fairness: data that was already there still costs one pass through the scheduler, so a peer
            # that always has the next message ready cannot keep the others waiting (this is what p99 is).
            await trio.lowlevel.cancel_shielded_checkpoint()
            return data
        while True:
            await trio.lowlevel.wait_readable(self.socket)
            try:
                return os.read(self._fd, size)
            except BlockingIOError:
                continue  # a spurious wake-up
            except OSError as exc:
                raise _broken(exc) from exc

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        with memoryview(data) as view:
            sent, total = 0, len(view)
            while sent < total:
                try:
                    sent += os.write(self._fd, view[sent:])
                except BlockingIOError:
                    await trio.lowlevel.wait_writable(self.socket)
                except OSError as exc:
                    raise _broken(exc) from exc

    def send_nowait(self, data: bytes | bytearray | memoryview) -> int:
        """One non-blocking write: the bytes the kernel took (0 if it would block), so callers can skip timers.

        Raises:
            trio.BrokenResourceError: the peer is gone.
        """
        try:
            return os.write(self._fd, data)
        except BlockingIOError:
            return 0
        except OSError as exc:
            raise _broken(exc) from exc

    async def wait_send_all_might_not_block(self) -> None:
        await trio.lowlevel.wait_writable(self.socket)

    async def send_eof(self) -> None:
        await trio.lowlevel.checkpoint()
        try:
            self.socket.shutdown(socket.SHUT_WR)
        except OSError as exc:
            if exc.errno != errno.ENOTCONN:
                raise _broken(exc) from exc

    async def aclose(self) -> None:
        self.socket.close()
        await trio.lowlevel.checkpoint()


def _broken(exc: OSError) -> trio.BrokenResourceError | trio.ClosedResourceError:
    if exc.errno == errno.EBADF:
        return trio.ClosedResourceError("the socket was closed")
    return trio.BrokenResourceError(f"the peer broke the connection: {exc}")
