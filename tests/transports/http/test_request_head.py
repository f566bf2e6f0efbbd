"""The plain-request fast path against h11, the engine of record: whatever it accepts, h11 reads the same way."""

from __future__ import annotations

import h11
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from mcp_trio.transports.http.request_head import PlainHead, parse_plain_head


@pytest.fixture(autouse=True)
def close_raw_clients() -> None:
    """No sockets here: a plain stand-in for the directory's async autouse fixture, so these tests stay sync."""


MAX = 16 * 1024
BODY_CAP = 2048  # bodies longer than this are fed in part (an 18-digit Content-Length is still plain)
TRAILER = b"GET /next HTTP/1.1\r\n"  # what follows the body: h11 must leave it alone
TCHAR = "!#$%&'*+.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-"
VCHAR = "".join(map(chr, range(0x21, 0x7F)))

#: Methods of plain requests (CONNECT is not one: h11 reads it as a protocol switch proposal).
methods = st.sampled_from(["POST", "GET", "DELETE", "HEAD", "PUT", "OPTIONS", "PATCH"]) | st.from_regex(
    r"[A-Z]{1,32}", fullmatch=True
).filter(lambda method: method != "CONNECT")
targets = st.text(VCHAR, max_size=30).map(lambda rest: "/" + rest)
ows = st.text(" \t", max_size=2)
values = st.builds(
    lambda first, inner, last: first + inner + last,
    st.text(VCHAR, min_size=1, max_size=1),
    st.text(VCHAR + " \t", max_size=20),
    st.text(VCHAR, max_size=1),
)
#: Names whose presence is decided by the head's shape, not drawn as ordinary fields.
RESERVED = frozenset(
    {"host", "content-length", "connection", "transfer-encoding", "expect", "upgrade", "te", "trailer"}
)
names = st.sampled_from(["Accept", "Content-Type", "Mcp-Method", "X-A", "Origin"]) | st.text(
    TCHAR, min_size=1, max_size=12
)


@st.composite
def random_case(draw: st.DrawFn, text: str) -> str:
    flips = draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    return "".join(c.swapcase() if flip else c for c, flip in zip(text, flips, strict=True))


@st.composite
def clean_heads(draw: st.DrawFn, methods: st.SearchStrategy[str] = methods) -> bytes:
    """A head in the plain shape: one Host, at most one Content-Length, Connection close/keep-alive at most."""
    fields = [(draw(names), draw(values)) for _ in range(draw(st.integers(0, 6)))]
    fields = [(n, v) for n, v in fields if n.lower() not in RESERVED]
    if fields and draw(st.booleans()):  # a repeat of some field, to be merged with ", "
        fields.append((draw(random_case(fields[0][0])), draw(values)))
    fields.append((draw(random_case("Host")), draw(values)))
    if draw(st.booleans()):
        digits = str(draw(st.integers(0, 300) | st.integers(0, 10**18 - 1)))
        digits = digits.zfill(min(18, len(digits) + draw(st.integers(0, 2))))  # leading zeros, 18 digits at most
        fields.append((draw(random_case("Content-Length")), digits))
    if draw(st.booleans()):
        token = draw(random_case(draw(st.sampled_from(["close", "keep-alive"]))))
        fields.append((draw(random_case("Connection")), token))
    lines = [f"{name}:{draw(ows)}{value}{draw(ows)}\r\n" for name, value in draw(st.permutations(fields))]
    return f"{draw(methods)} {draw(targets)} HTTP/1.1\r\n{''.join(lines)}\r\n".encode("ascii")


