"""One task that notices, for any number of sockets, when their peer closes the connection.

Theory of operation: a streamed HTTP response has to notice a client that leaves (an HTTP client says so only by
closing), but the connection's own task is busy waiting for the response's frames. A second task per response
reading the socket costs a task and a nursery (about 9 KB per request in flight, 40% of one). Instead each such
socket is registered, for ``EPOLLRDHUP`` only, in a private epoll set whose descriptor the one watcher task waits
on; when the peer half-closes, closes or resets, the socket's callback runs once and its registration ends. Input
that arrives meanwhile (a pipelined next request) is left in the kernel: TCP pushes back, and the connection
reads it when its response is done.

The same set serves parked connections (``StreamConnection.park``): an idle connection registered with
``readable=True`` is called back when input arrives, as well as on a close, so it needs no task while it waits.

Only Linux has ``EPOLLRDHUP``; elsewhere ``HangupWatch.available`` is false and callers watch with a task.
"""

from __future__ import annotations

import contextlib
import select
from collections.abc import Callable

import trio

__all__ = ["HangupWatch"]

_EPOLLRDHUP = getattr(select, "EPOLLRDHUP", 0)
_BATCH = 1024  # events taken per pass


class HangupWatch:
    """Sockets whose peer's close is awaited, each with the callback to run when it comes.

    ``watch`` and ``unwatch`` are synchronous and cheap (one ``epoll_ctl``); ``run`` is the watcher task, and
    ``available`` says whether it is running (callers fall back to a task of their own while it is not).
    """

    __slots__ = ("_callbacks", "_epoll", "_readable", "_running")

    def __init__(self) -> None:
        self._epoll: select.epoll | None = None
        self._callbacks: dict[int, Callable[[], None]] = {}
        self._readable: set[int] = set()  # watched for input too: woken, not forgotten, if the watcher ends
        self._running = False

    def __len__(self) -> int:
        return len(self._callbacks)

    @property
    def available(self) -> bool:
        return self._running

    def watch(self, fd: int, on_hangup: Callable[[], None], *, readable: bool = False) -> None:
        """Call ``on_hangup()`` once if the peer of socket ``fd`` closes (or, with ``readable``, sends anything),
        until ``unwatch(fd)``."""
        epoll = self._epoll
        assert epoll is not None, "watch() needs run() to be running"
        if fd in self._callbacks:
            raise RuntimeError(f"descriptor {fd} is already watched")
        events = _EPOLLRDHUP | select.EPOLLIN if readable else _EPOLLRDHUP
        try:
            epoll.register(fd, events)
        except FileExistsError:  # a closed descriptor's number, reused: the kernel dropped the old one only
            epoll.modify(fd, events)  # when its last reference went (never while it was watched)
        self._callbacks[fd] = on_hangup
        if readable:
            self._readable.add(fd)

    def unwatch(self, fd: int) -> None:
        """Stop watching ``fd`` (it must still be open; nothing happens when it is not watched)."""
        self._readable.discard(fd)
        if self._callbacks.pop(fd, None) is not None and self._epoll is not None:
            with contextlib.suppress(OSError):  # already gone from the set
                self._epoll.unregister(fd)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """The watcher task: run each hung-up socket's callback; until cancelled. If it ends (a restart), the
        sockets it watched for a hang-up only are forgotten, never called back (their streams then end only when
        they finish); those watched for input are called back at once."""
        if not _EPOLLRDHUP:
            task_status.started()
            await trio.sleep_forever()  # not Linux: never available
        epoll = self._epoll = select.epoll()
        self._running = True
        task_status.started()
        try:
            while True:
                await trio.lowlevel.wait_readable(epoll)
                for fd, _ in epoll.poll(0, _BATCH):
                    self._readable.discard(fd)
                    on_hangup = self._callbacks.pop(fd, None)
                    with contextlib.suppress(OSError):
                        epoll.unregister(fd)
                    if on_hangup is not None:
                        on_hangup()
        finally:
            self._running = False
            woken = [self._callbacks[fd] for fd in self._readable if fd in self._callbacks]
            self._readable.clear()
            self._callbacks.clear()
            for on_input in woken:  # parked connections: a task again rather than a wait that never ends
                on_input()
            trio.lowlevel.notify_closing(epoll)
            epoll.close()
            self._epoll = None
