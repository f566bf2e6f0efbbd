"""Response serialisation checked by an h11 client: status, reason, headers, framing and keep-alive exactly."""

from __future__ import annotations

from http import HTTPStatus

import h11
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcp_trio.transports.http.response_head import CONTINUE, LAST_CHUNK, chunk, response_head


@pytest.fixture(autouse=True)
def close_raw_clients() -> None:
    """No sockets here: a plain stand-in for the directory's async autouse fixture, so these tests stay sync."""


TCHAR = "!#$%&'*+.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-"
#: RFC 9110 field-value characters: VCHAR, obs-text, and SP/HTAB between them.
FIELD_CHARS = "".join(map(chr, [*range(0x21, 0x7F), *range(0x80, 0x100)])) + " \t"
FRAMING = {"content-length", "transfer-encoding", "connection"}
KNOWN = {status.value for status in HTTPStatus}


def _client(method: str = "POST", *extra: tuple[str, str]) -> h11.Connection:
    """An h11 client that has sent one request and waits for the response."""
    client = h11.Connection(h11.CLIENT)
    client.send(h11.Request(method=method, target="/mcp", headers=[("host", "x"), ("content-length", "0"), *extra]))
    client.send(h11.EndOfMessage())
    return client


def _read(client: h11.Connection, data: bytes, *, eof: bool = False) -> tuple[h11.Response, bytes]:
    """The response h11 reads from ``data`` (and then EOF); the whole body must be there."""
    client.receive_data(data)
    if eof:
        client.receive_data(b"")
    response = client.next_event()
    assert isinstance(response, h11.Response), response
    body = b""
    while isinstance(event := client.next_event(), h11.Data):
        body += event.data
    assert isinstance(event, h11.EndOfMessage), event
    return response, body


statuses = st.integers(200, 599).filter(lambda status: status not in (204, 304))  # those never carry a body
header_lists = st.lists(
    st.tuples(
        st.text(TCHAR, min_size=1, max_size=12).filter(lambda name: name.lower() not in FRAMING),
        st.text(FIELD_CHARS, max_size=20),
    ),
    max_size=6,
)
bodies = st.lists(st.binary(min_size=1, max_size=50), max_size=5)


@given(statuses, header_lists, bodies, st.sampled_from(["length", "chunked", "until-close"]), st.booleans())
def test_h11_reads_back_exactly_what_was_written(
    status: int, headers: list[tuple[str, str]], pieces: list[bytes], framing: str, close: bool
) -> None:
    body = b"".join(pieces)
    client = _client()
    if framing == "length":
        data = response_head(status, headers, len(body), close=close) + body
        framed = [("content-length", str(len(body)))]
    elif framing == "chunked":
        data = response_head(status, headers, None, close=close) + b"".join(map(chunk, pieces)) + LAST_CHUNK
        framed = [("transfer-encoding", "chunked")]
    else:
        close = True
        data = response_head(status, headers, None, close=True, chunked=False) + body
        framed = []
    response, received = _read(client, data, eof=framing == "until-close")
    phrase = HTTPStatus(status).phrase if status in KNOWN else ""
    assert (response.status_code, response.reason, response.http_version) == (status, phrase.encode(), b"1.1")
    expected = [*headers, *framed, *([("connection", "close")] if close else [])]
    got = [(name.decode(), value.decode("latin-1")) for name, value in response.headers]
    assert got == [(name.lower(), value.strip(" \t")) for name, value in expected]
    assert received == body
    assert client.their_state is (h11.MUST_CLOSE if close else h11.DONE)


def test_the_bytes_of_a_simple_response() -> None:
    head = response_head(200, [("content-type", "application/json")], 2, close=False)
    assert head == b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n"
    head = response_head(202, [], None, close=True)
    assert head == b"HTTP/1.1 202 Accepted\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n"
    assert chunk(b"x" * 26) == b"1a\r\n" + b"x" * 26 + b"\r\n"
    assert LAST_CHUNK == b"0\r\n\r\n"