MUTATIONS = [
    lambda h: h.replace(b"\r\n", b"\n", 1),  # bare LF
    lambda h: h.replace(b"\r\n", b"\n"),
    lambda h: h.replace(b"\r\n\r\n", b"\r\n continued\r\n\r\n"),  # obs-fold
    lambda h: h.replace(b"\r\n", b"\r\nX-Empty:\r\n", 1),
    lambda h: h.replace(b"\r\n", b"\r\nX-Empty: \t \r\n", 1),
    lambda h: h.replace(b"\r\n", b"\r\nX-Utf8: caf\xc3\xa9\r\n", 1),
    lambda h: h.replace(b"\r\n", b"\r\nX-Obs: \xff\r\n", 1),
    lambda h: h.replace(b"\r\n", b"\r\nX-Ctl: a\x7fb\r\n", 1),
    lambda h: h.replace(b"\r\n", b"\r\nX-Nul: a\x00b\r\n", 1),
    lambda h: h.replace(b"\r\n", b"\r\nX-Space : v\r\n", 1),
    lambda h: h.replace(b"\r\n", b"\r\nNo colon here\r\n", 1),
    lambda h: h.replace(b" /", b" http://example.com/", 1),  # absolute-form
    lambda h: h.replace(b" /", b" \t/", 1),
    lambda h: h.replace(b" /", b"  /", 1),
    lambda h: h.replace(b"HTTP/1.1", b"HTTP/1.0", 1),
    lambda h: h.replace(b"HTTP/1.1", b"HTTP/2.0", 1),
    lambda h: h.replace(b"HTTP/1.1", b"http/1.1", 1),
    lambda h: h[:1].lower() + h[1:],
    lambda h: b"\r\n" + h,
    lambda h: h.replace(b"\r\n", b"\r\nTransfer-Encoding: chunked\r\n", 1),
    lambda h: h.replace(b"\r\n", b"\r\nTransfer-Encoding: gzip\r\n", 1),
    lambda h: h.replace(b"\r\n", b"\r\nExpect: 100-continue\r\n", 1),
    lambda h: h.replace(b"\r\n", b"\r\nUpgrade: websocket\r\nConnection: upgrade\r\n", 1),
    lambda h: h.replace(b"\r\n", b"\r\nTE: trailers\r\n", 1),
    lambda h: h.replace(b"\r\n", b"\r\nHOST: other\r\n", 1),
    lambda h: b"\r\n".join(line for line in h.split(b"\r\n") if not line.lower().startswith(b"host:")),
    lambda h: h.replace(b"\r\n", b"\r\nContent-Length: 3\r\nContent-Length: 3\r\n", 1),
    lambda h: h.replace(b"\r\n", b"\r\nContent-Length: 3\r\ncontent-length: 4\r\n", 1),
    lambda h: h.replace(b"\r\n", b"\r\nContent-Length: 3, 3\r\n", 1),
    lambda h: h.replace(b"\r\n", b"\r\nContent-Length: 1" + b"0" * 18 + b"\r\n", 1),  # 19 digits
    lambda h: h.replace(b"\r\n", b"\r\nContent-Length: 99999999999999999999999\r\n", 1),
    lambda h: h.replace(b"\r\n", b"\r\nContent-Length: +5\r\n", 1),
    lambda h: h.replace(b"\r\n", b"\r\nContent-Length: 0x10\r\n", 1),
    lambda h: h.replace(b"\r\n", b"\r\nConnection: keep-alive, close\r\n", 1),
    lambda h: h.replace(b"\r\n", b"\r\nConnection: close\r\nConnection: close\r\n", 1),
    lambda h: h.replace(b"\r\n", b"\r\nConnection: Upgrade\r\n", 1),
    lambda h: h.replace(b"\r\n\r\n", b"\r\n\n"),  # h11 ends the head at LF CRLF
]


@st.composite
def any_heads(draw: st.DrawFn) -> bytes:
    """Plain heads, and heads spoiled by one to three mutations or raw byte edits."""
    head = draw(clean_heads(methods | st.just("CONNECT")))
    for _ in range(draw(st.integers(0, 3))):
        if draw(st.booleans()):
            head = draw(st.sampled_from(MUTATIONS))(head)
        elif head:
            at = draw(st.integers(0, len(head) - 1))
            head = head[:at] + draw(st.binary(min_size=0, max_size=2)) + head[at + 1 :]
    return head


def _h11_reading(data: bytes) -> tuple[h11.Connection, h11.Request, bytes, object]:
    """What h11 makes of ``data``: the request, body bytes up to the first non-Data event, and that event."""
    server = h11.Connection(h11.SERVER)
    server.receive_data(data)
    request = server.next_event()
    assert isinstance(request, h11.Request), request
    body = b""
    while isinstance(event := server.next_event(), h11.Data):
        body += event.data
    return server, request, body, event


