"""The line framer: arbitrary chunking round-trips, limits hold, and bad input gets our errors only."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcp_trio.protocol.errors import InvalidRequest, McpError, MessageTooLarge
from mcp_trio.protocol.framing import NEED_DATA, LineFramer

messages = st.lists(
    st.binary(min_size=1, max_size=64).map(lambda b: b.replace(b"\n", b"x").strip() or b"x"), max_size=12
)


def _drain(framer: LineFramer) -> list[bytes]:
    out = []
    while (message := framer.next_message()) is not NEED_DATA:
        assert isinstance(message, bytes)
        out.append(message)
    return out


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces, last = [], 0
    for p in [*points, len(data)]:
        pieces.append(data[last:p])
        last = p
    return [p for p in pieces if p]


@given(messages, st.lists(st.integers(min_value=0, max_value=10_000), max_size=20))
def test_any_chunking_yields_the_same_messages(msgs: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(m + b"\n" for m in msgs)
    framer = LineFramer(max_message_size=1024)
    got = []
    for piece in _split(stream, cuts):
        framer.receive_data(piece)
        got.extend(_drain(framer))
    framer.receive_data(b"")
    got.extend(_drain(framer))
    assert got == [m.rstrip(b"\r") for m in msgs if m.rstrip(b"\r").strip()]
    assert framer.buffered == 0


def test_blank_lines_and_crlf_are_tolerated() -> None:
    framer = LineFramer()
    framer.receive_data(b'\n  \r\n{"a":1}\r\n\n{"b":2}\n')
    assert _drain(framer) == [b'{"a":1}', b'{"b":2}']


def test_an_oversized_line_is_rejected_once_and_framing_resumes_after_it() -> None:
    framer = LineFramer(max_message_size=10)
    framer.receive_data(b"0123456789ABCDEF")
    with pytest.raises(MessageTooLarge):
        framer.next_message()
    assert framer.buffered == 0  # nothing of the oversized message is kept
    framer.receive_data(b"more junk without end")
    assert framer.next_message() is NEED_DATA
    framer.receive_data(b"still junk\nok\n")
    assert _drain(framer) == [b"ok"]


def test_a_complete_oversized_line_in_one_chunk_is_rejected_and_the_next_survives() -> None:
    framer = LineFramer(max_message_size=4)
    framer.receive_data(b"toolong\nfine\n")
    with pytest.raises(MessageTooLarge):
        framer.next_message()
    assert _drain(framer) == [b"fine"]


def test_buffering_stays_bounded_while_a_huge_message_streams_in() -> None:
    framer = LineFramer(max_message_size=100)
    peak = 0
    for _ in range(1000):
        framer.receive_data(b"x" * 64)
        with contextlib.suppress(MessageTooLarge):
            framer.next_message()
        peak = max(peak, framer.buffered)
    assert peak <= 100 + 64


def test_input_ending_mid_message_is_an_invalid_request() -> None:
    framer = LineFramer()
    framer.receive_data(b'{"jsonrpc":"2.0"')
    assert framer.next_message() is NEED_DATA
    framer.receive_data(b"")
    with pytest.raises(InvalidRequest, match="middle of a message"):
        framer.next_message()


def test_an_idle_framer_holds_no_buffer() -> None:
    framer = LineFramer()
    framer.receive_data(b"{}\n")
    assert _drain(framer) == [b"{}"]
    assert framer._buffer is None


@given(st.lists(st.binary(max_size=200), max_size=10))
def test_fuzzed_bytes_raise_only_our_errors(chunks: list[bytes]) -> None:
    framer = LineFramer(max_message_size=50)
    for chunk in [*(c for c in chunks if c), b""]:
        framer.receive_data(chunk)
        while True:
            try:
                if framer.next_message() is NEED_DATA:
                    break
            except McpError:
                continue
