"""Request headers: lookup, content negotiation, and the 2026-07-28 routing headers (SEP-2243).

Theory of operation: modern requests repeat what routes them (method, tool/prompt name, resource URI, task id
and annotated tool arguments) in headers so proxies can route without reading bodies. The server must check
that every such header agrees with the body, and answer any disagreement with 400 + -32020. Values may be
sent as ``=?base64?...?=`` when they are not plain ASCII; those are decoded strictly (bad padding or bad
characters are a mismatch, never a guess). Names are case-insensitive, values are trimmed and case-sensitive,
and numbers compare numerically.
"""

from __future__ import annotations

import base64
import binascii
import functools
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

from mcp_trio.protocol.errors import HeaderMismatch

__all__ = [
    "Headers",
    "encode_header_value",
    "header_arguments",
    "routing_headers",
    "media_type",
    "accepts",
    "decode_header_value",
    "validate_routing_headers",
    "MCP_PROTOCOL_VERSION",
    "MCP_SESSION_ID",
    "MCP_METHOD",
    "MCP_NAME",
    "LAST_EVENT_ID",
]

MCP_PROTOCOL_VERSION: Final = "mcp-protocol-version"
MCP_SESSION_ID: Final = "mcp-session-id"
MCP_METHOD: Final = "mcp-method"
MCP_NAME: Final = "mcp-name"
MCP_PARAM_PREFIX: Final = "mcp-param-"
LAST_EVENT_ID: Final = "last-event-id"
HEADER_ANNOTATION: Final = "x-mcp-header"

#: Which body field ``Mcp-Name`` mirrors, by method.
_NAME_FIELD: Final = {
    "tools/call": "name",
    "prompts/get": "name",
    "resources/read": "uri",
    "tasks/get": "taskId",
    "tasks/update": "taskId",
    "tasks/cancel": "taskId",
}
_B64_PREFIX: Final = "=?base64?"
_B64_SUFFIX: Final = "?="
_NUMBER: Final = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_NUMBERS: Final = (int, float)  # a tuple: ``int | float`` would build a union object on every call


class Headers:
    """Request headers by lower-case name; repeated headers are joined with ``", "`` (RFC 9110 5.3)."""

    __slots__ = ("_map",)

    def __init__(self, raw: Iterable[tuple[bytes, bytes]]) -> None:
        merged: dict[str, str] = {}
        for name, value in raw:
            key = name.decode("latin-1").lower()
            text = value.decode("latin-1").strip()
            merged[key] = f"{merged[key]}, {text}" if key in merged else text
        self._map = merged

    @classmethod
    def from_fields(cls, fields: dict[str, str]) -> Headers:
        """Headers already merged by lower-case name and trimmed (the plain-request parser's output), as they are."""
        headers = cls.__new__(cls)
        headers._map = fields
        return headers

    def get(self, name: str) -> str | None:
        """The value of ``name`` (lower-case), trimmed (at construction: it is read many times), or ``None``."""
        return self._map.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._map

    def items(self) -> Iterable[tuple[str, str]]:
        return self._map.items()


def media_type(value: str | None) -> str | None:
    """``"Application/JSON; charset=utf-8"`` -> ``"application/json"``."""
    if value is None:
        return None
    return value.partition(";")[0].strip().lower()


def accepts(accept: str | None, wanted: str) -> bool:
    """Whether an ``Accept`` header admits ``wanted`` (``type/subtype``); no header admits everything."""
    if accept is None:
        return True
    if len(accept) <= _CACHED_ACCEPT_LENGTH:  # clients repeat the same few values; only short ones are kept
        return _accepts_cached(accept, wanted)
    return _accepts(accept, wanted)


def _accepts(accept: str, wanted: str) -> bool:
    if not accept.strip():
        return True
    major = wanted.partition("/")[0]
    for item in accept.split(","):
        kind, _, params = item.partition(";")
        kind = kind.strip().lower()
        if kind not in (wanted, f"{major}/*", "*/*"):
            continue
        if _quality(params) > 0:
            return True
    return False


