"""A connected socket as a Trio stream, with the fast path first: try the system call, wait only if it would block.

Theory of operation: ``trio.SocketStream`` goes through ``trio.socket``'s generic wrappers (a conflict detector
object, error-translating context managers, a memoryview per send, an async context manager per attempt), which
at tens of thousands of small messages per second cost more than the system calls themselves. This stream makes
the non-blocking ``read``/``write`` straight away and waits (``wait_readable``/``wait_writable``, themselves
checkpoints) only when the kernel says it would block, yet keeps Trio's contract that every operation is a
checkpoint, in the order Trio's own sockets use: ``checkpoint_if_cancelled()`` *before* the system call, so a
cancelled caller gets ``Cancelled`` without anything read or written (a deadline is honoured even while data is
buffered, and that data stays readable); then, if the call did not block, one pass through the scheduler with
``cancel_shielded_checkpoint()``, which cannot raise, so bytes already moved are never lost to a cancellation.
For reads that pass is also fairness: a peer that always has its next message ready cannot make the other
connections wait (measured: letting 16 reads skip the scheduler raised throughput but multiplied p99 at 100
clients). For writes it is the contract's price (about 3 us, a scheduler pass; see ``benchmarks/lean_socket.py``);
``send_nowait`` is the deliberate, synchronous exception for callers that want to skip it and a timer.

The bookkeeping is plain slots. One flag per direction makes a second task using a direction already in use raise
``BusyResourceError`` (about 15 ns an operation; trio's ``ConflictDetector`` context manager costs about 105). Each
direction keeps its own descriptor, set to -1 once it is closed (``aclose`` closes both, ``send_eof`` the sending
side), so the fast path needs no closed check: the system call fails with EBADF, which reads as
``ClosedResourceError``, and a closed stream never touches a descriptor number the kernel may since have given to
another connection. ``trio.socket``'s ``close`` wakes any task blocked on the socket with ``ClosedResourceError``.
"""

from __future__ import annotations

import errno
import os
import socket
from typing import Final

import trio
from trio.lowlevel import cancel_shielded_checkpoint, checkpoint_if_cancelled, wait_readable, wait_writable

__all__ = ["LeanSocketStream", "write_nowait"]

_DEFAULT_RECEIVE: Final = 65536
_CLOSED: Final = -1  # a descriptor slot once its direction is closed: every system call on it fails with EBADF


