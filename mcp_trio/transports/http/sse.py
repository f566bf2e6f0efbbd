"""One HTTP response in the making: frames produced by handler tasks, written by the connection's task.

Theory of operation: producers (a handler's notifications, a server-to-client request, the final response)
``post`` encoded SSE frames without blocking, so frames keep the order they were produced in; a producer then
waits only while more than ``limit`` bytes are queued (the client reads slowly). The connection task is the
only writer: it takes everything queued in one write, so each frame is flushed as soon as it exists. The final
response is kept apart from the frames, so a response whose handler finished before saying anything else can
still go out as plain JSON with a meaningful status. A stream whose client left is *detached*: frames are
dropped (legacy streams keep them in the event store) and waiting producers are released.
"""

from __future__ import annotations

from collections.abc import Callable

import trio

from mcp_trio.transports.wakeup import park, wake

__all__ = ["ResponseStream", "sse_frame", "retry_frame", "KEEPALIVE_FRAME"]

KEEPALIVE_FRAME = b": keep-alive\n\n"


def sse_frame(data: bytes, event_id: str | None = None) -> bytes:
    """One ``message`` event carrying ``data`` (a JSON text, which never contains a raw newline)."""
    if event_id is None:
        return b"data: " + data + b"\n\n"
    return b"id: " + event_id.encode("ascii") + b"\ndata: " + data + b"\n\n"


def retry_frame(retry_ms: int) -> bytes:
    return b"retry: %d\n\n" % retry_ms


class ResponseStream:
    """Frames of one response, with bounded buffering (see the module docstring).

    Args:
        limit: bytes queued before producers wait.
        live: ``False`` for a JSON response: intermediate frames are dropped, only the final answer counts.
    """

    __slots__ = (
        "_frames",
        "_limit",
        "_size",
        "_space",
        "_waiter",
        "detached",
        "ended",
        "final",
        "final_frame",
        "live",
        "refill",
    )

    def __init__(self, limit: int, *, live: bool = True) -> None:
        self._limit = limit
        self.live = live
        self._frames: list[bytes] = []  # a list, not a deque: ``take`` drains it whole (56 bytes, not 600)
        self._size = 0
        #: The writer parked in ``wait`` (no ``trio.Event``: an idle stream, e.g. ``listen``, keeps only this).
        self._waiter: trio.lowlevel.Task | None = None
        self._space: trio.Event | None = None
        #: The final answer as JSON and as an SSE frame, with the HTTP status it gets when sent as JSON.
        self.final: tuple[bytes, bytes, int] | None = None
        self.final_frame = False
        self.ended = False  # nothing more will be produced for this response
        self.detached = False  # the client left: nothing more will be written
        #: Called after each ``take``: a producer without a task of its own (``PushOutlet``) queues more then.
        self.refill: Callable[[], None] | None = None

    @property
    def room(self) -> bool:
        """Whether fewer than ``limit`` bytes wait for the client."""
        return self._size <= self._limit

    @property
    def pending(self) -> bool:
        return bool(self._frames)

    def _notify(self) -> None:
        wake(self)

    def post(self, frame: bytes) -> None:
        """Queue a frame (never blocks; dropped when the stream is not live)."""
        if not self.live or self.ended or self.detached:
            return
        self._frames.append(frame)
        self._size += len(frame)
        self._notify()

    async def wait_space(self) -> None:
        """Wait while the client is behind by more than ``limit`` bytes (always checkpoints)."""
        await trio.lowlevel.checkpoint()
        while self._size > self._limit and not self.detached:
            if self._space is None:
                self._space = trio.Event()
            await self._space.wait()

    async def send(self, frame: bytes) -> None:
        self.post(frame)
        await self.wait_space()

    def finish(self, json_body: bytes, frame: bytes, status: int = 200) -> None:
        """The final answer; the response ends after it."""
        if self.ended:
            return
        self.final = (json_body, frame, status)
        self.ended = True
        self._notify()

    def end(self, last_frame: bytes | None = None) -> None:
        """End the response without a final answer (cancelled, or closed early after ``last_frame``)."""
        if last_frame is not None:
            self.post(last_frame)
        self.ended = True
        self._notify()

    def detach(self) -> None:
        """The client is gone: drop what is queued and release waiting producers."""
        self.detached = True
        self.refill = None
        self._frames.clear()
        self._size = 0
        self._notify()
        self._release()

    def _release(self) -> None:
        if self._space is not None:
            self._space.set()
            self._space = None

    async def wait(self) -> None:
        """Wait until there is something to write, or nothing more will come (a checkpoint either way)."""
        if self._frames or self.ended or self.detached:
            await trio.lowlevel.checkpoint()
            return
        await park(self)

    def take(self) -> bytes:
        """Everything queued, as one write."""
        data = b"".join(self._frames)
        self._frames.clear()
        self._size = 0
        self._release()
        if self.refill is not None:
            self.refill()
        return data
