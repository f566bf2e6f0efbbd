"""The plain-request fast path: a strict parser for the common shape of request head, h11 for everything else.

Theory of operation: h11 is the HTTP/1.1 engine of record, but its general parser costs ~80 us per request
head on the reference machine, more than the whole rest of a ``tools/call``. Almost every MCP request is the
same plain shape: an HTTP/1.1 request line with an origin-form target, visible-ASCII header fields, one
``Host``, at most one all-digit ``Content-Length``, no ``Transfer-Encoding``, no ``Expect``, no ``Upgrade``.
``parse_plain_head`` accepts exactly that shape, complete in the buffer, and returns ``None`` for anything else,
so the caller hands those bytes to h11 unchanged. It never rejects: every answer to a malformed request comes
from h11, and a request it accepts is one h11 parses the same way (a differential property test pins that).
Declining costs one regex match, so an unusual request pays almost nothing for the fast path's existence.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["PlainHead", "parse_plain_head"]

_HEAD_END: Final = b"\r\n\r\n"
#: ``METHOD SP /target SP HTTP/1.1 CRLF``: an upper-case method, an origin-form target of visible ASCII.
_REQUEST_LINE: Final = re.compile(r"([A-Z]{1,32}) (/[!-~]*) HTTP/1\.1\r\n")
#: Header fields: each a token name, ``:``, optional whitespace, then a value starting with a visible ASCII
#: character (spaces and tabs allowed after it; trailing ones are trimmed), CRLF. Empty values, obs-fold and
#: non-ASCII bytes are left to h11. Possessive quantifiers: the pattern never backtracks.
_FIELDS: Final = re.compile(r"(?:[!#$%&'*+.^_`|~0-9A-Za-z-]++:[ \t]*+[!-~][!-~ \t]*+\r\n)*+")
#: Headers a plain request carries at most once (h11 judges repeats: 400, or merging equal lengths).
_ONCE: Final = frozenset({"host", "content-length"})
#: Headers whose presence means the request is not plain (framing, interim responses, protocol switches).
_NOT_PLAIN: Final = frozenset({"transfer-encoding", "expect", "upgrade", "te", "trailer"})


class PlainHead:
    """A parsed plain request head.

    Attributes:
        method: upper-case request method.
        target: the origin-form request target (path and query).
        fields: header values by lower-case name, repeats joined with ``", "``.
        content_length: the declared body length (0 when absent).
        close: the client asked to close after this exchange (``Connection: close``).
        size: bytes of the head, up to and including the blank line.
    """

    __slots__ = ("close", "content_length", "fields", "method", "size", "target")

    def __init__(
        self, method: str, target: str, fields: dict[str, str], content_length: int, close: bool, size: int
    ) -> None:
        self.method = method
        self.target = target
        self.fields = fields
        self.content_length = content_length
        self.close = close
        self.size = size


def parse_plain_head(buffer: bytes, max_size: int) -> PlainHead | None:
    """The head at the start of ``buffer`` if it is complete, at most ``max_size`` bytes and plain; else ``None``."""
    end = buffer.find(_HEAD_END, 0, max_size)
    if end < 0:
        return None
    try:
        text = buffer[: end + 2].decode("ascii")
    except UnicodeDecodeError:
        return None
    line = _REQUEST_LINE.match(text)
    if line is None or line[1] == "CONNECT":  # CONNECT proposes a protocol switch: h11's call
        return None
    start = line.end()
    if _FIELDS.fullmatch(text, start) is None:
        return None
    fields: dict[str, str] = {}
    for field in text[start:end].split("\r\n"):
        raw_name, _, value = field.partition(":")
        name = raw_name.lower()
        value = value.strip(" \t")
        if name in fields:
            if name in _ONCE:
                return None
            fields[name] = f"{fields[name]}, {value}"
        else:
            fields[name] = value
    if "host" not in fields or not _NOT_PLAIN.isdisjoint(fields):
        return None
    length = fields.get("content-length")
    if length is None:
        content_length = 0
    elif length.isdigit() and len(length) <= 18:
        content_length = int(length)
    else:
        return None
    close = False
    connection = fields.get("connection")
    if connection is not None:
        token = connection.lower()
        if token == "close":
            close = True
        elif token != "keep-alive":
            return None
    return PlainHead(line[1], line[2], fields, content_length, close, end + 4)
