"""A sans-IO parser of ``text/event-stream`` (the WHATWG server-sent events format), bounded in what it buffers.

Feed it bytes as they arrive; it returns the complete events. Lines end with CRLF, LF or CR; ``data`` lines
join with LF; ``id`` sets the last event id (kept across events, ignored when it contains NUL); ``retry`` sets
the reconnection delay when all digits; comments (``:``) and unknown fields are ignored. An event with no data
is not dispatched, but its ``id`` still counts (the MCP priming event is exactly that). A line or event larger
than ``max_bytes`` raises ``ValueError``: a hostile server cannot make the client buffer without bound.
"""

from __future__ import annotations

__all__ = ["SseEvent", "SseParser"]


class SseEvent:
    """One dispatched event: its type (``"message"`` by default), data, and the last event id at that point."""

    __slots__ = ("data", "event", "id")

    def __init__(self, event: str, data: str, event_id: str | None) -> None:
        self.event = event
        self.data = data
        self.id = event_id

    def __repr__(self) -> str:
        return f"SseEvent({self.event!r}, {self.data!r}, id={self.id!r})"


class SseParser:
    """Incremental parser state: the partial line, the event being built, the last id and retry."""

    __slots__ = ("_buffer", "_data", "_event", "_size", "last_id", "max_bytes", "retry_ms")

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.last_id: str | None = None
        self.retry_ms: int | None = None
        self._buffer = b""
        self._data: list[str] = []
        self._event = ""
        self._size = 0

    def feed(self, chunk: bytes) -> list[SseEvent]:
        """The events completed by ``chunk``.

        Raises:
            ValueError: a line or an event over ``max_bytes``.
        """
        buffer = self._buffer + chunk if self._buffer else chunk
        events: list[SseEvent] = []
        start = 0
        size = len(buffer)
        while start < size:
            lf = buffer.find(b"\n", start)
            cr = buffer.find(b"\r", start)
            if cr >= 0 and (lf < 0 or cr < lf):
                if cr + 1 == size:
                    break  # a CR at the end may be the first half of CRLF: wait for the next byte
                end, following = cr, cr + 2 if buffer[cr + 1 : cr + 2] == b"\n" else cr + 1
            elif lf >= 0:
                end, following = lf, lf + 1
            else:
                break
            self._line(buffer[start:end].decode("utf-8", "replace"), events)
            start = following
        rest = buffer[start:]
        if len(rest) > self.max_bytes:
            raise ValueError(f"a server-sent event line over {self.max_bytes} bytes")
        self._buffer = rest
        return events

    def _line(self, line: str, events: list[SseEvent]) -> None:
        if not line:
            if self._data:
                events.append(SseEvent(self._event or "message", "\n".join(self._data), self.last_id))
            self._data = []
            self._event = ""
            self._size = 0
            return
        if line[0] == ":":
            return
        name, colon, value = line.partition(":")
        if colon and value[:1] == " ":
            value = value[1:]
        if name == "data":
            self._size += len(value) + 1
            if self._size > self.max_bytes:
                raise ValueError(f"a server-sent event over {self.max_bytes} bytes")
            self._data.append(value)
        elif name == "id":
            if "\0" not in value:
                self.last_id = value
        elif name == "event":
            self._event = value
        elif name == "retry" and value.isascii() and value.isdigit():
            self.retry_ms = int(value)
