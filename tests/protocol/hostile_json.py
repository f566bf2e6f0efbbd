"""Hypothesis strategies for hostile JSON *structure*, not only random bytes.

What a peer can put on one line to hurt a parser: nesting thousands of levels deep (arrays, objects, mixed,
closed or not) anywhere in a message, numbers no float or machine integer holds, the tokens JSON lacks (``NaN``,
``Infinity``), lone and mismatched surrogate escapes, invalid UTF-8 inside strings, BOMs, raw control characters,
duplicate keys, huge strings, truncated documents, and valid envelopes carrying any of these in one member.

Every strategy builds bytes by joining a few drawn pieces, so a 10,000-level document costs one draw, not 10,000.
Depths are drawn both small (where the decoders succeed) and around and far past the interpreter's recursion
limit (1000 by default, about 2000 under hypothesis, 3000 under some pytest setups): ``BEYOND_ANY_LIMIT`` is
deep enough to fail everywhere.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec
from hypothesis import strategies as st

__all__ = [
    "BEYOND_ANY_LIMIT",
    "SLOTS",
    "deep",
    "depths",
    "envelopes",
    "hostile_batches",
    "hostile_messages",
    "hostile_scalars",
    "hostile_values",
    "json_alphabet_bytes",
    "nest",
    "RESPONSE_IDS",
]

#: Deeper than any recursion limit a test process runs with: decoding this always fails, wherever it sits.
BEYOND_ANY_LIMIT: Final = 10_000

#: The ids the sessions built by the tests have requests pending under, so responses reach the result decoders.
RESPONSE_IDS: Final = (1, 2, 3, 4, 5)

# One nesting level: its opening and closing bytes. Some open two containers per level, which mixes kinds.
_LEVELS: Final = (
    (b"[", b"]"),
    (b'{"a":', b"}"),
    (b"[1,", b"]"),
    (b'{"k":null,"a":', b"}"),
    (b'[{"a":', b"}]"),
    (b'{"":', b"}"),
    (b' [ "x" , ', b" ] "),
    (b'{"arguments":', b"}"),
)


def nest(levels: list[tuple[bytes, bytes]], depth: int, leaf: bytes, *, closing: str = "closed") -> bytes:
    """``leaf`` inside ``depth`` repetitions of ``levels``, closed properly, not at all, halfway or wrongly."""
    repeat = max(1, depth // len(levels))
    opening = b"".join(o for o, _ in levels) * repeat
    closer = b"".join(c for _, c in reversed(levels)) * repeat
    if closing == "open":
        closer = b""
    elif closing == "half":
        closer = closer[: len(closer) // 2]
    elif closing == "swapped":
        closer = closer.translate(bytes.maketrans(b"]}", b"}]"))
    elif closing == "extra":
        closer += b"]}"
    return opening + leaf + closer


def depths() -> st.SearchStrategy[int]:
    """Shallow, around the recursion limits in effect (1000, about 2000, 3000), and far beyond them."""
    return st.one_of(
        st.integers(1, 64),
        st.sampled_from([100, 500, 900, 990, 1000, 1010, 1100, 1990, 2000, 2100, 2990, 3000, 3100, 5000]),
        st.just(BEYOND_ANY_LIMIT),
    )


@st.composite
def deep(draw: st.DrawFn, depth: st.SearchStrategy[int] | None = None, *, closed: bool = False) -> bytes:
    """One deeply nested value: arrays, objects or a mix, around a hostile or plain leaf."""
    levels = draw(st.lists(st.sampled_from(_LEVELS), min_size=1, max_size=3))
    leaf = draw(st.sampled_from([b"1", b"null", b'"x"', b"[]", b"{}", b"1e999", b'"\\ud800"', b""]))
    closing = "closed" if closed else draw(st.sampled_from(["closed", "closed", "open", "half", "swapped", "extra"]))
    return nest(levels, draw(depth if depth is not None else depths()), leaf, closing=closing)


_NUMBERS: Final = st.one_of(
    st.builds(
        lambda sign, digits, n: sign + digits * n,
        st.sampled_from([b"", b"-"]),
        st.sampled_from([b"9", b"1", b"12345678901234567890"]),
        st.sampled_from([1, 19, 20, 300, 4300, 4301, 5000, 10_000]),
    ),
    st.sampled_from(
        [
            b"1e999",
            b"-1e999",
            b"1e-999",
            b"1E+99999999999999999999",
            b"0e0",
            b"-0",
            b"1." + b"5" * 5000,
            b"0." + b"0" * 5000 + b"1",
            b"9" * 400 + b".5",
            b"18446744073709551616",
            b"-9223372036854775809",
            b"0123",
            b"-",
            b"--1",
            b"+1",
            b".5",
            b"1.",
            b"1.e5",
            b"1e",
            b"0x10",
        ]
    ),
)
_TOKENS: Final = st.sampled_from(
    [b"NaN", b"-NaN", b"Infinity", b"-Infinity", b"nan", b"inf", b"True", b"None", b"undefined", b"tru", b"nul"]
)
_STRINGS: Final = st.one_of(
    st.sampled_from(
        [
            b'"\\ud800"',  # lone high surrogate
            b'"\\udc00"',  # lone low surrogate
            b'"\\ud800\\u0041"',  # high followed by a non-surrogate
            b'"\\udc00\\ud800"',  # the pair reversed
            b'"abc\\ud83d"',  # high at the very end
            b'"\\ud83d\\ude00"',  # a valid pair
            b'"\\ud800\\ud800"',  # two highs
            b'"\\x41"',  # not a JSON escape
            b'"\\u12"',  # short escape
            b'"\\u12G4"',  # non-hex escape
            b'"\\',  # a backslash at the end of input
            b'"a\x00b"',  # raw control characters
            b'"\x1f"',
            b'"\n"',
            b'"\x7f"',  # DEL is allowed
            b'"\x80"',  # invalid UTF-8: a lone continuation byte
            b'"\xc0\xaf"',  # overlong encoding
            b'"\xed\xa0\x80"',  # an encoded surrogate (CESU-8)
            b'"\xf4\x90\x80\x80"',  # above U+10FFFF
            b'"\xf8\x88\x80\x80\x80"',  # five-byte form
            b'"\xe2\x82"',  # truncated sequence
            b'"\xff\xfe"',
            b'"\xef\xbb\xbf"',  # a BOM inside a string is just U+FEFF
            b'"unterminated',
        ]
    ),
    st.builds(lambda n: b'"' + b"a" * n + b'"', st.sampled_from([10_000, 100_000, 1_000_000])),
    st.builds(lambda n: b'"' + b"\\u0000" * n + b'"', st.sampled_from([1000, 20_000])),
    st.builds(lambda n: b'"' + b"\\\\" * n + b'"', st.sampled_from([1000, 20_000])),
)
_PLAIN: Final = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=6),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=6,
).map(msgspec.json.encode)


def hostile_scalars() -> st.SearchStrategy[bytes]:
    return st.one_of(_NUMBERS, _TOKENS, _STRINGS)


def hostile_values() -> st.SearchStrategy[bytes]:
    """One JSON value (or what pretends to be one): nested (weighted up: the bug this file exists for), numeric,
    textual, plain, or garbage."""
    return st.one_of(
        deep(),
        deep(),
        deep(closed=True),
        hostile_scalars(),
        _PLAIN,
        st.builds(lambda key, value: b'{"' + key + b'":' + value + b',"' + key + b'":1}', st.just(b"a"), _PLAIN),
        st.binary(max_size=12),
    )


_HOLE: Final = "@@HOSTILE@@"
_V: Final = "io.modelcontextprotocol/protocolVersion"
_CAPS: Final = "io.modelcontextprotocol/clientCapabilities"
_MODERN_META: Final[dict[str, Any]] = {_V: "2026-07-28", _CAPS: {}}
_INIT_PARAMS: Final[dict[str, Any]] = {
    "protocolVersion": "2025-11-25",
    "capabilities": {},
    "clientInfo": {"name": "c", "version": "1"},
}
_INIT_RESULT: Final[dict[str, Any]] = {
    "protocolVersion": "2025-11-25",
    "capabilities": {"tools": {}},
    "serverInfo": {"name": "s", "version": "1"},
}


def _request(method: str, params: Any, id_: Any = 7) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": id_, "method": method, "params": params}


def _notification(method: str, params: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "method": method, "params": params}


def _response(result: Any, id_: Any = 1) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": id_, "result": result}


def _error(error: Any, id_: Any = 1) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": id_, "error": error}


#: Where a hostile value goes: a valid message with the hole in exactly one member.
SLOTS: Final[dict[str, Any]] = {
    "message": _HOLE,
    "jsonrpc": {"jsonrpc": _HOLE, "id": 7, "method": "ping"},
    "id": _request("tools/list", {}, _HOLE),
    "method": {"jsonrpc": "2.0", "id": 7, "method": _HOLE},
    "params": _request("tools/call", _HOLE),
    "initialize.params": _request("initialize", _HOLE),
    "initialize.capabilities": _request("initialize", {**_INIT_PARAMS, "capabilities": _HOLE}),
    "initialize.version": _request("initialize", {**_INIT_PARAMS, "protocolVersion": _HOLE}),
    "arguments": _request("tools/call", {"name": "echo", "arguments": _HOLE}),
    "argument": _request("tools/call", {"name": "echo", "arguments": {"text": _HOLE}}),
    "name": _request("tools/call", {"name": _HOLE, "arguments": {}}),
    "meta": _request("tools/call", {"name": "echo", "_meta": _HOLE}),
    "meta.member": _request("tools/call", {"name": "echo", "_meta": {"progressToken": 1, "x": _HOLE}}),
    "modern.meta.member": _request("tools/list", {"_meta": {**_MODERN_META, "x": _HOLE}}),
    "modern.version": _request("tools/list", {"_meta": {**_MODERN_META, _V: _HOLE}}),
    "modern.caps": _request("tools/list", {"_meta": {**_MODERN_META, _CAPS: _HOLE}}),
    "modern.level": _request("tools/list", {"_meta": {**_MODERN_META, "io.modelcontextprotocol/logLevel": _HOLE}}),
    "modern.info": _request("tools/list", {"_meta": {**_MODERN_META, "io.modelcontextprotocol/clientInfo": _HOLE}}),
    "modern.state": _request(
        "tools/call", {"name": "echo", "requestState": _HOLE, "inputResponses": {"k": _HOLE}, "_meta": _MODERN_META}
    ),
    "set_level": _request("logging/setLevel", {"level": _HOLE}),
    "server.request": _request("sampling/createMessage", {"messages": _HOLE, "maxTokens": 1}),
    "elicit": _request("elicitation/create", {"message": "?", "requestedSchema": _HOLE}),
    "progress": _notification("notifications/progress", {"progressToken": 1, "progress": _HOLE}),
    "cancelled": _notification("notifications/cancelled", {"requestId": _HOLE, "reason": _HOLE}),
    "notification.params": _notification("notifications/initialized", _HOLE),
    "result": _response(_HOLE),
    "result.content": _response({"content": _HOLE}),
    "result.initialize": _response({**_INIT_RESULT, "capabilities": _HOLE}),
    "result.initialize.version": _response({**_INIT_RESULT, "protocolVersion": _HOLE}),
    "result.input_required": _response({"resultType": "input_required", "inputRequests": _HOLE}),
    "result.task": _response({"resultType": "task", "task": _HOLE}),
    "result.type": _response({"resultType": _HOLE}),
    "result.discover": _response(
        {
            "supportedVersions": ["2026-07-28"],
            "capabilities": {},
            "_meta": {"io.modelcontextprotocol/serverInfo": _HOLE},
        }
    ),
    "result.meta": _response({"content": [], "_meta": _HOLE}),
    "error": _error(_HOLE),
    "error.data": _error({"code": -32000, "message": "m", "data": _HOLE}),
    "error.code": _error({"code": _HOLE, "message": "m"}),
    "error.message": _error({"code": -32000, "message": _HOLE}),
}
_SLOT_TEMPLATES: Final = {name: msgspec.json.encode(template) for name, template in SLOTS.items()}
_ENCODED_HOLE: Final = msgspec.json.encode(_HOLE)


@st.composite
def envelopes(draw: st.DrawFn, value: st.SearchStrategy[bytes] | None = None) -> bytes:
    """A valid message with one member (or the whole message) replaced by a hostile value."""
    slot = draw(st.sampled_from(sorted(_SLOT_TEMPLATES)))
    template = _SLOT_TEMPLATES[slot]
    if slot.startswith(("result", "error")):
        template = template.replace(b'"id":1', b'"id":%d' % draw(st.sampled_from(RESPONSE_IDS)), 1)
    return template.replace(_ENCODED_HOLE, draw(value if value is not None else hostile_values()))


@st.composite
def _mutated(draw: st.DrawFn, document: st.SearchStrategy[bytes]) -> bytes:
    """What happens to a whole line on the way: BOMs, truncation, padding, a duplicated key, a flipped byte."""
    data = draw(document)
    mutation = draw(
        st.sampled_from(["none", "none", "none", "bom", "truncate", "pad", "trailing", "duplicate", "flip", "control"])
    )
    if mutation == "bom":
        return b"\xef\xbb\xbf" + data
    if mutation == "truncate" and data:
        return data[: draw(st.integers(0, len(data) - 1))]
    if mutation == "pad":
        pad = draw(st.sampled_from([b" \t\r\n", b"\x0b", b"\x0c", b"\xc2\xa0", b"\x00", b"\n\n"]))
        return pad + data + pad
    if mutation == "trailing":
        return data + draw(st.sampled_from([b"x", b"{}", b" 1", b"\x00", b"]", b"}", b"," + data]))
    if mutation == "duplicate" and data.startswith(b"{"):
        key = draw(st.sampled_from([b"id", b"jsonrpc", b"method", b"params", b"result", b"error"]))
        return b'{"' + key + b'":' + draw(hostile_values()) + b"," + data[1:]
    if mutation == "flip" and data:
        index = draw(st.integers(0, len(data) - 1))
        return data[:index] + bytes([draw(st.integers(0, 255))]) + data[index + 1 :]
    if mutation == "control" and data:
        index = draw(st.integers(0, len(data)))
        return data[:index] + bytes([draw(st.integers(0, 31))]) + data[index:]
    return data


def hostile_messages() -> st.SearchStrategy[bytes]:
    """One line as a hostile peer might send it: a hostile value in a valid envelope, or as the whole line."""
    return st.one_of(
        envelopes(),
        envelopes(),
        _mutated(envelopes()),
        _mutated(hostile_values()),
        st.sampled_from([b"", b" ", b"\n", b"\t\r\n ", b"null", b"true", b"false", b"0", b'""', b"{}", b"[]"]),
    )


@st.composite
def hostile_batches(draw: st.DrawFn) -> bytes:
    """A batch array of hostile members, possibly nested (a batch of batches must not recurse)."""
    members = draw(st.lists(st.one_of(envelopes(), hostile_values()), min_size=0, max_size=4))
    batch = b"[" + b",".join(members) + b"]"
    return b"[" * draw(st.sampled_from([0, 0, 1, 2, 3000])) + batch + b"]" * draw(st.integers(0, 3))


def json_alphabet_bytes() -> st.SearchStrategy[bytes]:
    """Random bytes weighted to JSON's structural characters, so the decoder gets past the first byte."""
    structural = [b"[", b"]", b"{", b"}", b":", b",", b'"', b"\\", b"u", b"d800", b"1", b"-", b"e", b".", b" "]
    words = [b"\x80", b'"id"', b'"jsonrpc"', b'"2.0"', b'"method"', b'"params"', b"null", b"true"]
    pieces = st.sampled_from([*structural, *words])
    return st.lists(pieces, max_size=60).map(b"".join)
