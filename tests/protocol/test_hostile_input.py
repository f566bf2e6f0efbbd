"""Hostile input never escapes the protocol core as anything but our errors.

One line of 2,000 nested ``[`` used to kill the server: msgspec raised ``RecursionError``, which was not in
``DECODE_ERRORS``. These tests pin the contract for every decode site: ``decode_message`` returns a message or
raises ``McpError`` (-32700 for text that is not JSON, -32600 for JSON that is not a message or is over a limit,
with the id when it could be read); the sessions turn any decoded message into an event or ``None``, and the
answers they build always encode. Property tests drive the structures of ``hostile_json``; the regression tests
below them pin each concrete case once, deterministically.
"""

from __future__ import annotations

import base64
import sys
from collections.abc import Callable, Iterator
from typing import Any

import msgspec
import pytest
from hostile_json import (
    BEYOND_ANY_LIMIT,
    deep,
    envelopes,
    hostile_batches,
    hostile_messages,
    hostile_values,
    json_alphabet_bytes,
    nest,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from session_pair_helpers import ALL_CLIENT_CAPS, CLIENT_INFO, MODERN_VERSION, Pair, profile

from mcp_trio.protocol import (
    DECODE_ERRORS,
    Answered,
    CancelRequested,
    ClientSession,
    ErrorReceived,
    ErrorResponse,
    InternalError,
    InvalidParams,
    InvalidRequest,
    LocalProtocolError,
    McpError,
    Message,
    NotificationReceived,
    ParseError,
    RemoteError,
    Request,
    RequestReceived,
    RequestStateSealer,
    Response,
    ResponseReceived,
    ServerSession,
    SessionInitialized,
    UnsupportedProtocolVersion,
    decode_message,
    encode_message,
    error_from_exception,
    error_response,
    read_modern_meta,
)
from mcp_trio.protocol.client_session import CLOSED as CLIENT_CLOSED
from mcp_trio.protocol.jsonrpc import Notification
from mcp_trio.protocol.session import CLOSED as SERVER_CLOSED
from mcp_trio.protocol.typed import decode_params, decode_result
from mcp_trio.protocol.types import (
    METHODS,
    TASKS_EXTENSION,
    ClientCapabilities,
    ElicitRequest,
    ElicitRequestParams,
    decode_input_response,
    peek_result_type,
)

EVENTS = (
    Answered,
    CancelRequested,
    ErrorReceived,
    NotificationReceived,
    RequestReceived,
    ResponseReceived,
    SessionInitialized,
)
DEEP = b"[" * BEYOND_ANY_LIMIT + b"]" * BEYOND_ANY_LIMIT
DEEP_OBJECT = b'{"a":' * BEYOND_ANY_LIMIT + b"1" + b"}" * BEYOND_ANY_LIMIT
V = "io.modelcontextprotocol/protocolVersion"
CAPS = "io.modelcontextprotocol/clientCapabilities"


def line(template: dict[str, Any], hole: bytes = DEEP) -> bytes:
    """``template`` encoded, with the string ``"@"`` replaced by raw (possibly invalid) JSON bytes."""
    return msgspec.json.encode(template).replace(b'"@"', hole)


def assert_answerable(error: McpError) -> dict[str, Any]:
    """The error is one of ours and its answer encodes; returns the answer as the peer sees it."""
    assert isinstance(error, McpError)
    reply: dict[str, Any] = msgspec.json.decode(encode_message(error_response(error)))
    assert reply["id"] == error.request_id
    return reply


def decode_or_error(data: bytes) -> Message | list[Message | McpError] | McpError:
    """``decode_message``'s result or the McpError it raised; anything else it raises fails the test."""
    try:
        return decode_message(data)
    except McpError as error:
        failure = error
    assert failure.code in (-32700, -32600), failure
    assert_answerable(failure)
    return failure


# ---------------------------------------------------------------------- sessions in every phase


def _request(method: str, params: Any, id_: Any) -> Request:
    decoded = decode_message(msgspec.json.encode({"jsonrpc": "2.0", "id": id_, "method": method, "params": params}))
    assert isinstance(decoded, Request)
    return decoded


_INIT = {"capabilities": msgspec.to_builtins(ALL_CLIENT_CAPS), "clientInfo": {"name": "c", "version": "1"}}


def _server_new() -> ServerSession:
    return ServerSession(profile())


def _server_initializing(version: str = "2025-11-25") -> ServerSession:
    server = ServerSession(profile())
    assert isinstance(server.receive(_request("initialize", {**_INIT, "protocolVersion": version}, 0)), Answered)
    return server


def _server_ready(version: str = "2025-11-25") -> ServerSession:
    """Ready, with requests of its own pending under ids 1-5, so responses reach the result decoders."""
    server = _server_initializing(version)
    assert isinstance(server.receive(Notification("notifications/initialized")), SessionInitialized)
    for method in ("roots/list", "sampling/createMessage", "elicitation/create", "ping", "roots/list"):
        server.send_request(method, {})
    return server


def _server_modern() -> ServerSession:
    server = ServerSession(profile())
    event = server.receive(_request("tools/list", {"_meta": {V: MODERN_VERSION, CAPS: {}}}, "m"))
    assert isinstance(event, RequestReceived)
    return server


def _client_new() -> ClientSession:
    return ClientSession(capabilities=ALL_CLIENT_CAPS, client_info=CLIENT_INFO)


def _client_initializing() -> ClientSession:
    client = _client_new()
    client.initialize()  # id 1: a response to it is decoded as InitializeResult
    return client


def _client_ready() -> ClientSession:
    pair = Pair()
    pair.handshake()  # initialize was id 1; these are 2-5
    client = pair.client
    client.send_request("tools/call", {"name": "echo", "arguments": {}})
    client.send_request("tools/list")
    client.send_request("prompts/get", {"name": "p"})
    client.send_request("tools/call", {"name": "echo", "task": {}})  # legacy task-augmented
    return client


def _client_modern() -> ClientSession:
    capabilities = ClientCapabilities(extensions={TASKS_EXTENSION: {}})
    client = ClientSession(modern=True, capabilities=capabilities, client_info=CLIENT_INFO)
    client.send_request("tools/call", {"name": "echo", "arguments": {}})
    client.send_request("server/discover")
    client.send_request("tools/list")
    client.send_request("prompts/get", {"name": "p"})
    client.send_request("resources/read", {"uri": "a://b"})
    return client


SESSIONS: dict[str, Callable[[], ServerSession | ClientSession]] = {
    "server new": _server_new,
    "server initializing": _server_initializing,
    "server ready": _server_ready,
    "server ready 2025-03-26": lambda: _server_ready("2025-03-26"),
    "server modern": _server_modern,
    "client new": _client_new,
    "client initializing": _client_initializing,
    "client ready": _client_ready,
    "client modern": _client_modern,
}


def feed(session: ServerSession | ClientSession, messages: list[Message]) -> list[Any]:
    """Every message into ``session``: each gives an event or None, never an exception (LocalProtocolError only
    once the session is closed, as the API documents); every answer the session builds encodes."""
    events: list[Any] = []
    for message in messages:
        closed = session.phase == (CLIENT_CLOSED if isinstance(session, ClientSession) else SERVER_CLOSED)
        try:
            event = session.receive(message)
        except LocalProtocolError:
            assert closed, "LocalProtocolError from an open session"
            continue
        assert event is None or isinstance(event, EVENTS), event
        if isinstance(event, Answered):
            encode_message(event.message)
        elif isinstance(event, RequestReceived):
            answer = session.respond_error(event.id, error_from_exception(ValueError("handler failed")))
            assert answer is not None
            encode_message(answer)
        events.append(event)
    return events


def messages_of(decoded: Message | list[Message | McpError] | McpError) -> list[Message]:
    if isinstance(decoded, McpError):
        return []
    if isinstance(decoded, list):
        return [member for member in decoded if not isinstance(member, McpError)]
    return [decoded]


# ---------------------------------------------------------------------- properties


@settings(max_examples=300)
@given(hostile_messages())
def test_decode_message_returns_a_message_or_raises_our_error(data: bytes) -> None:
    decoded = decode_or_error(data)
    if isinstance(decoded, list):
        for member in decoded:
            if isinstance(member, McpError):
                assert member.code in (-32700, -32600)
                assert_answerable(member)


@settings(max_examples=100)
@given(hostile_batches())
def test_batches_of_hostile_members_decode_member_by_member(data: bytes) -> None:
    decode_or_error(data)


@settings(max_examples=200)
@given(st.binary(max_size=200) | json_alphabet_bytes())
def test_arbitrary_bytes_only_ever_raise_our_errors(data: bytes) -> None:
    decode_or_error(data)


@settings(max_examples=200)
@given(envelopes(), st.sampled_from(sorted(SESSIONS)))
def test_sessions_turn_any_decoded_message_into_an_event(data: bytes, phase: str) -> None:
    feed(SESSIONS[phase](), messages_of(decode_or_error(data)))


@settings(max_examples=50)
@given(hostile_batches(), st.sampled_from(sorted(SESSIONS)))
def test_sessions_take_batch_members_one_by_one(data: bytes, phase: str) -> None:
    feed(SESSIONS[phase](), messages_of(decode_or_error(data)))


@settings(max_examples=100)
@given(
    hostile_values(),
    st.sampled_from(["tools/call", "initialize", "logging/setLevel", "notifications/progress", "no/such"]),
    st.sampled_from(sorted(SESSIONS)),
)
def test_sessions_survive_raw_params_the_envelope_never_looked_into(value: bytes, method: str, phase: str) -> None:
    """The envelope keeps ``params`` raw and unchecked, so whatever bytes they hold reach the session's decoders."""
    message: Message = (
        Notification(method, msgspec.Raw(value))
        if method.startswith("notifications/")
        else Request(9, method, msgspec.Raw(value))
    )
    feed(SESSIONS[phase](), [message])


@settings(max_examples=100)
@given(hostile_values(), st.sampled_from([1, 2, 3, 4, 5]), st.sampled_from(sorted(SESSIONS)))
def test_sessions_survive_raw_results_the_envelope_never_looked_into(value: bytes, id_: int, phase: str) -> None:
    feed(SESSIONS[phase](), [Response(id_, msgspec.Raw(value))])


@settings(max_examples=100)
@given(
    st.integers(-(2**63), 2**64) | st.text(max_size=12),
    st.sampled_from(["message", "params", "arguments", "_meta", "result", "error.data"]),
    deep(st.just(BEYOND_ANY_LIMIT)),
    st.booleans(),
)
def test_nesting_past_the_limit_is_invalid_request_with_the_id_when_it_comes_first(
    id_: int | str, where: str, nested: bytes, id_first: bool
) -> None:
    """-32600, not -32700: the text may be valid JSON (RFC 8259 section 9 lets a parser limit depth); we stopped
    reading at the limit. The id is echoed when it precedes the deep member, as clients write it."""
    head = b'{"jsonrpc":"2.0","id":' + msgspec.json.encode(id_) + b"," if id_first else b'{"jsonrpc":"2.0",'
    tail = b"}" if id_first else b',"id":' + msgspec.json.encode(id_) + b"}"
    body = {
        "message": None,
        "params": b'"method":"tools/call","params":' + nested,
        "arguments": b'"method":"tools/call","params":{"name":"echo","arguments":{"a":' + nested + b"}}",
        "_meta": b'"method":"tools/call","params":{"name":"echo","_meta":' + nested + b"}",
        "result": b'"result":' + nested,
        "error.data": b'"error":{"code":1,"message":"m","data":' + nested + b"}",
    }[where]
    data = nested if body is None else head + body + tail
    with pytest.raises(InvalidRequest) as info:
        decode_message(data)
    assert info.value.code == -32600
    assert info.value.request_id == (id_ if id_first and body is not None else None)
    assert_answerable(info.value)


# ---------------------------------------------------------------------- regressions: the envelope


@pytest.fixture
def default_recursion_limit() -> Iterator[None]:
    """CPython's default limit (1000), which the 2,000-level lines of the bug report exceed wherever pytest runs."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


@pytest.mark.parametrize(
    ("data", "request_id"),
    [
        pytest.param(b"[" * 2000, None, id="2000 [ as the whole line"),
        pytest.param(b"[" * 2000 + b"]" * 2000, None, id="2000 [] closed"),
        pytest.param(b"[" * BEYOND_ANY_LIMIT, None, id="10000 ["),
        pytest.param(DEEP_OBJECT, None, id="nested objects"),
        pytest.param(b'{"a":' * 5000, None, id="nested objects unclosed"),
        pytest.param(nest([(b"[", b"]"), (b'{"a":', b"}")], BEYOND_ANY_LIMIT, b"1"), None, id="mixed"),
        pytest.param(b"[" + b"[" * 2000 + b"]" * 2000 + b"]", None, id="batch of a deep member"),
        pytest.param(line({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": "@"}), 7, id="params"),
        pytest.param(
            line({"jsonrpc": "2.0", "id": "call-1", "method": "tools/call", "params": {"name": "e", "arguments": "@"}}),
            "call-1",
            id="tools/call arguments",
        ),
        pytest.param(
            line({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "e", "_meta": "@"}}),
            3,
            id="_meta",
        ),
        pytest.param(line({"jsonrpc": "2.0", "id": "@", "method": "ping"}), None, id="id"),
        pytest.param(line({"jsonrpc": "2.0", "id": 5, "result": "@"}), 5, id="result"),
        pytest.param(
            line({"jsonrpc": "2.0", "id": 5, "error": {"code": 1, "message": "m", "data": "@"}}),
            5,
            id="error.data",
        ),
        pytest.param(line({"jsonrpc": "2.0", "method": "tools/call", "params": "@", "id": 5}), None, id="id last"),
        pytest.param(line({"jsonrpc": 2, "id": 8, "method": "ping", "params": "@"}), 8, id="bad jsonrpc first"),
        pytest.param(line({"jsonrpc": "2.0", "id": 1.5, "params": "@"}), None, id="float id first"),
    ],
)
@pytest.mark.usefixtures("default_recursion_limit")
def test_deep_nesting_anywhere_is_invalid_request_not_a_crash(data: bytes, request_id: object) -> None:
    with pytest.raises(InvalidRequest) as info:
        decode_message(data)
    assert info.value.request_id == request_id
    reply = assert_answerable(info.value)
    assert reply["error"]["code"] == -32600


def test_a_batch_of_batches_is_refused_member_by_member_without_recursing() -> None:
    batch = decode_message(b'[[{"jsonrpc":"2.0","id":1,"method":"ping"}], {"jsonrpc":"2.0","id":2,"method":"ping"}]')
    assert isinstance(batch, list)
    assert isinstance(batch[0], InvalidRequest)
    assert batch[0].message == "nested batch"
    assert isinstance(batch[1], Request)
    many = decode_message(b"[" + b",".join([b"[" * 900 + b"]" * 900] * 50) + b"]")  # deep, but under the limit
    assert isinstance(many, list)
    assert all(isinstance(member, InvalidRequest) for member in many)


@pytest.mark.parametrize(
    ("data", "error", "request_id"),
    [
        (b'{"jsonrpc":"2.0","id":' + b"9" * 5000 + b',"method":"ping"}', InvalidRequest, None),
        (b'{"jsonrpc":"2.0","id":' + b"9" * 4301 + b',"method":"ping"}', InvalidRequest, None),
        (b'{"jsonrpc":"2.0","id":-' + b"9" * 5000 + b',"method":"ping"}', InvalidRequest, None),
        (b'{"jsonrpc":"2.0","id":1e999,"method":"ping"}', InvalidRequest, None),
        (b'{"jsonrpc":"2.0","id":1e-999,"method":"ping"}', InvalidRequest, None),
        (b'{"jsonrpc":"2.0","method":"ping","id":' + b"9" * 5000 + b"}", InvalidRequest, None),
        (b"9" * 5000, InvalidRequest, None),
        (b"1e999", InvalidRequest, None),
        (b'{"jsonrpc":"2.0","id":NaN,"method":"ping"}', ParseError, None),
        (b'{"jsonrpc":"2.0","id":Infinity,"method":"ping"}', ParseError, None),
        (b'{"jsonrpc":"2.0","id":-Infinity,"method":"ping"}', ParseError, None),
        (b"NaN", ParseError, None),
        (b'{"jsonrpc":"2.0","id":1,"method":"\\ud800"}', ParseError, None),
        (b'{"jsonrpc":"2.0","id":1,"method":"\\udc00\\ud800"}', ParseError, None),
        (b'{"jsonrpc":"2.0","id":"\\ud800","method":"ping"}', ParseError, None),
        (b'{"jsonrpc":"2.0","id":1,"method":"\xed\xa0\x80"}', ParseError, None),
        (b'{"jsonrpc":"2.0","id":1,"method":"\xc0\xaf"}', ParseError, None),
        (b'\xef\xbb\xbf{"jsonrpc":"2.0","id":1,"method":"ping"}', ParseError, None),
        (b'{"jsonrpc":"2.0","id":1,"method":"a\x00b"}', ParseError, None),
        (b'{"jsonrpc":"2.0","id":1,"method":"ping"', ParseError, None),
        (b'{"jsonrpc":"2.0","id":1.5,"method":"ping","params":{"a":[1,,]}}', ParseError, None),
        (b"", ParseError, None),
        (b" \t\r\n", ParseError, None),
        (b"null", InvalidRequest, None),
        (b"true", InvalidRequest, None),
        (b"0", InvalidRequest, None),
        (b'""', InvalidRequest, None),
        (b'"\xff"', ParseError, None),
        (b'{"jsonrpc":"2.0","id":true,"method":"ping","params":' + DEEP + b"}", InvalidRequest, None),
    ],
)
def test_hostile_scalars_get_the_exact_error(data: bytes, error: type[McpError], request_id: object) -> None:
    with pytest.raises(error) as info:
        decode_message(data)
    assert type(info.value) is error
    assert info.value.request_id == request_id
    assert_answerable(info.value)


def test_the_largest_integer_id_python_converts_is_a_request_whose_answer_encodes() -> None:
    big = int("9" * 4300)
    request = decode_message(b'{"jsonrpc":"2.0","id":' + b"9" * 4300 + b',"method":"no/such"}')
    assert isinstance(request, Request)
    assert request.id == big
    event = _server_ready().receive(request)
    assert isinstance(event, Answered)
    assert isinstance(event.message, ErrorResponse)
    assert msgspec.json.decode(encode_message(event.message))["id"] == big


def test_duplicate_keys_keep_the_last_value() -> None:
    message = decode_message(b'{"jsonrpc":"2.0","id":1,"id":2,"method":"x","method":"ping"}')
    assert isinstance(message, Request)
    assert (message.id, message.method) == (2, "ping")


def test_a_huge_method_name_is_answered_and_the_answer_encodes() -> None:
    method = "m" * 1_000_000
    request = decode_message(msgspec.json.encode({"jsonrpc": "2.0", "id": 1, "method": method}))
    assert isinstance(request, Request)
    event = _server_ready().receive(request)
    assert isinstance(event, Answered)
    assert msgspec.json.decode(encode_message(event.message))["error"]["code"] == -32601


# ---------------------------------------------------------------------- regressions: the sessions


def deep_params_request(params: bytes, id_: int | str = 11, method: str = "tools/call") -> Request:
    """A request whose params passed the envelope (it only skips them) but are too deep to decode."""
    return Request(id_, method, msgspec.Raw(params))


@pytest.mark.parametrize(
    "params",
    [
        pytest.param(DEEP, id="params"),
        pytest.param(b'{"name":"echo","arguments":{"a":' + DEEP + b"}}", id="arguments"),
        pytest.param(b'{"name":"echo","_meta":' + DEEP + b"}", id="_meta"),
        pytest.param(b'{"name":"echo","_meta":{"' + V.encode() + b'":' + DEEP + b"}}", id="_meta version"),
        pytest.param(b'{"name":"echo","arguments":{"n":' + b"9" * 5000 + b"}}", id="5000-digit argument"),
        pytest.param(b'{"name":"echo","arguments":{"n":1e999}}', id="1e999 argument"),
        pytest.param(b'{"name":"\\ud800"}', id="lone surrogate"),
        pytest.param(b'{"name":"\x80"}', id="invalid UTF-8"),
    ],
)
@pytest.mark.parametrize("phase", ["server new", "server ready", "server modern"])
def test_params_the_server_cannot_decode_are_answered_with_the_request_id(params: bytes, phase: str) -> None:
    server = SESSIONS[phase]()
    assert isinstance(server, ServerSession)
    event = server.receive(deep_params_request(params))
    assert isinstance(event, Answered)
    reply = msgspec.json.decode(encode_message(event.message))
    assert reply["id"] == 11
    # Legacy-ready: -32602. Before initialize, params that cannot be read cannot say they are modern either, so
    # the answer is "not initialized" (-32600), as for any other non-modern request there.
    assert reply["error"]["code"] == (-32602 if phase == "server ready" else -32600)


@pytest.mark.parametrize(
    ("method", "params", "code"),
    [
        ("initialize", DEEP, -32602),
        ("initialize", b'{"protocolVersion":"2025-11-25","clientInfo":{"name":"c","version":"1"},"capabilities":'
         + DEEP + b"}", -32602),
        # _meta too deep to read cannot show the request is modern: answered like any request before initialize.
        ("tools/list", b'{"_meta":{"' + V.encode() + b'":"2026-07-28","' + CAPS.encode() + b'":' + DEEP + b"}}",
         -32600),
        ("tools/list", b'{"_meta":{"' + V.encode() + b'":' + DEEP + b"}}", -32600),
    ],
)  # fmt: skip
def test_initialize_and_modern_requests_with_deep_params_are_answered(method: str, params: bytes, code: int) -> None:
    event = ServerSession(profile()).receive(deep_params_request(params, "i", method))
    assert isinstance(event, Answered)
    reply = msgspec.json.decode(encode_message(event.message))
    assert (reply["id"], reply["error"]["code"]) == ("i", code)


def test_a_modern_request_with_hostile_meta_values_gets_invalid_params() -> None:
    nested = b"[" * 500 + b"]" * 500  # decodable here, but no protocol version, log level or capabilities
    for member in (V, "io.modelcontextprotocol/logLevel", CAPS):
        meta = {V: MODERN_VERSION, CAPS: {}}
        params = msgspec.json.encode({"_meta": {**meta, member: "@"}}).replace(b'"@"', nested)
        event = ServerSession(profile()).receive(deep_params_request(params, "m", "tools/list"))
        assert isinstance(event, Answered)
        reply = msgspec.json.decode(encode_message(event.message))
        assert (reply["id"], reply["error"]["code"]) == ("m", -32602)
        assert len(reply["error"]["message"]) < 200  # the value is not echoed


@pytest.mark.parametrize("method", ["notifications/progress", "notifications/cancelled", "notifications/initialized"])
def test_notifications_with_undecodable_params_are_ignored(method: str) -> None:
    for params in (DEEP, b'{"progressToken":1,"progress":1e999}', b'{"requestId":' + b"9" * 5000 + b"}"):
        assert _server_ready().receive(Notification(method, msgspec.Raw(params))) is None
        assert _client_ready().receive(Notification(method, msgspec.Raw(params))) is None


@pytest.mark.parametrize(
    ("phase", "id_"),
    [("server ready", 1), ("server ready", 2), ("client initializing", 1), ("client ready", 2), ("client ready", 5)]
    + [("client modern", n) for n in (1, 2, 3)],
)
@pytest.mark.parametrize(
    "result",
    [
        DEEP,
        b'{"content":' + DEEP + b"}",
        b'{"resultType":"complete","content":[{"type":"text","text":"x","_meta":' + DEEP + b"}]}",
        b'{"_meta":' + DEEP + b',"resultType":"input_required"}',
        b'{"resultType":"input_required","inputRequests":{"k":' + DEEP + b"}}",
        b'{"resultType":"task","task":' + DEEP + b"}",
        b'{"content":[],"n":' + b"9" * 5000 + b"}",
        b'{"protocolVersion":"2025-11-25","capabilities":{},"serverInfo":{"name":"\\ud800","version":"1"}}',
    ],
)
def test_results_that_cannot_be_decoded_are_error_received_for_the_pending_request(
    phase: str, id_: int, result: bytes
) -> None:
    session = SESSIONS[phase]()
    event = session.receive(Response(id_, msgspec.Raw(result)))
    assert isinstance(event, ErrorReceived | ResponseReceived), event  # unknown members are skipped, not read
    if isinstance(event, ErrorReceived):
        assert event.id == id_
        assert event.error.code == -32602


def test_a_server_info_that_does_not_convert_is_dropped_not_raised() -> None:
    result = b'{"supportedVersions":["2026-07-28"],"capabilities":{},"_meta":{"io.modelcontextprotocol/serverInfo":'
    for info in (b'{"name":' + b"[" * 500 + b"]" * 500 + b"}", b'{"name":"s","version":' + b"9" * 4300 + b"}"):
        client = _client_modern()
        event = client.receive(Response(2, msgspec.Raw(result + info + b"}}")))
        assert isinstance(event, ResponseReceived)
        assert client.server_info is None
    event = _client_modern().receive(Response(2, msgspec.Raw(result + b'{"name":' + DEEP + b"}}}")))
    assert isinstance(event, ErrorReceived)  # too deep for the result decoder itself


def test_an_error_response_with_deep_data_is_invalid_request_with_the_id() -> None:
    data = line({"jsonrpc": "2.0", "id": 2, "error": {"code": -32000, "message": "m", "data": "@"}})
    with pytest.raises(InvalidRequest) as info:
        decode_message(data)
    assert info.value.request_id == 2


# ---------------------------------------------------------------------- regressions: helpers and the other direction


def test_decode_errors_is_what_hostile_input_raises() -> None:
    assert (ValueError, RecursionError, OverflowError, MemoryError) == DECODE_ERRORS
    raised: list[BaseException] = []
    for attempt in (
        lambda: msgspec.json.decode(DEEP),
        lambda: msgspec.json.decode(b'"\x80"'),
        lambda: msgspec.json.decode(b"9" * 5000),
        lambda: msgspec.convert(10**5000, float),
        lambda: str(10**5000),
        lambda: base64.urlsafe_b64decode("a"),
        lambda: "\ud800".encode(),
    ):
        try:
            attempt()
        except BaseException as exc:
            raised.append(exc)
    assert all(isinstance(exc, DECODE_ERRORS) for exc in raised), raised
    assert any(type(exc) is RecursionError for exc in raised)


def test_decode_params_and_result_map_every_failure_to_invalid_params() -> None:
    spec = METHODS["tools/call"]
    params: Any
    for params in (
        msgspec.Raw(DEEP),
        msgspec.Raw(b'{"name":"x","arguments":{"n":' + b"9" * 5000 + b"}}"),
        {"name": [[]]},
    ):
        with pytest.raises(InvalidParams):
            decode_params(spec, params)
    with pytest.raises(InvalidParams, match="nested too deeply"):
        decode_params(spec, msgspec.Raw(b'{"name":"x","arguments":{"a":' + DEEP + b"}}"))
    with pytest.raises(InvalidParams, match="nested too deeply"):
        decode_result(spec, msgspec.Raw(b'{"content":[],"x":' + DEEP + b"}"))


def test_public_decode_helpers_raise_only_msgspec_errors() -> None:
    with pytest.raises(msgspec.DecodeError, match="nested too deeply"):
        peek_result_type(b'{"x":' + DEEP + b"}")
    request = ElicitRequest(params=ElicitRequestParams(message="?", requested_schema={"type": "object"}))
    with pytest.raises(msgspec.DecodeError, match="nested too deeply"):
        decode_input_response(request, msgspec.Raw(b'{"action":"accept","x":' + DEEP + b"}"))
    params = ElicitRequestParams(message="?", requested_schema={"type": "object", "properties": {"a": DEEP}})
    with pytest.raises(msgspec.ValidationError):
        params.typed_schema()


def test_read_modern_meta_never_formats_a_container() -> None:
    deep_list: list[Any] = []
    node = deep_list
    for _ in range(BEYOND_ANY_LIMIT):
        node.append([])
        node = node[0]
    for meta in (
        {V: deep_list, CAPS: {}},
        {V: MODERN_VERSION, CAPS: {}, "io.modelcontextprotocol/logLevel": deep_list},
        {V: MODERN_VERSION, CAPS: {"experimental": deep_list}},
        {V: MODERN_VERSION, CAPS: {}, "io.modelcontextprotocol/clientInfo": {"name": deep_list, "version": "1"}},
        {V: MODERN_VERSION, CAPS: {}, "io.modelcontextprotocol/clientInfo": {"name": "c", "version": 10**5000}},
    ):
        with pytest.raises(InvalidParams) as info:
            read_modern_meta(meta)
        assert len(info.value.message) < 200
    with pytest.raises(UnsupportedProtocolVersion):  # a scalar that is not ours is still -32022, echoed
        read_modern_meta({V: int("9" * 4300), CAPS: {}})


@pytest.mark.parametrize(
    "token",
    ["", "a.b", "a.b.c", "a.b.c.d", "\ud800.a.b", "é.a.b", "!!!!.@@@@.####", "." * 3, "a" * 100_000 + ".b.c"],
)
def test_request_state_tokens_that_are_not_ours_are_invalid_params(token: str) -> None:
    with pytest.raises(InvalidParams):
        RequestStateSealer().open(token, binding=b"b", now=0.0)


@pytest.mark.parametrize("token", [None, 5, b"a.b.c", ["a", "b", "c"]])
def test_a_request_state_that_is_not_even_a_string_is_invalid_params(token: object) -> None:
    with pytest.raises(InvalidParams):
        RequestStateSealer().open(token, binding=b"b", now=0.0)  # type: ignore[arg-type]


class _Hostile(Exception):
    def __str__(self) -> str:
        raise RuntimeError("str() of me fails")

    def __repr__(self) -> str:
        raise RuntimeError("repr() of me fails")


class _HostileValidation(msgspec.ValidationError):
    def __str__(self) -> str:
        raise RuntimeError("str() of me fails")


class _BrokenRemote(RemoteError):
    def __init__(self) -> None:  # never calls super(): no code, no message
        pass


class _WeirdCode(McpError):
    code = "not an int"  # type: ignore[assignment]


class _RaisingProperty(McpError):
    @property
    def message(self) -> str:
        raise RuntimeError("property fails")

    @message.setter
    def message(self, value: str) -> None:
        pass


@pytest.mark.parametrize(
    ("exc", "expected", "text"),
    [
        (_Hostile("x"), InternalError, "internal error"),
        (_HostileValidation("Expected `str` - at `$.name`"), InvalidParams, "invalid params: Expected `str`"),
        (_HostileValidation(1, 2), InvalidParams, "invalid params: _HostileValidation"),
        (msgspec.DecodeError(object()), ParseError, "parse error: DecodeError"),
        (_BrokenRemote(), InternalError, "internal error"),
        (
            RemoteError(-32001, "remote said no", {"x": 1}),
            InternalError,
            "a request of ours was answered with an error",
        ),
        (_WeirdCode("m"), InternalError, "internal error"),
        (_RaisingProperty("m"), InternalError, "internal error"),
        (RecursionError("maximum recursion depth exceeded"), InternalError, "internal error"),
        (KeyboardInterrupt(), InternalError, "internal error"),
        (MemoryError(), InternalError, "internal error"),
    ],
)
def test_error_from_exception_never_raises_and_never_calls_foreign_str(
    exc: BaseException, expected: type[McpError], text: str
) -> None:
    error = error_from_exception(exc)
    assert type(error) is expected
    assert error.message.startswith(text)
    encode_message(error_response(error, 1))
