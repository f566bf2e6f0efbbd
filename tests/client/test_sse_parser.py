"""The client's SSE parser: the same events however the bytes are split, every line ending, bounded buffers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcp_trio.client.sse import SseParser

STREAM = (
    b": comment\r\n"
    b"id: 1\r\ndata:\r\n\r\n"  # the priming event: an id and empty data (the HTTP client skips it)
    b"retry: 2500\n"
    b'event: message\ndata: {"a":1}\n\n'
    b"id: 2\rdata: line one\rdata: line two\r\r"
    b"data:no space\r\nid\r\n\r\n"
    b"event: other\ndata: x\n\n"
)


def parse(chunks: list[bytes], max_bytes: int = 1 << 20) -> tuple[list[tuple[str, str, str | None]], SseParser]:
    parser = SseParser(max_bytes)
    events = []
    for chunk in chunks:
        events.extend((e.event, e.data, e.id) for e in parser.feed(chunk))
    return events, parser


def test_every_field_and_line_ending() -> None:
    events, parser = parse([STREAM])
    assert events == [
        ("message", "", "1"),
        ("message", '{"a":1}', "1"),
        ("message", "line one\nline two", "2"),
        ("message", "no space", ""),
        ("other", "x", ""),
    ]
    assert parser.retry_ms == 2500
    assert parser.last_id == ""


@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=12))
def test_splitting_the_bytes_anywhere_gives_the_same_events(cuts: list[int]) -> None:
    points = sorted(set(cuts))
    chunks = [STREAM[a:b] for a, b in zip([0, *points], [*points, len(STREAM)], strict=True)]
    assert parse(chunks)[0] == parse([STREAM])[0]


@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise_anything_but_the_size_limit(data: bytes) -> None:
    try:
        parse([data], max_bytes=64)
    except ValueError as error:
        message = str(error)
    else:
        return
    assert "over 64 bytes" in message


def test_an_endless_line_or_event_is_refused() -> None:
    with pytest.raises(ValueError, match="line over 100 bytes"):
        parse([b"data: " + b"x" * 200], max_bytes=100)
    with pytest.raises(ValueError, match="event over 100 bytes"):
        parse([b"data: " + b"x" * 60 + b"\n"] * 2, max_bytes=100)


def test_a_blank_event_with_no_data_is_not_dispatched_but_its_id_counts() -> None:
    events, parser = parse([b"id: 9\n\n"])
    assert events == []
    assert parser.last_id == "9"


def test_an_id_with_nul_is_ignored_and_retry_must_be_digits() -> None:
    _, parser = parse([b"id: 7\nid: a\0b\nretry: 12x\ndata: d\n\n"])
    assert parser.last_id == "7"
    assert parser.retry_ms is None
