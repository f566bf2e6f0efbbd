"""Serialising HTTP/1.1 responses: status line and headers, body framing, chunks.

Theory of operation: responses are ours to write (requests may come through h11 or the plain fast path, and a
response must not depend on which), so the rules h11 would enforce on the way out live here: the framing
header is always computed, never taken from a caller (``Content-Length`` for a known body, chunked for a stream
to an HTTP/1.1 client, end-of-connection for a stream to an HTTP/1.0 one); ``Connection: close`` goes out
whenever the connection will close; header names must be tokens and values must not contain control characters
(CR, LF, NUL...; HTAB is fine), so a value from configuration or a peer can never split the response.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from http import HTTPStatus
from typing import Final

__all__ = ["CONTINUE", "LAST_CHUNK", "chunk", "response_head"]

#: The interim answer to ``Expect: 100-continue``.
CONTINUE: Final = b"HTTP/1.1 100 Continue\r\n\r\n"
#: The end of a chunked body (no trailers).
LAST_CHUNK: Final = b"0\r\n\r\n"

_STATUS_LINES: Final = {
    status.value: f"HTTP/1.1 {status.value} {status.phrase}\r\n".encode("ascii") for status in HTTPStatus
}
_TOKEN: Final = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
#: Control characters other than HTAB (CR/LF would split the response; the rest make peers reject it).
_UNSAFE_VALUE: Final = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_FRAMING: Final = frozenset({"content-length", "transfer-encoding", "connection"})
#: Checked and encoded status line + headers by ``(status, headers)``: most responses repeat a few shapes.
#: Bounded (values such as session ids vary): when full it starts over.
_PREFIXES: dict[tuple[int, tuple[tuple[str, str], ...]], bytes] = {}
_MAX_PREFIXES: Final = 512


def response_head(
    status: int, headers: Sequence[tuple[str, str]], length: int | None, *, close: bool, chunked: bool = True
) -> bytes:
    """The status line and headers of a response, ending with the blank line.

    Args:
        status: the status code (100-599).
        headers: ``(name, value)`` pairs; framing headers are computed here and must not be among them.
        length: the body's length, or ``None`` for a body of unknown length (a stream).
        close: the connection closes after this response.
        chunked: a stream is chunked (HTTP/1.1 clients); ``False`` delimits it by closing (HTTP/1.0), which
            needs ``close``.

    Raises:
        ValueError: a bad status, a header name that is not a token, a value with a control character, or a framing
            header.
    """
    key = (status, tuple(headers))
    prefix = _PREFIXES.get(key)
    if prefix is None:
        prefix = _prefix(status, headers)
        if len(_PREFIXES) >= _MAX_PREFIXES:
            _PREFIXES.clear()
        _PREFIXES[key] = prefix
    if length is not None:
        tail = b"content-length: %d\r\n" % length
    elif chunked:
        tail = b"transfer-encoding: chunked\r\n"
    elif not close:
        raise ValueError("a body delimited by closing needs close=True")
    else:
        tail = b""
    return prefix + tail + (b"connection: close\r\n\r\n" if close else b"\r\n")


def _prefix(status: int, headers: Sequence[tuple[str, str]]) -> bytes:
    """The status line and the caller's headers, checked."""
    line = _STATUS_LINES.get(status)
    if line is None:
        if not 100 <= status <= 599:
            raise ValueError(f"bad HTTP status {status}")
        line = b"HTTP/1.1 %d \r\n" % status
    parts = []
    for name, value in headers:
        if _TOKEN.fullmatch(name) is None or _UNSAFE_VALUE.search(value) is not None:
            raise ValueError(f"unsafe response header {name!r}: {value!r}")
        if name.lower() in _FRAMING:
            raise ValueError(f"framing header {name!r} is computed by the connection")
        parts.append(f"{name}: {value}\r\n")
    return line + "".join(parts).encode("latin-1")


def chunk(data: bytes) -> bytes:
    """``data`` as one chunk of a chunked body (``data`` must not be empty: that is the last chunk)."""
    return b"%x\r\n%b\r\n" % (len(data), data)