#: ``Accept`` values up to this length have their answers cached (in at most ``_ACCEPT_CACHE_SIZE`` entries).
_CACHED_ACCEPT_LENGTH: Final = 256
_ACCEPT_CACHE_SIZE: Final = 256
_accepts_cached: Final = functools.lru_cache(maxsize=_ACCEPT_CACHE_SIZE)(_accepts)


def _quality(params: str) -> float:
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "q":
            try:
                return float(value.strip())
            except ValueError:
                return 0.0
    return 1.0


def decode_header_value(value: str) -> str:
    """A routing header's value: trimmed, and base64-decoded if wrapped in ``=?base64?...?=``.

    Raises:
        HeaderMismatch: the wrapped value is not strict base64 of UTF-8 text.
    """
    value = value.strip()
    if (
        len(value) >= len(_B64_PREFIX) + len(_B64_SUFFIX)
        and value.startswith(_B64_PREFIX)
        and value.endswith(_B64_SUFFIX)
    ):
        inner = value[len(_B64_PREFIX) : -len(_B64_SUFFIX)]
        try:
            return base64.b64decode(inner.encode("ascii"), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeError, ValueError):
            raise HeaderMismatch("header value is not valid =?base64?...?= encoding") from None
    return value


#: A number header longer than this cannot state a JSON number we decoded (and ``int`` of thousands of digits
#: raises ValueError past Python's digit limit).
_MAX_NUMBER_DIGITS: Final = 400


def _same(header: str, body: Any) -> bool:
    """Whether a decoded header value states the body value (numbers numerically, booleans as JSON)."""
    if isinstance(body, bool):
        return header == ("true" if body else "false")
    if isinstance(body, _NUMBERS):
        if not _NUMBER.fullmatch(header) or len(header) > _MAX_NUMBER_DIGITS:
            return False
        number = float(header) if any(c in header for c in ".eE") else int(header)
        return bool(number == body) and not (isinstance(body, float) and math.isnan(body))
    if isinstance(body, str):
        return header == body
    return False


def _expect(headers: Headers, name: str, body: Any, label: str) -> None:
    raw = headers.get(name)
    if raw is None:
        raise HeaderMismatch(f"missing {label} header")
    if not _same(decode_header_value(raw), body):
        raise HeaderMismatch(f"{label} header does not match the request body")


def validate_routing_headers(
    headers: Headers,
    method: str,
    params: Mapping[str, Any] | None,
    tool_schema: Mapping[str, Any] | None = None,
) -> None:
    """Check ``Mcp-Method``, ``Mcp-Name`` and ``Mcp-Param-*`` against a modern request's body.

    Args:
        headers: the request's headers.
        method: the body's ``method``.
        params: the body's ``params`` as plain JSON (``None`` when absent or not an object).
        tool_schema: for ``tools/call`` of a known tool, its ``inputSchema``.

    Raises:
        HeaderMismatch: a header is missing, undecodable, or disagrees with the body (-32020, HTTP 400).
    """
    _expect(headers, MCP_METHOD, method, "Mcp-Method")
    field = _NAME_FIELD.get(method)
    if field is not None:
        value = params.get(field) if params is not None else None
        _expect(headers, MCP_NAME, value, "Mcp-Name")
    if tool_schema is None:
        return
    properties = tool_schema.get("properties")
    if not isinstance(properties, Mapping):
        return
    arguments = params.get("arguments") if params is not None else None
    if not isinstance(arguments, Mapping):
        arguments = {}
    for prop, schema in properties.items():
        if not isinstance(schema, Mapping):
            continue
        suffix = schema.get(HEADER_ANNOTATION)
        if not isinstance(suffix, str) or not suffix:
            continue
        name = MCP_PARAM_PREFIX + suffix.lower()
        if prop in arguments and arguments[prop] is not None:
            _expect(headers, name, arguments[prop], f"Mcp-Param-{suffix}")
        elif headers.get(name) is not None:
            raise HeaderMismatch(f"Mcp-Param-{suffix} header names an argument the body does not carry")


