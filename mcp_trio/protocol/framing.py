"""Newline-delimited JSON framing (stdio, TCP, Unix sockets) with a hard cap per message.

Theory of operation: bytes go in with ``receive_data`` and whole messages come out of ``next_message``, in
the h11 style. The framer never holds more than ``max_message_size`` bytes of an incomplete message plus the
last chunk received: a message that grows past the cap raises ``MessageTooLarge`` once, and the framer then
discards input up to the next newline and carries on, so one bad message costs the peer one error, not the
connection. An idle framer holds no buffer at all (``None``), which matters at 100K connections.
"""

from __future__ import annotations

from typing import Final

from mcp_trio.protocol.errors import InvalidRequest, LocalProtocolError, MessageTooLarge

__all__ = ["NEED_DATA", "NeedData", "DEFAULT_MAX_MESSAGE_SIZE", "LineFramer", "frame"]

#: Default cap on one message: generous for embedded resources, small enough that a flood cannot exhaust memory.
DEFAULT_MAX_MESSAGE_SIZE: Final = 4 * 1024 * 1024


class NeedData:
    """Sentinel type: no complete message is buffered; feed more bytes."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA: Final = NeedData()


class LineFramer:
    """Split a byte stream into newline-terminated messages.

    Args:
        max_message_size: the largest message accepted, in bytes, excluding the newline.

    Blank lines are skipped and a trailing ``\\r`` is tolerated (JSON ignores surrounding whitespace).
    """

    __slots__ = ("_buffer", "_discarding", "_eof", "_scan", "_start", "max_message_size")

    def __init__(self, max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE) -> None:
        if max_message_size < 1:
            raise ValueError("max_message_size must be positive")
        self.max_message_size = max_message_size
        self._buffer: bytes | bytearray | None = None
        self._start = 0  # first unconsumed byte
        self._scan = 0  # where the newline search resumes
        self._discarding = False
        self._eof = False

    @property
    def buffered(self) -> int:
        """Bytes held for messages not yet returned."""
        return 0 if self._buffer is None else len(self._buffer) - self._start

    def receive_data(self, data: bytes) -> None:
        """Feed bytes from the peer; ``b""`` means end of input."""
        if not data:
            self._eof = True
            return
        if self._eof:
            raise LocalProtocolError("receive_data after end of input")
        if self._discarding:
            end = data.find(b"\n")
            if end < 0:
                return
            self._discarding = False
            data = data[end + 1 :]
            if not data:
                return
        buffer = self._buffer
        if buffer is None:
            # Keep the caller's bytes as they are: the common case (whole lines per chunk) copies nothing.
            self._buffer, self._start, self._scan = data, 0, 0
            return
        if isinstance(buffer, bytes):
            buffer = bytearray(memoryview(buffer)[self._start :])
        elif self._start:
            del buffer[: self._start]
        self._scan -= self._start
        self._start = 0
        buffer += data
        self._buffer = buffer

    def next_message(self) -> bytes | NeedData:
        """Return the next complete message, or ``NEED_DATA``.

        Raises:
            MessageTooLarge: a message exceeded ``max_message_size``; it is dropped, framing resumes after it.
            InvalidRequest: input ended in the middle of a message.
        """
        while (buffer := self._buffer) is not None:
            end = buffer.find(b"\n", self._scan)
            if end < 0:
                pending = len(buffer) - self._start
                if pending > self.max_message_size:
                    self._reset()
                    self._discarding = not self._eof
                    raise MessageTooLarge(f"message exceeds the {self.max_message_size}-byte limit")
                if self._eof:
                    rest = bytes(buffer[self._start :])
                    self._reset()
                    if rest.strip():
                        raise InvalidRequest("input ended in the middle of a message")
                    return NEED_DATA
                self._scan = len(buffer)
                return NEED_DATA
            start = self._start
            if end + 1 == len(buffer):
                self._reset()
            else:
                self._start = self._scan = end + 1
            if end - start > self.max_message_size:
                raise MessageTooLarge(f"message exceeds the {self.max_message_size}-byte limit")
            line = buffer[start:end]
            if line.endswith(b"\r"):
                line = line[:-1]
            if not line or line.isspace():
                continue
            return line if isinstance(line, bytes) else bytes(line)
        return NEED_DATA

    def _reset(self) -> None:
        self._buffer = None
        self._start = self._scan = 0


def frame(message: bytes) -> bytes:
    """Return one encoded message as a line. The encoder never emits raw newlines inside JSON."""
    return message + b"\n"
