"""``Subscription``: the notifications of one 2026-07-28 ``subscriptions/listen`` stream, as an async iterator.

The listen request stays open while the subscription is used; the server tags every notification of it with
``_meta["io.modelcontextprotocol/subscriptionId"]`` (the request's id), and the driver routes those here instead
of to ``on_notification``. The buffer is bounded (``capacity``): list changes and resource updates say "look
again", so when a slow consumer lets it fill, a repeat of a notification already waiting is dropped, and past
that the oldest is dropped and counted in ``dropped`` (never an unbounded queue).
"""

from __future__ import annotations

from collections import deque
from typing import Any

import trio

from mcp_trio.protocol.types import SubscriptionFilter

__all__ = ["Subscription"]


class Subscription:
    """One listen stream's state: its acknowledgement, buffered notifications, and whether it ended."""

    __slots__ = ("_arrived", "_buffer", "acknowledged", "capacity", "dropped", "ended", "request_id")

    def __init__(self, capacity: int = 256) -> None:
        self.capacity = capacity
        self.request_id: Any = None
        #: The filter the server honours (``notifications/subscriptions/acknowledged``); ``None`` until it came.
        self.acknowledged: SubscriptionFilter | None = None
        self.dropped = 0
        self.ended = False
        self._buffer: deque[tuple[str, Any]] = deque()
        self._arrived = trio.Event()

    def __repr__(self) -> str:
        return f"<subscription {self.request_id} {len(self._buffer)} waiting>"

    def deliver(self, method: str, params: Any) -> None:
        """A notification of this stream (called by the driver)."""
        if method == "notifications/subscriptions/acknowledged":
            self.acknowledged = params.notifications
        else:
            buffer = self._buffer
            if len(buffer) >= self.capacity:
                key = (method, getattr(params, "uri", None))
                if any((m, getattr(p, "uri", None)) == key for m, p in buffer):
                    self.dropped += 1
                    return
                buffer.popleft()
                self.dropped += 1
            buffer.append((method, params))
        self._arrived.set()

    def end(self) -> None:
        """The stream ended (the server completed it, or the connection went)."""
        self.ended = True
        self._arrived.set()

    async def wait_acknowledged(self) -> SubscriptionFilter | None:
        """Wait for the server's acknowledgement (``None`` if the stream ended without one)."""
        while self.acknowledged is None and not self.ended:
            await self._wait()
        await trio.lowlevel.checkpoint()
        return self.acknowledged

    async def _wait(self) -> None:
        self._arrived = trio.Event()
        await self._arrived.wait()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> tuple[str, Any]:
        """The next ``(method, params)``: ``notifications/tools/list_changed``, ``.../resources/updated``..."""
        while not self._buffer:
            if self.ended:
                raise StopAsyncIteration
            await self._wait()
        await trio.lowlevel.checkpoint()
        return self._buffer.popleft()