def encode_header_value(value: str) -> str:
    """A routing header's value as a client sends it: as is when it is visible ASCII without surrounding spaces,
    else wrapped as ``=?base64?...?=`` (the inverse of ``decode_header_value``)."""
    if value.isascii() and value.isprintable() and value == value.strip() and not value.startswith(_B64_PREFIX):
        return value
    return _B64_PREFIX + base64.b64encode(value.encode("utf-8")).decode("ascii") + _B64_SUFFIX


_HEADER_TOKEN: Final = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
#: Argument types a header may mirror: floating-point numbers are left out (SEP-2243: their text is not exact).
_HEADER_TYPES: Final = frozenset({"string", "integer", "boolean"})


def header_arguments(input_schema: Mapping[str, Any]) -> dict[str, str]:
    """A tool's arguments that travel as ``Mcp-Param-*`` headers too: argument name -> header suffix.

    Raises:
        ValueError: an ``x-mcp-header`` a client must refuse (SEP-2243): not a non-empty string of header-token
            characters, repeated (case-insensitively), or on an argument whose type is not a primitive.
    """
    properties = input_schema.get("properties")
    found: dict[str, str] = {}
    if not isinstance(properties, Mapping):
        return found
    seen: set[str] = set()
    for argument, schema in properties.items():
        if not isinstance(schema, Mapping) or HEADER_ANNOTATION not in schema:
            continue
        suffix = schema[HEADER_ANNOTATION]
        if not isinstance(suffix, str) or not suffix or _HEADER_TOKEN.fullmatch(suffix) is None:
            raise ValueError(f"argument {argument!r}: x-mcp-header must be a non-empty header token")
        kind = schema.get("type")
        if kind not in _HEADER_TYPES:
            raise ValueError(f"argument {argument!r}: x-mcp-header needs a string, integer or boolean type")
        if suffix.lower() in seen:
            raise ValueError(f"argument {argument!r}: x-mcp-header {suffix!r} is used twice")
        seen.add(suffix.lower())
        found[argument] = suffix
    return found


def routing_headers(
    method: str, params: Mapping[str, Any] | None, header_arguments: Mapping[str, str] | None = None
) -> list[tuple[str, str]]:
    """The ``Mcp-Method``, ``Mcp-Name`` and ``Mcp-Param-*`` headers a 2026-07-28 POST of this request needs
    (what ``validate_routing_headers`` checks).

    Args:
        header_arguments: for ``tools/call``, the tool's arguments that travel as headers too: argument name ->
            header suffix (its input schema's ``x-mcp-header``).
    """
    headers = [(MCP_METHOD, method)]
    field = _NAME_FIELD.get(method)
    if field is not None and params is not None:
        value = params.get(field)
        if isinstance(value, str):
            headers.append((MCP_NAME, encode_header_value(value)))
    if header_arguments and params is not None:
        arguments = params.get("arguments")
        if isinstance(arguments, Mapping):
            for argument, suffix in header_arguments.items():
                value = arguments.get(argument)
                if isinstance(value, bool):
                    headers.append((MCP_PARAM_PREFIX + suffix.lower(), "true" if value else "false"))
                elif isinstance(value, int | float):
                    headers.append((MCP_PARAM_PREFIX + suffix.lower(), repr(value)))
                elif isinstance(value, str):
                    headers.append((MCP_PARAM_PREFIX + suffix.lower(), encode_header_value(value)))
    return headers


def retry_after(milliseconds: int) -> tuple[str, str]:
    """The ``Retry-After`` header for a refusal's retry hint (whole seconds, rounded up, at least 1)."""
    return ("retry-after", str(max(1, -(-milliseconds // 1000))))