def test_one_status_and_header_set_serves_every_framing_and_is_checked_every_time() -> None:
    headers = [("content-type", "text/event-stream"), ("x-a", "1")]
    prefix = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nx-a: 1\r\n"
    for _ in range(2):
        assert response_head(200, headers, 5, close=False) == prefix + b"content-length: 5\r\n\r\n"
        assert response_head(200, headers, None, close=False) == prefix + b"transfer-encoding: chunked\r\n\r\n"
        assert response_head(200, headers, 0, close=True) == prefix + b"content-length: 0\r\nconnection: close\r\n\r\n"
        assert response_head(200, headers, None, close=True, chunked=False) == prefix + b"connection: close\r\n\r\n"
        with pytest.raises(ValueError, match="header"):
            response_head(200, [*headers[:1], ("x-a", "1\r\nx-b: 2")], 5, close=False)
    assert response_head(404, headers, 5, close=False).startswith(b"HTTP/1.1 404 Not Found\r\n")


def test_a_keep_alive_response_lets_the_client_send_the_next_request() -> None:
    client = _client()
    _read(client, response_head(200, [("x-a", "1")], 3, close=False) + b"abc")
    client.start_next_cycle()
    client.send(h11.Request(method="GET", target="/", headers=[("host", "x")]))
    assert client.our_state is h11.SEND_BODY


@pytest.mark.parametrize(
    ("status", "reason"),
    [(200, b"OK"), (404, b"Not Found"), (207, b"Multi-Status"), (418, b"I'm a Teapot"), (299, b""), (599, b"")],
)
def test_any_status_in_range_gets_its_phrase_or_an_empty_reason(status: int, reason: bytes) -> None:
    response, body = _read(_client(), response_head(status, [], 0, close=False))
    assert (response.status_code, response.reason, body) == (status, reason, b"")


def test_a_head_response_declares_a_length_without_a_body() -> None:
    client = _client("HEAD")
    response, body = _read(client, response_head(405, [("allow", "POST")], 120, close=False))
    assert (response.status_code, body, dict(response.headers)[b"content-length"]) == (405, b"", b"120")
    assert client.their_state is h11.DONE


def test_continue_is_an_interim_response() -> None:
    client = _client("POST", ("expect", "100-continue"))
    client.receive_data(CONTINUE + response_head(200, [], 0, close=False))
    interim = client.next_event()
    assert isinstance(interim, h11.InformationalResponse)
    assert (interim.status_code, interim.reason) == (100, b"Continue")
    assert isinstance(client.next_event(), h11.Response)


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param([("bad name", "v")], id="space-in-name"),
        pytest.param([("x:y", "v")], id="colon-in-name"),
        pytest.param([("", "v")], id="empty-name"),
        pytest.param([("x\r\nevil", "v")], id="crlf-in-name"),
        pytest.param([("caf\u00e9", "v")], id="non-ascii-name"),
        pytest.param([("x-a", "a\rb")], id="cr-in-value"),
        pytest.param([("x-a", "a\nb")], id="lf-in-value"),
        pytest.param([("x-a", "a\x00b")], id="nul-in-value"),
        pytest.param([("x-a", "a\x0bb")], id="vertical-tab-in-value"),
        pytest.param([("x-a", "a\x7fb")], id="del-in-value"),
        pytest.param([("x-a", "ok"), ("x-b", "1\r\nset-cookie: evil")], id="split-attempt"),
        pytest.param([("content-length", "5")], id="content-length"),
        pytest.param([("Content-Length", "5")], id="content-length-mixed-case"),
        pytest.param([("TRANSFER-ENCODING", "chunked")], id="transfer-encoding-upper"),
        pytest.param([("transfer-encoding", "chunked")], id="transfer-encoding"),
        pytest.param([("Connection", "keep-alive")], id="connection-mixed-case"),
        pytest.param([("x-a", "1"), ("connection", "close")], id="connection-after-others"),
    ],
)
def test_unsafe_or_framing_headers_are_refused(headers: list[tuple[str, str]]) -> None:
    for length in (0, None):
        with pytest.raises(ValueError, match="header"):
            response_head(200, headers, length, close=False)


@pytest.mark.parametrize("status", [0, 99, 600, 1000, -200])
def test_a_status_out_of_range_is_refused(status: int) -> None:
    with pytest.raises(ValueError, match="status"):
        response_head(status, [], 0, close=False)


def test_a_close_delimited_body_needs_close() -> None:
    with pytest.raises(ValueError, match="close"):
        response_head(200, [], None, close=False, chunked=False)
    head = response_head(200, [], None, close=True, chunked=False)
    assert b"transfer-encoding" not in head
    assert b"content-length" not in head


def test_a_known_length_wins_over_chunked() -> None:
    head = response_head(200, [], 7, close=False, chunked=False)
    assert b"content-length: 7\r\n" in head
    assert b"transfer-encoding" not in head
    assert b"connection" not in head
