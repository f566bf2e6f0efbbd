"""Golden error answers for every error path of MCP-SPEC 1.1-1.4 that the envelope and framer tests do not cover.

Each case pins the exact code, the echoed id, the useful detail in ``message`` and the ``data`` members.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from session_pair_helpers import MODERN_VERSION, Pair, as_json, feed_server, profile

from mcp_trio.protocol import (
    LEGACY_VERSIONS,
    MODERN_VERSIONS,
    ErrorCode,
    HeaderMismatch,
    InvalidParams,
    McpError,
    MissingClientCapability,
    RemoteError,
    Request,
    ResourceNotFound,
    ServerSession,
    UnsupportedProtocolVersion,
    accept_modern_request,
    error_from_exception,
    error_response,
    read_modern_meta,
)
from mcp_trio.protocol.session import nested_capability
from mcp_trio.protocol.types import TASKS_EXTENSION, ClientCapabilities, ServerCapabilities

V = "io.modelcontextprotocol/protocolVersion"
CAPS = "io.modelcontextprotocol/clientCapabilities"
INFO = "io.modelcontextprotocol/clientInfo"
LEVEL = "io.modelcontextprotocol/logLevel"
GOOD_META: dict[str, Any] = {V: MODERN_VERSION, CAPS: {}}


def answer(server: ServerSession, line: bytes) -> dict[str, Any]:
    replies, events = feed_server(server, line)
    assert events == []
    assert len(replies) == 1
    return replies[0]  # type: ignore[no-any-return]


def ready_server() -> ServerSession:
    pair = Pair()
    pair.handshake()
    return pair.server


def modern_error(request: Request, server_profile: Any = None) -> dict[str, Any]:
    with pytest.raises(McpError) as info:
        accept_modern_request(server_profile or profile(), request)
    return as_json(error_response(info.value, request.id))  # type: ignore[no-any-return]


# ---------------------------------------------------------------------- -32600 invalid request (session level)


@pytest.mark.parametrize(
    ("line", "rid", "detail"),
    [
        (b'{"jsonrpc":"2.0","id":"a","method":"tools/list"}', "a", "not initialized"),
        (b'{"jsonrpc":"2.0","id":4,"method":"resources/read","params":{"nope":1}}', 4, "initialize first"),
    ],
)
def test_requests_before_initialize_get_invalid_request(line: bytes, rid: object, detail: str) -> None:
    reply = answer(ServerSession(profile()), line)
    assert reply["id"] == rid
    assert reply["error"]["code"] == -32600
    assert detail in reply["error"]["message"]


def test_a_second_initialize_gets_invalid_request() -> None:
    line = (
        b'{"jsonrpc":"2.0","id":9,"method":"initialize","params":'
        b'{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"c","version":"1"}}}'
    )
    reply = answer(ready_server(), line)
    assert reply == {"jsonrpc": "2.0", "id": 9, "error": {"code": -32600, "message": "session already initialized"}}


def test_an_id_reused_while_in_flight_gets_invalid_request() -> None:
    server = ready_server()
    _, events = feed_server(server, b'{"jsonrpc":"2.0","id":"x","method":"tools/list"}')
    assert len(events) == 1
    reply = answer(server, b'{"jsonrpc":"2.0","id":"x","method":"tools/list"}')
    assert reply["id"] == "x"
    assert reply["error"]["code"] == -32600
    assert "'x' is already in use" in reply["error"]["message"]


def test_a_batch_outside_2025_03_26_gets_one_invalid_request_with_a_null_id() -> None:
    reply = answer(ready_server(), b'[{"jsonrpc":"2.0","id":1,"method":"ping"}]')
    assert reply["id"] is None
    assert reply["error"]["code"] == -32600
    assert "batches" in reply["error"]["message"]


def test_a_bad_batch_member_gets_its_own_error_and_the_rest_are_served() -> None:
    pair = Pair()
    pair.handshake(version="2025-03-26")
    replies, _ = feed_server(pair.server, b'[{"jsonrpc":"2.0","id":"p","method":"ping"},[1],{"jsonrpc":"1.0","id":3}]')
    assert replies[0] == {"jsonrpc": "2.0", "id": "p", "result": {}}
    assert replies[1] == {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "nested batch"}}
    assert (replies[2]["id"], replies[2]["error"]["code"]) == (3, -32600)


# ---------------------------------------------------------------------- -32601 method not found


@pytest.mark.parametrize(
    ("method", "detail"),
    [
        ("no/such", "method not found: no/such"),
        ("sampling/createMessage", "method not found: sampling/createMessage"),  # a server-to-client method
        ("server/discover", "method not found: server/discover"),  # modern only
        ("tasks/update", "method not found: tasks/update"),
    ],
)
def test_unknown_or_wrong_direction_or_wrong_era_methods_get_method_not_found(method: str, detail: str) -> None:
    reply = answer(ready_server(), b'{"jsonrpc":"2.0","id":12,"method":"%s"}' % method.encode())
    assert reply == {"jsonrpc": "2.0", "id": 12, "error": {"code": -32601, "message": detail}}


def test_a_method_whose_server_capability_is_missing_names_the_capability() -> None:
    pair = Pair(server_profile=profile(ServerCapabilities()))
    pair.handshake()
    reply = answer(pair.server, b'{"jsonrpc":"2.0","id":1,"method":"resources/subscribe","params":{"uri":"a://b"}}')
    assert reply["error"] == {
        "code": -32601,
        "message": "method not found: resources/subscribe (this server does not offer resources.subscribe)",
    }


@pytest.mark.parametrize("method", ["ping", "logging/setLevel", "resources/subscribe", "notifications/initialized"])
def test_modern_removed_methods_get_method_not_found_before_params_are_checked(method: str) -> None:
    request = Request(2, method, {"_meta": GOOD_META})
    assert modern_error(request)["error"] == {"code": -32601, "message": f"method not found: {method}"}
    reply = answer(
        ServerSession(profile()),
        msgspec.json.encode({"jsonrpc": "2.0", "id": 2, "method": method, "params": {"_meta": GOOD_META}}),
    )
    assert reply["error"]["code"] == -32601


def test_modern_extension_method_without_the_server_extension_is_not_found() -> None:
    error = modern_error(Request(1, "tasks/get", {"taskId": "t", "_meta": GOOD_META}))["error"]
    assert error["code"] == -32601
    assert f"extensions.{TASKS_EXTENSION}" in error["message"]


# ---------------------------------------------------------------------- -32602 invalid params


@pytest.mark.parametrize(
    ("line", "detail"),
    [
        (b'{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{}}', "missing required field `name`"),
        (b'{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":5}}', "$.name"),
        (b'{"jsonrpc":"2.0","id":3,"method":"logging/setLevel","params":{"level":"loud"}}', "$.level"),
        (b'{"jsonrpc":"2.0","id":3,"method":"resources/read","params":[1]}', "invalid params for resources/read"),
    ],
)
def test_params_that_do_not_fit_get_invalid_params_with_the_path(line: bytes, detail: str) -> None:
    reply = answer(ready_server(), line)
    assert reply["id"] == 3
    assert reply["error"]["code"] == -32602
    assert detail in reply["error"]["message"]


def test_initialize_without_required_fields_gets_invalid_params() -> None:
    reply = answer(
        ServerSession(profile()), b'{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"capabilities":{}}}'
    )
    assert reply["id"] == 0
    assert reply["error"]["code"] == -32602
    assert "protocolVersion" in reply["error"]["message"]


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        ({}, "missing _meta"),
        ({"_meta": "x"}, "$._meta"),
        ({"_meta": {CAPS: {}}}, f"missing _meta[{V!r}]"),
        ({"_meta": {V: MODERN_VERSION}}, f"missing _meta[{CAPS!r}]"),
        ({"_meta": {V: MODERN_VERSION, CAPS: {"roots": 5}}}, "invalid _meta"),
        ({"_meta": {V: MODERN_VERSION, CAPS: {}, INFO: {"name": 1}}}, "invalid _meta"),
        ({"_meta": {V: MODERN_VERSION, CAPS: {}, LEVEL: "loud"}}, "'loud'"),
    ],
)
def test_modern_meta_problems_get_invalid_params(params: dict[str, Any], detail: str) -> None:
    reply = modern_error(Request("m", "tools/list", params))
    assert reply["id"] == "m"
    assert reply["error"]["code"] == -32602
    assert detail in reply["error"]["message"]


def test_modern_meta_without_capabilities_is_caught_on_a_stream_session_too() -> None:
    line = msgspec.json.encode(
        {"jsonrpc": "2.0", "id": 5, "method": "tools/list", "params": {"_meta": {V: MODERN_VERSION}}}
    )
    reply = answer(ServerSession(profile()), line)
    assert reply["error"]["code"] == -32602
    assert CAPS in reply["error"]["message"]


def test_a_client_answers_a_server_request_with_bad_params_with_invalid_params() -> None:
    pair = Pair()
    pair.handshake()
    event = pair.to_client(Request(8, "sampling/createMessage", {"maxTokens": "x"}))
    reply = as_json(event.message)  # type: ignore[union-attr]
    assert reply["id"] == 8
    assert reply["error"]["code"] == -32602
    assert "sampling/createMessage" in reply["error"]["message"]


# ---------------------------------------------------------------------- -32603 internal error


def test_internal_errors_never_leak_details() -> None:
    error = error_from_exception(RuntimeError("db password is hunter2"))
    reply = as_json(error_response(error, 4))
    assert reply == {"jsonrpc": "2.0", "id": 4, "error": {"code": -32603, "message": "internal error"}}
    assert error.http_status == 500


def test_the_exception_mapping_keeps_codes() -> None:
    assert error_from_exception(msgspec.ValidationError("Expected `int`")).code == -32602
    assert error_from_exception(msgspec.DecodeError("truncated")).code == -32700
    # A peer's error to one of our requests is not the answer to the request being served: -32603, naming it.
    remote = error_from_exception(RemoteError(-32042, "go to url", {"elicitations": []}))
    assert (remote.code, remote.message) == (-32603, "a request of ours was answered with an error: go to url (-32042)")
    assert remote.data == {"remoteError": {"code": -32042, "message": "go to url", "data": {"elicitations": []}}}
    same = InvalidParams("x")
    assert error_from_exception(same) is same


# ---------------------------------------------------------------------- MCP-specific codes


def test_legacy_resource_not_found_is_minus_32002_with_the_uri() -> None:
    reply = as_json(error_response(ResourceNotFound("resource not found: test://x", {"uri": "test://x"}), "r"))
    assert reply == {
        "jsonrpc": "2.0",
        "id": "r",
        "error": {"code": -32002, "message": "resource not found: test://x", "data": {"uri": "test://x"}},
    }
    assert ResourceNotFound.http_status == 404


def test_header_mismatch_is_minus_32020() -> None:
    error = HeaderMismatch("Mcp-Method header 'tools/list' does not match body method 'tools/call'")
    reply = as_json(error_response(error, 1))
    assert reply["error"]["code"] == -32020
    assert "'tools/call'" in reply["error"]["message"]
    assert error.http_status == 400


def test_url_elicitation_required_is_minus_32042_with_its_elicitations() -> None:
    data = {"elicitations": [{"mode": "url", "message": "log in", "url": "https://x", "elicitationId": "e"}]}
    error = McpError("authorization needed", data, code=ErrorCode.URL_ELICITATION_REQUIRED)
    assert as_json(error_response(error, 6))["error"] == {
        "code": -32042,
        "message": "authorization needed",
        "data": data,
    }


def test_missing_client_capability_is_minus_32021_with_required_capabilities_as_an_object() -> None:
    server_profile = profile(ServerCapabilities(extensions={TASKS_EXTENSION: {}}))
    request = Request(7, "tasks/get", {"taskId": "t", "_meta": GOOD_META})
    reply = modern_error(request, server_profile)
    assert reply["id"] == 7
    assert reply["error"]["code"] == -32021
    assert TASKS_EXTENSION in reply["error"]["message"]
    assert reply["error"]["data"] == {"requiredCapabilities": {"extensions": {TASKS_EXTENSION: {}}}}


def test_legacy_server_request_needing_an_undeclared_capability_raises_minus_32021_data() -> None:
    pair = Pair(client_capabilities=ClientCapabilities())
    pair.handshake()
    with pytest.raises(MissingClientCapability) as info:
        pair.server.send_request("elicitation/create", {"message": "?", "requestedSchema": {"type": "object"}})
    reply = as_json(error_response(info.value, 1))
    assert reply["error"]["code"] == -32021
    assert "'elicitation'" in reply["error"]["message"]
    assert reply["error"]["data"] == {"requiredCapabilities": {"elicitation": {}}}
    assert nested_capability("elicitation.url") == {"elicitation": {"url": {}}}


@pytest.mark.parametrize("requested", ["2025-11-25", "1999-01-01", 20260728])
def test_unsupported_modern_version_is_minus_32022_with_supported_and_requested(requested: object) -> None:
    meta = {V: requested, CAPS: {}}
    line = msgspec.json.encode({"jsonrpc": "2.0", "id": "v", "method": "tools/list", "params": {"_meta": meta}})
    reply = answer(ServerSession(profile()), line)
    assert reply["id"] == "v"
    assert reply["error"]["code"] == -32022
    assert repr(requested) in reply["error"]["message"]
    assert reply["error"]["data"] == {"supported": list(MODERN_VERSIONS), "requested": requested}
    with pytest.raises(UnsupportedProtocolVersion) as info:
        read_modern_meta(meta)
    assert info.value.http_status == 400


def test_legacy_initialize_with_an_unknown_version_is_not_an_error_but_the_latest() -> None:
    line = (
        b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":'
        b'{"protocolVersion":"1999-01-01","capabilities":{},"clientInfo":{"name":"c","version":"1"}}}'
    )
    reply = answer(ServerSession(profile()), line)
    assert reply["result"]["protocolVersion"] == LEGACY_VERSIONS[0]
