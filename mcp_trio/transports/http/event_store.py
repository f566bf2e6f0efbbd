"""Where legacy SSE events wait for a client to resume a broken stream (2025-11-25, SEP-1699).

Theory of operation: every event sent on a legacy session's SSE stream gets an id naming its stream and its
position in it (``"<stream>-<seq>"``, unique within the session) and is appended here before it is written.
A client that lost the stream sends ``GET`` with ``Last-Event-ID`` and receives that stream's later events,
and only that stream's. The store is bounded: a session keeps at most ``max_events`` events and ``max_bytes``
bytes (oldest dropped first), each for at most ``max_age`` seconds. Resuming past a dropped event is lossy,
which is why the limits are configuration and the store is pluggable (``EventStore``) for deployments that keep
events elsewhere.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Protocol

import trio

__all__ = ["EventStore", "InMemoryEventStore", "StoredEvent", "format_event_id", "parse_event_id"]

#: (sequence number within its stream, the event's JSON data)
StoredEvent = tuple[int, bytes]


def format_event_id(stream_id: int, seq: int) -> str:
    return f"{stream_id}-{seq}"


def _ascii_digits(text: str) -> bool:
    """``str.isdigit`` also accepts ``"²"``, which ``int`` refuses: only ASCII digits are ours."""
    return text.isascii() and text.isdigit()


def parse_event_id(event_id: str) -> tuple[int, int] | None:
    """``"3-17"`` -> ``(3, 17)``; ``None`` for anything we did not mint."""
    stream, sep, seq = event_id.strip().partition("-")
    if not sep or len(event_id) > 40 or not _ascii_digits(stream) or not _ascii_digits(seq):
        return None
    return int(stream), int(seq)


class EventStore(Protocol):
    """Storage of SSE events for resumption; implementations must bound what they keep."""

    async def append(self, session_id: str, stream_id: int, seq: int, data: bytes) -> None:
        """Keep one event (appended in ``seq`` order within a stream)."""

    async def replay(self, session_id: str, stream_id: int, after_seq: int, before_seq: int) -> Sequence[StoredEvent]:
        """The kept events of one stream with ``after_seq < seq < before_seq``, in order."""

    async def discard(self, session_id: str) -> None:
        """Forget a session's events (the session ended)."""


class _SessionEvents:
    __slots__ = ("events", "size")

    def __init__(self) -> None:
        self.events: deque[tuple[float, int, int, bytes]] = deque()  # (stored at, stream, seq, data)
        self.size = 0


class InMemoryEventStore:
    """The default ``EventStore``: per-session ring of recent events, bounded by count, bytes and age.

    Args:
        max_events: events kept per session.
        max_bytes: bytes of event data kept per session.
        max_age: seconds an event stays replayable (Trio's clock).
    """

    __slots__ = ("_sessions", "max_age", "max_bytes", "max_events")

    def __init__(self, max_events: int, max_bytes: int, max_age: float) -> None:
        self.max_events = max_events
        self.max_bytes = max_bytes
        self.max_age = max_age
        self._sessions: dict[str, _SessionEvents] = {}

    async def append(self, session_id: str, stream_id: int, seq: int, data: bytes) -> None:
        if len(data) > self.max_bytes:
            return  # could never be kept within the limit
        entry = self._sessions.get(session_id)
        if entry is None:
            entry = self._sessions[session_id] = _SessionEvents()
        now = trio.current_time()
        entry.events.append((now, stream_id, seq, data))
        entry.size += len(data)
        self._trim(entry, now)

    def _trim(self, entry: _SessionEvents, now: float) -> None:
        events = entry.events
        while events and (
            len(events) > self.max_events or entry.size > self.max_bytes or events[0][0] <= now - self.max_age
        ):
            entry.size -= len(events.popleft()[3])

    async def replay(self, session_id: str, stream_id: int, after_seq: int, before_seq: int) -> Sequence[StoredEvent]:
        entry = self._sessions.get(session_id)
        if entry is None:
            return []
        self._trim(entry, trio.current_time())
        return [
            (seq, data) for _, stream, seq, data in entry.events if stream == stream_id and after_seq < seq < before_seq
        ]

    async def discard(self, session_id: str) -> None:
        self._sessions.pop(session_id, None)

    def statistics(self) -> tuple[int, int]:
        """(sessions with events, events kept in total)."""
        return len(self._sessions), sum(len(e.events) for e in self._sessions.values())