def _merged(headers: h11.Headers) -> dict[str, str]:
    merged: dict[str, str] = {}
    for name, value in headers:
        key, text = name.decode("ascii").lower(), value.decode("ascii")
        merged[key] = f"{merged[key]}, {text}" if key in merged else text
    return merged


def _assert_h11_agrees(raw: bytes, plain: PlainHead) -> None:
    assert plain.size == raw.index(b"\r\n\r\n") + 4
    partial = plain.content_length > BODY_CAP
    fed = BODY_CAP if partial else plain.content_length
    data = raw + b"B" * max(0, fed - (len(raw) - plain.size)) + (b"" if partial else TRAILER)
    server, request, body, after = _h11_reading(data)
    assert (request.method.decode(), request.target.decode()) == (plain.method, plain.target)
    assert request.http_version == b"1.1"
    assert _merged(request.headers) == plain.fields
    assert body == data[plain.size : plain.size + fed]
    if partial:
        assert (after, server.their_state) == (h11.NEED_DATA, h11.SEND_BODY)
        return
    assert isinstance(after, h11.EndOfMessage)
    # The keep-alive decision: h11 is ready for the next request (DONE) or must close, nothing else.
    assert server.their_state is (h11.MUST_CLOSE if plain.close else h11.DONE)
    assert server.trailing_data[0] == data[plain.size + plain.content_length :]


CONNECT = b"CONNECT /mcp HTTP/1.1\r\nHost: a\r\n\r\n"


