"""The JSON-RPC envelope: classification, exact error codes with the id echoed, and fuzzing."""

from __future__ import annotations

import contextlib

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcp_trio.protocol.errors import ErrorCode, InvalidParams, InvalidRequest, McpError, ParseError
from mcp_trio.protocol.jsonrpc import (
    ErrorObject,
    ErrorResponse,
    Notification,
    Request,
    Response,
    decode_message,
    encode_message,
    encode_message_into,
    error_response,
)


def test_request_is_decoded_with_params_left_raw() -> None:
    message = decode_message(b'{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo"}}')
    assert isinstance(message, Request)
    assert (message.id, message.method) == (7, "tools/call")
    assert isinstance(message.params, msgspec.Raw)
    assert bytes(message.params) == b'{"name":"echo"}'


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b'{"jsonrpc":"2.0","method":"notifications/initialized"}', Notification("notifications/initialized")),
        (b'{"jsonrpc":"2.0","id":"a","result":{}}', Response("a", msgspec.Raw(b"{}"))),
        (
            b'{"jsonrpc":"2.0","id":3,"error":{"code":-32601,"message":"nope"}}',
            ErrorResponse(3, ErrorObject(-32601, "nope")),
        ),
        (
            b'{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"bad"}}',
            ErrorResponse(None, ErrorObject(-32700, "bad")),
        ),
    ],
)
def test_messages_are_classified(data: bytes, expected: object) -> None:
    got = decode_message(data)
    if isinstance(expected, Response):
        assert isinstance(got, Response)
        assert got.id == expected.id
        assert bytes(got.result) == bytes(expected.result)
    else:
        assert got == expected


@pytest.mark.parametrize(
    ("data", "error", "request_id"),
    [
        (b"{not json", ParseError, None),
        (b'"\x80"', ParseError, None),  # invalid UTF-8 inside a JSON string: msgspec raises UnicodeDecodeError
        (b'{"jsonrpc":"2.0","id":1,"method":"\x80"}', ParseError, None),
        (b'{"jsonrpc":"2.0","id":1,"error":{"code":1,"message":"\x80"}}', InvalidRequest, 1),
        (b"", ParseError, None),
        (b'"just a string"', InvalidRequest, None),
        (b'{"jsonrpc":"1.0","id":5,"method":"ping"}', InvalidRequest, 5),
        (b'{"id":5,"method":"ping"}', InvalidRequest, 5),
        (b'{"jsonrpc":"2.0","id":null,"method":"ping"}', InvalidRequest, None),
        (b'{"jsonrpc":"2.0","id":1.5,"method":"ping"}', InvalidRequest, None),
        (b'{"jsonrpc":"2.0","id":true,"method":"ping"}', InvalidRequest, None),
        (b'{"jsonrpc":"2.0","id":"x","method":7}', InvalidRequest, "x"),
        (b'{"jsonrpc":"2.0","id":9,"method":"ping","result":{}}', InvalidRequest, 9),
        (b'{"jsonrpc":"2.0","id":9,"result":{},"error":{"code":1,"message":"m"}}', InvalidRequest, 9),
        (b'{"jsonrpc":"2.0","id":9,"error":{"code":"x"}}', InvalidRequest, 9),
        (b'{"jsonrpc":"2.0"}', InvalidRequest, None),
        (b'{"jsonrpc":"2.0","id":4}', InvalidRequest, 4),
        (b"[]", InvalidRequest, None),
    ],
)
def test_bad_messages_get_the_exact_error_and_echo_the_id(
    data: bytes, error: type[McpError], request_id: object
) -> None:
    with pytest.raises(error) as info:
        decode_message(data)
    assert type(info.value) is error
    assert info.value.request_id == request_id
    reply = msgspec.json.decode(encode_message(error_response(info.value)))
    assert reply["id"] == request_id
    assert reply["error"]["code"] == {ParseError: -32700, InvalidRequest: -32600}[error]


def test_invalid_utf8_inside_params_is_invalid_params_once_the_method_is_known() -> None:
    from mcp_trio.protocol.typed import decode_params
    from mcp_trio.protocol.types import METHODS

    message = decode_message(b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"\x80"}}')
    assert isinstance(message, Request)
    with pytest.raises(InvalidParams):
        decode_params(METHODS["tools/call"], message.params)


def test_a_batch_decodes_each_member_or_its_error() -> None:
    batch = decode_message(b'[{"jsonrpc":"2.0","id":1,"method":"ping"}, 5, {"jsonrpc":"2.0","method":"x"}]')
    assert isinstance(batch, list)
    assert isinstance(batch[0], Request)
    assert isinstance(batch[1], InvalidRequest)
    assert isinstance(batch[2], Notification)


def test_outgoing_messages_always_carry_jsonrpc_first_and_omit_absent_params() -> None:
    assert encode_message(Request(1, "ping")) == b'{"jsonrpc":"2.0","id":1,"method":"ping"}'
    assert encode_message(Response(1, {})) == b'{"jsonrpc":"2.0","id":1,"result":{}}'
    buffer = bytearray(b"x")
    encode_message_into(Notification("n", {"a": 1}), buffer)
    assert bytes(buffer) == b'x{"jsonrpc":"2.0","method":"n","params":{"a":1}}\n'


def test_error_response_keeps_data_and_code() -> None:
    error = InvalidParams("bad", {"uri": "test://x"})
    assert encode_message(error_response(error, 3)) == (
        b'{"jsonrpc":"2.0","id":3,"error":{"code":-32602,"message":"bad","data":{"uri":"test://x"}}}'
    )
    assert error.code == ErrorCode.INVALID_PARAMS


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


@given(st.binary(max_size=300))
def test_fuzzed_bytes_only_ever_raise_our_errors(data: bytes) -> None:
    with contextlib.suppress(McpError):
        decode_message(data)


@given(st.dictionaries(st.sampled_from(["jsonrpc", "id", "method", "params", "result", "error"]), json_values))
def test_fuzzed_envelopes_only_ever_raise_our_errors(envelope: dict[str, object]) -> None:
    data = msgspec.json.encode(envelope)
    try:
        decode_message(data)
    except McpError as error:
        codes = (error.code,)
    else:
        codes = (-32600,)
    assert codes[0] in (-32700, -32600)