class LeanSocketStream(trio.abc.HalfCloseableStream):
    """A stream over a connected, non-blocking Trio socket (TCP or Unix); close it through ``aclose``."""

    __slots__ = ("_receiving", "_rfd", "_sending", "_wfd", "socket")

    def __init__(self, sock: trio.socket.SocketType) -> None:
        self.socket = sock
        self._rfd = self._wfd = sock.fileno()
        self._receiving = False
        self._sending = False  # send_all, wait_send_all_might_not_block and send_eof share the sending side

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        if max_bytes is None:
            max_bytes = _DEFAULT_RECEIVE
        elif max_bytes < 1:
            raise ValueError("max_bytes must be at least 1")  # os.read(fd, 0) returns b"", which means end of stream
        if self._receiving:
            raise trio.BusyResourceError("another task is already receiving on this stream")
        self._receiving = True
        try:
            await checkpoint_if_cancelled()
            try:
                data = os.read(self._rfd, max_bytes)
            except BlockingIOError:
                pass
            except OSError as exc:
                raise _broken(exc) from exc
            else:
                await cancel_shielded_checkpoint()  # the data is ours now: a pass through the scheduler, no raise
                return data
            while True:
                await wait_readable(self.socket)
                try:
                    return os.read(self._rfd, max_bytes)  # re-read the slot: closed meanwhile -> EBADF
                except BlockingIOError:
                    continue  # a spurious wake-up
                except OSError as exc:
                    raise _broken(exc) from exc
        finally:
            self._receiving = False

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        if self._sending:
            raise trio.BusyResourceError("another task is already sending on this stream")
        self._sending = True
        try:
            await checkpoint_if_cancelled()
            try:
                sent = os.write(self._wfd, data)  # b"" too: it still reports a closed stream (EBADF)
            except BlockingIOError:
                sent = 0
            except OSError as exc:
                raise _broken(exc) from exc
            if sent == len(data) and (type(data) is not memoryview or sent == data.nbytes):  # len counts items
                await cancel_shielded_checkpoint()
                return
            await self._send_rest(data, sent)
        finally:
            self._sending = False

    async def _send_rest(self, data: bytes | bytearray | memoryview, sent: int) -> None:
        """Write what the first attempt left, waiting for room; the waits are the checkpoints."""
        with memoryview(data) as view, view.cast("B") as raw:  # count bytes, as os.write does
            total = raw.nbytes
            if sent == total:  # a memoryview of multi-byte items, all sent at once
                await cancel_shielded_checkpoint()
                return
            while sent < total:
                await wait_writable(self.socket)
                try:
                    sent += os.write(self._wfd, raw[sent:])
                except BlockingIOError:
                    continue
                except OSError as exc:
                    raise _broken(exc) from exc

    def send_nowait(self, data: bytes | bytearray | memoryview) -> int:
        """One non-blocking write: the bytes the kernel took (0 if it would block).

        Deliberately not a checkpoint (nor async): a caller that would otherwise arm a write timeout around
        ``send_all`` tries this first and, in the common case where the kernel takes everything, skips the
        timer and the scheduler pass; it then awaits ``send_all`` for any rest, which checkpoints.

        Raises:
            trio.BusyResourceError: a ``send_all`` is in progress (the bytes would interleave with its rest).
            trio.ClosedResourceError: the stream was closed, or ``send_eof`` was called.
            trio.BrokenResourceError: the peer is gone.
        """
        if self._sending:
            raise trio.BusyResourceError("another task is already sending on this stream")
        try:
            return os.write(self._wfd, data)
        except BlockingIOError:
            return 0
        except OSError as exc:
            raise _broken(exc) from exc

    async def wait_send_all_might_not_block(self) -> None:
        if self._sending:
            raise trio.BusyResourceError("another task is already sending on this stream")
        if self._wfd == _CLOSED:
            raise trio.ClosedResourceError("this stream is closed for sending")
        self._sending = True
        try:
            await wait_writable(self.socket)
        finally:
            self._sending = False

    async def send_eof(self) -> None:
        if self._sending:
            raise trio.BusyResourceError("another task is already sending on this stream")
        self._sending = True
        try:
            await trio.lowlevel.checkpoint()
            if self._rfd == _CLOSED:  # only aclose clears the reading side
                raise trio.ClosedResourceError("this stream was closed")
            if self._wfd == _CLOSED:
                return  # idempotent
            self._wfd = _CLOSED
            try:
                self.socket.shutdown(socket.SHUT_WR)
            except OSError as exc:
                if exc.errno != errno.ENOTCONN:  # the peer already reset the connection: sending is over anyway
                    raise _broken(exc) from exc
        finally:
            self._sending = False

    async def aclose(self) -> None:
        """Close at once (even if cancelled), then checkpoint; closing again is a no-op."""
        self._rfd = self._wfd = _CLOSED
        self.socket.close()
        await trio.lowlevel.checkpoint()


def _broken(exc: OSError) -> trio.BrokenResourceError | trio.ClosedResourceError:
    if exc.errno == errno.EBADF:
        return trio.ClosedResourceError("this stream is closed (in this direction)")
    return trio.BrokenResourceError(f"the peer broke the connection: {exc}")


def write_nowait(stream: trio.abc.SendStream, data: bytes | bytearray) -> bytes | bytearray | memoryview:
    """Write what the kernel takes at once, without a checkpoint; returns what is left (empty when all went).

    For a framing's own flushes, whose task checkpoints anyway on its next read: in the common case the kernel
    takes the whole write and neither a scheduler pass nor a write timer is needed. Anything left must go
    through ``send_all`` (which checkpoints and waits). Streams other than ``LeanSocketStream`` take nothing.

    Raises:
        trio.BrokenResourceError, trio.ClosedResourceError: as ``send_nowait``.
    """
    if type(stream) is not LeanSocketStream:
        return data
    sent = stream.send_nowait(data)
    return data[sent:] if sent else data