@given(any_heads())
@example(b"POST /mcp HTTP/1.1\r\nhost: a\r\nAccept: x\r\naccept:  y \r\nContent-Length: 007\r\n\r\n")
@example(CONNECT)  # h11 reads CONNECT as a protocol switch proposal: not DONE after the request
@example(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, close\r\n\r\n")
@example(b"GET / HTTP/1.1\r\nX: y\r\n\r\n")
@example(b"HEAD /mcp HTTP/1.1\r\nHost: a\r\nConnection: CLOSE\r\ncontent-length: 999999999999999999\r\n\r\n")
def test_an_accepted_head_is_read_the_same_way_by_h11(raw: bytes) -> None:
    plain = parse_plain_head(raw, MAX)
    if plain is not None:
        _assert_h11_agrees(raw, plain)


@given(clean_heads())
def test_plain_heads_are_accepted_and_agree_with_h11(raw: bytes) -> None:
    plain = parse_plain_head(raw, MAX)
    assert plain is not None
    _assert_h11_agrees(raw, plain)


@given(clean_heads(), st.binary(max_size=40))
def test_incomplete_or_oversized_heads_are_declined(raw: bytes, after: bytes) -> None:
    for cut in range(len(raw)):
        assert parse_plain_head(raw[:cut], MAX) is None
    assert parse_plain_head(raw + after, len(raw) - 1) is None
    accepted = parse_plain_head(raw + after, len(raw))
    assert accepted is not None
    assert accepted.size == len(raw)


def test_a_typical_request_head_is_parsed() -> None:
    raw = (
        b"POST /mcp?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nContent-Type: application/json\r\n"
        b"Accept: application/json\r\nACCEPT:\t text/event-stream \t\r\nContent-Length: 2\r\n"
        b"Connection: Close\r\n\r\n{}GET"
    )
    plain = parse_plain_head(raw, MAX)
    assert plain is not None
    assert (plain.method, plain.target, plain.content_length, plain.close, plain.size) == (
        "POST",
        "/mcp?x=1",
        2,
        True,
        len(raw) - 5,
    )
    assert plain.fields == {
        "host": "127.0.0.1:8000",
        "content-type": "application/json",
        "accept": "application/json, text/event-stream",
        "content-length": "2",
        "connection": "Close",
    }
    keep = parse_plain_head(b"GET / HTTP/1.1\r\nhost: a\r\nconnection: keep-alive\r\n\r\n", MAX)
    assert keep is not None
    assert (keep.close, keep.content_length) == (False, 0)


GET = b"GET /mcp HTTP/1.1\r\n"


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"GET /mcp HTTP/1.1\nHost: a\n\n", id="bare-lf"),
        pytest.param(GET + b"Host: a\nX: b\r\n\r\n", id="one-bare-lf"),
        pytest.param(GET + b"Host: a\r\n\n", id="lf-crlf-end"),
        pytest.param(GET + b"Host: a\r\nX: b\r\n c\r\n\r\n", id="obs-fold"),
        pytest.param(GET + b"Host: a\r\nX-Empty:\r\n\r\n", id="empty-value"),
        pytest.param(GET + b"Host: a\r\nX-Empty:  \r\n\r\n", id="blank-value"),
        pytest.param(GET + b"Host: caf\xc3\xa9\r\n\r\n", id="non-ascii"),
        pytest.param(GET + b"Host: a\r\nX: a\x00b\r\n\r\n", id="nul"),
        pytest.param(GET + b"Host: a\r\nX: a\x01b\r\n\r\n", id="control"),
        pytest.param(GET + b"Host: a\r\nX : b\r\n\r\n", id="space-before-colon"),
        pytest.param(GET + b"Host: a\r\n\tX: b\r\n\r\n", id="leading-tab"),
        pytest.param(GET + b"Host: a\r\nno colon\r\n\r\n", id="no-colon"),
        pytest.param(b"GET http://a/mcp HTTP/1.1\r\nHost: a\r\n\r\n", id="absolute-form"),
        pytest.param(b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", id="asterisk-form"),
        pytest.param(b"GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n", id="tab-in-target"),
        pytest.param(b"GET  /mcp HTTP/1.1\r\nHost: a\r\n\r\n", id="two-spaces"),
        pytest.param(b"get /mcp HTTP/1.1\r\nHost: a\r\n\r\n", id="lower-case-method"),
        pytest.param(b"GET /mcp HTTP/1.0\r\nHost: a\r\n\r\n", id="http-1.0"),
        pytest.param(b"GET /mcp HTTP/1.0\r\n\r\n", id="http-1.0-no-host"),
        pytest.param(b"\r\n" + GET + b"Host: a\r\n\r\n", id="leading-crlf"),
        pytest.param(GET + b"\r\n", id="missing-host"),
        pytest.param(GET + b"X: y\r\n\r\n", id="missing-host-with-fields"),
        pytest.param(GET + b"Host: a\r\nhost: b\r\n\r\n", id="two-hosts"),
        pytest.param(GET + b"Host: a\r\nTransfer-Encoding: chunked\r\n\r\n", id="chunked"),
        pytest.param(GET + b"Host: a\r\ntransfer-encoding: identity\r\n\r\n", id="te-identity"),
        pytest.param(GET + b"Host: a\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n", id="expect"),
        pytest.param(GET + b"Host: a\r\nUpgrade: h2c\r\nConnection: upgrade\r\n\r\n", id="upgrade"),
        pytest.param(GET + b"Host: a\r\nTE: trailers\r\n\r\n", id="te"),
        pytest.param(GET + b"Host: a\r\nTrailer: x\r\n\r\n", id="trailer"),
        pytest.param(GET + b"Host: a\r\nContent-Length: 2\r\ncontent-length: 2\r\n\r\n", id="two-lengths"),
        pytest.param(GET + b"Host: a\r\nContent-Length: 2, 2\r\n\r\n", id="length-list"),
        pytest.param(GET + b"Host: a\r\nContent-Length: -1\r\n\r\n", id="negative-length"),
        pytest.param(GET + b"Host: a\r\nContent-Length: 0x10\r\n\r\n", id="hex-length"),
        pytest.param(GET + b"Host: a\r\nContent-Length: 1" + b"0" * 18 + b"\r\n\r\n", id="huge-length"),
        pytest.param(GET + b"Host: a\r\nConnection: keep-alive, close\r\n\r\n", id="connection-list"),
        pytest.param(GET + b"Host: a\r\nConnection: close\r\nConnection: close\r\n\r\n", id="two-connections"),
        pytest.param(GET + b"Host: a\r\n", id="incomplete"),
        pytest.param(b"", id="empty"),
        pytest.param(CONNECT, id="connect-is-a-protocol-switch-in-h11"),
    ],
)
def test_non_plain_heads_are_declined(raw: bytes) -> None:
    assert parse_plain_head(raw, MAX) is None
