"""A ClientSession and a ServerSession back to back (h11's ConnectionPair), both eras, through real bytes."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from session_pair_helpers import (
    ALL_CLIENT_CAPS,
    CLIENT_INFO,
    MODERN_VERSION,
    SERVER_INFO,
    Pair,
    as_json,
    error_of,
    feed_server,
    profile,
)

from mcp_trio.protocol import (
    LATEST_LEGACY_VERSION,
    LEGACY_VERSIONS,
    Answered,
    CancelRequested,
    ClientSession,
    ErrorReceived,
    InvalidParams,
    LocalProtocolError,
    MissingClientCapability,
    Notification,
    NotificationReceived,
    Request,
    RequestReceived,
    Response,
    ResponseReceived,
    SessionInitialized,
    decode_message,
)
from mcp_trio.protocol.types import (
    TASKS_EXTENSION,
    CallToolParams,
    CallToolResult,
    ClientCapabilities,
    CreateMessageResult,
    CreateTaskResult,
    DiscoverResult,
    ElicitRequest,
    ElicitRequestParams,
    ElicitResult,
    EmptyResult,
    InitializeResult,
    InputRequiredResult,
    LegacyCreateTaskResult,
    ListChangedCapability,
    ListRootsResult,
    ListToolsResult,
    ProgressParams,
    ServerCapabilities,
    TasksCapability,
    TextContent,
    decode_input_response,
)

SAMPLING_PARAMS = {"messages": [{"role": "user", "content": {"type": "text", "text": "hi"}}], "maxTokens": 5}
SAMPLING_RESULT = {"role": "assistant", "content": {"type": "text", "text": "yo"}, "model": "m"}


def ready_pair(**kw: Any) -> Pair:
    pair = Pair(**kw)
    pair.handshake()
    return pair


# ---------------------------------------------------------------------- handshake and version negotiation


@pytest.mark.parametrize("version", LEGACY_VERSIONS)
def test_handshake_echoes_a_supported_version_and_both_sides_learn_each_other(version: str) -> None:
    pair = Pair(server_profile=profile(instructions="be nice"))
    request = pair.client.initialize(version=version)
    assert as_json(request)["params"]["protocolVersion"] == version
    answered = pair.to_server(request)
    assert isinstance(answered, Answered)
    assert as_json(answered.message)["result"]["protocolVersion"] == version
    event = pair.to_client(answered.message)
    assert isinstance(event, ResponseReceived)
    assert isinstance(event.result, InitializeResult)
    assert pair.client.version == version
    assert pair.client.server_info == SERVER_INFO
    assert pair.client.server_capabilities == profile().capabilities
    assert pair.client.instructions == "be nice"
    assert pair.server.client_info == CLIENT_INFO
    assert pair.server.client_capabilities == ALL_CLIENT_CAPS
    assert pair.to_server(pair.client.initialized()) == SessionInitialized()
    assert pair.client.outgoing is None


def test_an_unsupported_requested_version_gets_the_servers_latest_which_the_client_accepts() -> None:
    client = ClientSession(
        capabilities=ALL_CLIENT_CAPS, client_info=CLIENT_INFO, versions=("2099-01-01", *LEGACY_VERSIONS)
    )
    pair = Pair(client=client, server_profile=profile(legacy_versions=("2025-06-18", "2024-11-05")))
    event = pair.handshake(version="2099-01-01")
    assert event.result.protocol_version == "2025-06-18"
    assert pair.client.version == pair.server.version == "2025-06-18"


def test_the_client_refuses_a_version_it_does_not_know_and_the_session_is_then_unusable() -> None:
    pair = Pair(server_profile=profile(legacy_versions=("2030-01-01",)))
    answered = pair.to_server(pair.client.initialize())
    assert isinstance(answered, Answered)
    event = pair.to_client(answered.message)
    assert isinstance(event, ErrorReceived)
    assert event.method == "initialize"
    error = error_of(event)
    assert error["code"] == -32602
    assert "'2030-01-01'" in error["message"]
    assert error["data"] == {"supported": list(LEGACY_VERSIONS), "requested": "2030-01-01"}
    with pytest.raises(LocalProtocolError, match="closed"):
        pair.client.send_request("ping")
    with pytest.raises(LocalProtocolError, match="closed"):
        pair.client.initialized()
    with pytest.raises(LocalProtocolError, match="closed"):
        pair.client.receive(Response(5, {}))


def test_a_client_limited_to_older_versions_refuses_a_newer_choice() -> None:
    client = ClientSession(capabilities=ALL_CLIENT_CAPS, client_info=CLIENT_INFO, versions=("2024-11-05",))
    pair = Pair(client=client, server_profile=profile(legacy_versions=("2025-06-18",)))
    answered = pair.to_server(pair.client.initialize(version="2024-11-05"))
    assert isinstance(answered, Answered)
    event = pair.to_client(answered.message)
    assert error_of(event)["data"] == {"supported": ["2024-11-05"], "requested": "2025-06-18"}
    assert pair.client.closed_reason is not None


def test_an_error_answer_to_initialize_closes_the_client_session() -> None:
    pair = Pair()
    request = pair.client.initialize()
    reply = decode_message(b'{"jsonrpc":"2.0","id":%d,"error":{"code":-32602,"message":"no"}}' % request.id)
    assert not isinstance(reply, list)
    event = pair.client.receive(reply)
    assert isinstance(event, ErrorReceived)
    assert pair.client.phase == 4
    with pytest.raises(LocalProtocolError):
        pair.client.send_request("ping")


def test_only_ping_may_precede_the_initialize_response_and_initialized() -> None:
    pair = Pair()
    with pytest.raises(LocalProtocolError, match="before the session is initialized"):
        pair.client.send_request("tools/list")
    ping = pair.call("ping")
    assert isinstance(ping, ResponseReceived)
    assert isinstance(ping.result, EmptyResult)
    answered = pair.to_server(pair.client.initialize())
    with pytest.raises(LocalProtocolError):
        pair.client.send_request("tools/list")
    with pytest.raises(LocalProtocolError, match="already sent"):
        pair.client.initialize()
    with pytest.raises(LocalProtocolError, match="only after"):
        pair.client.initialized()
    assert isinstance(answered, Answered)
    pair.to_client(answered.message)
    with pytest.raises(LocalProtocolError):
        pair.client.send_request("tools/list")
    pair.to_server(pair.client.initialized())
    with pytest.raises(LocalProtocolError, match="only after"):
        pair.client.initialized()
    assert isinstance(pair.call("tools/list"), RequestReceived)


def test_the_server_refuses_requests_before_initialize() -> None:
    pair = Pair()
    event = pair.to_server(Request(1, "tools/list"))
    error = error_of(event)
    assert error["code"] == -32600
    assert "initialize" in error["message"]


def test_initialize_cannot_be_sent_through_send_request_nor_on_the_modern_wire() -> None:
    with pytest.raises(LocalProtocolError, match="initialize"):
        Pair().client.send_request("initialize", {})
    with pytest.raises(LocalProtocolError, match="modern wire has no initialize"):
        Pair(modern=True).client.initialize()


# ---------------------------------------------------------------------- capability gating


def test_the_client_refuses_methods_the_server_did_not_declare() -> None:
    pair = ready_pair(server_profile=profile(ServerCapabilities(tools=ListChangedCapability())))
    with pytest.raises(LocalProtocolError, match="'prompts'"):
        pair.client.send_request("prompts/list")
    with pytest.raises(LocalProtocolError, match="'logging'"):
        pair.client.send_request("logging/setLevel", {"level": "info"})
    with pytest.raises(LocalProtocolError, match="not a client-to-server"):
        pair.client.send_request("sampling/createMessage", SAMPLING_PARAMS)
    with pytest.raises(LocalProtocolError, match="not part of the legacy wire"):
        pair.client.send_request("server/discover")
    assert isinstance(pair.call("tools/list"), RequestReceived)


def test_the_server_answers_minus_32601_for_undeclared_capabilities_either_way() -> None:
    pair = ready_pair(server_profile=profile(ServerCapabilities(tools=ListChangedCapability())))
    error = error_of(pair.to_server(Request(9, "prompts/list")))
    assert error["code"] == -32601
    assert "prompts" in error["message"]


def test_server_requests_are_gated_by_the_clients_declared_capabilities() -> None:
    pair = ready_pair(client_capabilities=ClientCapabilities(roots=ListChangedCapability()))
    with pytest.raises(MissingClientCapability) as info:
        pair.server.send_request("sampling/createMessage", SAMPLING_PARAMS)
    assert info.value.data == {"requiredCapabilities": {"sampling": {}}}
    # A server that ignores the rule gets -32601 from the client session itself.
    event = pair.to_client(Request(77, "sampling/createMessage", SAMPLING_PARAMS))
    error = error_of(event)
    assert (error["code"], as_json(event.message)["id"]) == (-32601, 77)  # type: ignore[union-attr]
    assert "sampling" in error["message"]
    roots = pair.server_call("roots/list")
    assert isinstance(roots, RequestReceived)
    assert roots.method == "roots/list"
    back = pair.client_answer(roots, ListRootsResult(roots=[]))
    assert isinstance(back, ResponseReceived)
    assert isinstance(back.result, ListRootsResult)


def test_client_notifications_are_gated_by_its_own_capabilities() -> None:
    pair = ready_pair(client_capabilities=ClientCapabilities())
    with pytest.raises(LocalProtocolError, match=r"roots\.listChanged"):
        pair.client.notify("notifications/roots/list_changed")
    pair = ready_pair()
    event = pair.to_server(pair.client.notify("notifications/roots/list_changed"))
    assert isinstance(event, NotificationReceived)


# ---------------------------------------------------------------------- correlation


def test_responses_in_any_order_are_correlated_by_id_in_both_directions() -> None:
    pair = ready_pair()
    tools = pair.call("tools/list")
    prompts = pair.call("prompts/list")
    call = pair.call("tools/call", CallToolParams(name="echo", arguments={"x": 1}))
    assert isinstance(tools, RequestReceived)
    assert isinstance(prompts, RequestReceived)
    assert isinstance(call, RequestReceived)
    assert len({tools.id, prompts.id, call.id}) == 3
    assert call.params == CallToolParams(name="echo", arguments={"x": 1})
    got = pair.answer(call, CallToolResult(content=[TextContent(text="1")]))
    assert isinstance(got, ResponseReceived)
    assert (got.id, got.method, type(got.result)) == (call.id, "tools/call", CallToolResult)
    got = pair.answer(tools, ListToolsResult(tools=[]))
    assert isinstance(got, ResponseReceived)
    assert (got.id, got.method, type(got.result)) == (tools.id, "tools/list", ListToolsResult)
    response = pair.server.respond_error(prompts.id, InvalidParams("nope"))
    assert response is not None
    got = pair.to_client(response)
    assert isinstance(got, ErrorReceived)
    assert (got.id, got.method, got.error.code) == (prompts.id, "prompts/list", -32602)
    assert pair.client.outgoing is None
    assert pair.server.incoming is None
    # Server to client, answered in reverse order.
    roots = pair.server_call("roots/list")
    sampling = pair.server_call("sampling/createMessage", SAMPLING_PARAMS)
    assert isinstance(roots, RequestReceived)
    assert isinstance(sampling, RequestReceived)
    back = pair.client_answer(sampling, SAMPLING_RESULT)
    assert isinstance(back, ResponseReceived)
    assert (back.id, back.method, type(back.result)) == (sampling.id, "sampling/createMessage", CreateMessageResult)
    back = pair.client_answer(roots, {"roots": []})
    assert isinstance(back, ResponseReceived)
    assert back.id == roots.id
    assert pair.server.outgoing is None
    assert pair.client.incoming is None
    with pytest.raises(LocalProtocolError, match="answered twice"):
        pair.client.respond(roots.id, {"roots": []})


def test_a_result_that_does_not_fit_the_method_is_an_error_event() -> None:
    pair = ready_pair()
    tools = pair.call("tools/list")
    assert isinstance(tools, RequestReceived)
    got = pair.answer(tools, {"tools": 5})
    assert isinstance(got, ErrorReceived)
    assert got.error.code == -32602
    assert "tools/list" in got.error.message


def test_unknown_and_late_responses_are_ignored() -> None:
    pair = ready_pair()
    assert pair.to_client(Response(999, {})) is None
    orphan = decode_message(b'{"jsonrpc":"2.0","id":null,"error":{"code":-1,"message":"x"}}')
    assert not isinstance(orphan, list)
    assert pair.client.receive(orphan) is None


def test_a_legacy_task_augmented_request_decodes_the_task_answer() -> None:
    pair = ready_pair(
        server_profile=profile(
            ServerCapabilities(tools=ListChangedCapability(), tasks=TasksCapability(requests={"tools": {"call": {}}}))
        )
    )
    call = pair.call("tools/call", {"name": "slow", "task": {"ttl": 1000}})
    assert isinstance(call, RequestReceived)
    task = {
        "taskId": "t1",
        "status": "working",
        "createdAt": "2025-01-01T00:00:00Z",
        "lastUpdatedAt": "2025-01-01T00:00:00Z",
    }
    got = pair.answer(call, {"task": task})
    assert isinstance(got, ResponseReceived)
    assert isinstance(got.result, LegacyCreateTaskResult)
    assert got.result.task.task_id == "t1"


# ---------------------------------------------------------------------- cancellation


def test_the_client_cancels_and_the_server_stays_silent() -> None:
    pair = ready_pair()
    call = pair.call("tools/call", {"name": "slow"})
    assert isinstance(call, RequestReceived)
    notification = pair.client.cancel(call.id, "user gave up")
    assert notification is not None
    assert as_json(notification)["params"] == {"requestId": call.id, "reason": "user gave up"}
    assert pair.to_server(notification) == CancelRequested(call.id, "user gave up")
    assert pair.to_server(notification) is None  # a repeated cancel changes nothing
    assert pair.server.respond(call.id, {"content": []}) is None
    assert pair.server.incoming is None
    assert pair.client.outgoing is None
    assert pair.client.cancel(call.id) is None  # already gone
    assert pair.to_client(Response(call.id, {"content": []})) is None  # a late answer is ignored


def test_initialize_can_never_be_cancelled() -> None:
    pair = Pair()
    request = pair.client.initialize()
    with pytest.raises(LocalProtocolError, match="initialize"):
        pair.client.cancel(request.id)


def test_the_server_cancels_its_request_and_the_client_stays_silent() -> None:
    pair = ready_pair()
    sampling = pair.server_call("sampling/createMessage", SAMPLING_PARAMS)
    assert isinstance(sampling, RequestReceived)
    notification = pair.server.forget_request(sampling.id, "timeout")
    assert notification is not None
    assert pair.to_client(notification) == CancelRequested(sampling.id, "timeout")
    assert pair.client.respond(sampling.id, SAMPLING_RESULT) is None
    assert pair.client.incoming is None
    assert pair.server.outgoing is None
    assert pair.to_server(Response(sampling.id, SAMPLING_RESULT)) is None


def test_a_cancel_for_an_unknown_request_is_ignored() -> None:
    pair = ready_pair()
    assert pair.to_client(Notification("notifications/cancelled", {"requestId": 42})) is None
    assert pair.to_server(Notification("notifications/cancelled", {"requestId": 42})) is None


# ---------------------------------------------------------------------- progress


def test_progress_flows_for_requests_that_asked_and_must_increase() -> None:
    pair = ready_pair()
    call = pair.call("tools/call", {"name": "slow"}, progress_token="tok")
    assert isinstance(call, RequestReceived)
    assert call.progress_token == "tok"
    first = pair.server.progress(call.id, 1, total=3, message="one")
    assert first is not None
    event = pair.to_client(first)
    assert isinstance(event, NotificationReceived)
    assert event.params == ProgressParams(progress_token="tok", progress=1, total=3, message="one")
    with pytest.raises(LocalProtocolError, match="increase"):
        pair.server.progress(call.id, 1)
    # A server that breaks the rule: the client ignores it and counts it.
    assert pair.to_client(Notification("notifications/progress", {"progressToken": "tok", "progress": 0.5})) is None
    assert pair.client.progress_violations == 1
    second = pair.server.progress(call.id, 2)
    assert second is not None
    assert isinstance(pair.to_client(second), NotificationReceived)
    pair.answer(call, {"content": []})
    assert pair.client.progress_tokens is None
    assert pair.to_client(Notification("notifications/progress", {"progressToken": "tok", "progress": 9})) is None
    pair.client.send_request("tools/list", progress_token="t2")
    with pytest.raises(LocalProtocolError, match="already used"):
        pair.client.send_request("tools/list", progress_token="t2")


def test_no_progress_is_sent_for_a_request_without_a_token() -> None:
    pair = ready_pair()
    call = pair.call("tools/call", {"name": "x"})
    assert isinstance(call, RequestReceived)
    assert pair.server.progress(call.id, 1) is None
    assert pair.to_client(Notification("notifications/progress", {"progressToken": 1, "progress": 1})) is None


def test_the_client_reports_progress_on_a_server_request_that_asked() -> None:
    pair = ready_pair()
    params = {**SAMPLING_PARAMS, "_meta": {"progressToken": 7}}
    sampling = pair.server_call("sampling/createMessage", params)
    assert isinstance(sampling, RequestReceived)
    notification = pair.client.progress(sampling.id, 0.5)
    assert notification is not None
    event = pair.to_server(notification)
    assert isinstance(event, NotificationReceived)
    assert event.params.progress_token == 7
    with pytest.raises(LocalProtocolError):
        pair.client.progress(sampling.id, 0.5)


# ---------------------------------------------------------------------- logging


def test_legacy_log_level_gates_server_logging() -> None:
    pair = ready_pair()
    assert pair.server.log_enabled("info")
    assert not pair.server.log_enabled("debug")
    got = pair.call("logging/setLevel", {"level": "error"})
    assert isinstance(got, ResponseReceived)
    assert not pair.server.log_enabled("warning")
    assert pair.server.log_enabled("critical")
    bad = pair.call("logging/setLevel", {"level": "loud"})
    assert isinstance(bad, ErrorReceived)
    assert bad.error.code == -32602
    event = pair.to_client(pair.server.notify("notifications/message", {"level": "error", "data": "x"}))
    assert isinstance(event, NotificationReceived)
    assert event.params.level == "error"


def test_a_server_without_logging_cannot_log() -> None:
    pair = ready_pair(server_profile=profile(ServerCapabilities(tools=ListChangedCapability())))
    with pytest.raises(LocalProtocolError, match="logging"):
        pair.server.notify("notifications/message", {"level": "error", "data": "x"})


@pytest.mark.parametrize(("level", "admitted", "refused"), [("warning", "error", "info"), (None, None, "emergency")])
def test_modern_log_level_is_per_request(level: str | None, admitted: str | None, refused: str) -> None:
    pair = Pair(modern=True, log_level=level)
    call = pair.call("tools/list")
    assert isinstance(call, RequestReceived)
    assert call.meta is not None
    assert call.meta.log_level == level
    if admitted is not None:
        assert pair.server.log_enabled(admitted, call.id)
    assert not pair.server.log_enabled(refused, call.id)
    assert not pair.server.log_enabled("emergency")  # no request: nothing on the modern wire


# ---------------------------------------------------------------------- lifecycle rules for the server


def test_the_server_sends_only_ping_and_logs_before_initialized() -> None:
    pair = Pair()
    answered = pair.to_server(pair.client.initialize())
    assert isinstance(answered, Answered)
    pair.to_client(answered.message)
    with pytest.raises(LocalProtocolError, match="initialized"):
        pair.server.send_request("roots/list")
    with pytest.raises(LocalProtocolError, match="initialized"):
        pair.server.notify("notifications/tools/list_changed")
    assert isinstance(
        pair.to_client(pair.server.notify("notifications/message", {"level": "info", "data": 1})), NotificationReceived
    )
    ping = pair.server_call("ping")  # the client answers ping by itself, even now
    assert isinstance(ping, ResponseReceived)
    assert ping.method == "ping"
    # A server that breaks the rule is refused by the client.
    error = error_of(pair.to_client(Request(50, "roots/list")))
    assert error["code"] == -32600
    assert "initialized" in error["message"]
    pair.to_server(pair.client.initialized())
    assert isinstance(pair.server_call("roots/list"), RequestReceived)


def test_a_fresh_server_sends_nothing_but_ping_after_initialize() -> None:
    pair = Pair()
    with pytest.raises(LocalProtocolError):
        pair.server.send_request("ping")  # no session yet
    with pytest.raises(LocalProtocolError):
        pair.server.notify("notifications/tools/list_changed")


def test_a_closed_server_session_sends_nothing() -> None:
    pair = ready_pair()
    pair.server.close()
    with pytest.raises(LocalProtocolError, match="closed"):
        pair.server.send_request("ping")
    with pytest.raises(LocalProtocolError, match="closed"):
        pair.server.notify("notifications/message", {"level": "info", "data": 1})
    assert pair.server.outgoing is None


# ---------------------------------------------------------------------- the modern wire


def test_modern_requests_carry_meta_and_need_no_handshake() -> None:
    pair = Pair(modern=True)
    request = pair.client.send_request("tools/call", CallToolParams(name="echo"), progress_token=3)
    meta = as_json(request)["params"]["_meta"]
    assert meta == {
        "io.modelcontextprotocol/protocolVersion": MODERN_VERSION,
        "io.modelcontextprotocol/clientCapabilities": msgspec.to_builtins(ALL_CLIENT_CAPS),
        "io.modelcontextprotocol/clientInfo": {"name": "test-client", "version": "2.0"},
        "progressToken": 3,
    }
    event = pair.to_server(request)
    assert isinstance(event, RequestReceived)
    assert (event.era, event.version, event.progress_token) == ("modern", MODERN_VERSION, 3)
    assert event.meta is not None
    assert event.meta.client_info == CLIENT_INFO
    got = pair.answer(event, CallToolResult(content=[], result_type="complete"))
    assert isinstance(got, ResponseReceived)
    assert isinstance(got.result, CallToolResult)
    assert pair.server.incoming is None
    assert pair.server.phase == 0  # no session state


def test_modern_client_refuses_legacy_only_methods_and_server_requests() -> None:
    pair = Pair(modern=True)
    for method in ("ping", "logging/setLevel", "resources/subscribe"):
        with pytest.raises(LocalProtocolError, match="not part of the modern wire"):
            pair.client.send_request(method, {})
    error = error_of(pair.to_client(Request(5, "roots/list")))
    assert error["code"] == -32601


@pytest.mark.parametrize(
    "method", ["ping", "logging/setLevel", "resources/subscribe", "resources/unsubscribe", "initialize"]
)
def test_modern_server_answers_minus_32601_for_removed_methods(method: str) -> None:
    pair = Pair(modern=True)
    meta = pair.client._modern_meta()
    error = error_of(pair.to_server(Request(3, method, {"_meta": meta})))
    assert error["code"] == -32601
    assert method in error["message"]


def test_server_discover_teaches_the_modern_client_the_server_capabilities() -> None:
    pair = Pair(modern=True)
    discover = pair.call("server/discover")
    assert isinstance(discover, RequestReceived)
    result = DiscoverResult(
        supported_versions=[MODERN_VERSION],
        capabilities=ServerCapabilities(tools=ListChangedCapability()),
        instructions="hi",
        result_type="complete",
        meta={"io.modelcontextprotocol/serverInfo": {"name": "test-server", "version": "1.0"}},
    )
    got = pair.answer(discover, result)
    assert isinstance(got, ResponseReceived)
    assert pair.client.server_capabilities == ServerCapabilities(tools=ListChangedCapability())
    assert (pair.client.server_info, pair.client.instructions) == (SERVER_INFO, "hi")
    with pytest.raises(LocalProtocolError, match="'prompts'"):
        pair.client.send_request("prompts/list")
    assert isinstance(pair.call("tools/list"), RequestReceived)


def test_modern_task_results_need_the_tasks_extension() -> None:
    task = {
        "resultType": "task",
        "taskId": "t",
        "status": "working",
        "createdAt": "2026-01-01T00:00:00Z",
        "lastUpdatedAt": "2026-01-01T00:00:00Z",
    }
    caps = ClientCapabilities(extensions={TASKS_EXTENSION: {}})
    pair = Pair(modern=True, client_capabilities=caps)
    call = pair.call("tools/call", {"name": "slow"})
    assert isinstance(call, RequestReceived)
    got = pair.answer(call, task)
    assert isinstance(got, ResponseReceived)
    assert isinstance(got.result, CreateTaskResult)
    pair = Pair(modern=True)
    call = pair.call("tools/call", {"name": "slow"})
    assert isinstance(call, RequestReceived)
    got = pair.answer(call, task)
    assert isinstance(got, ErrorReceived)
    assert "task" in got.error.message


@pytest.mark.parametrize(
    ("result", "detail"),
    [
        ({"resultType": "surprise"}, "unknown resultType 'surprise'"),
        ({"resultType": "input_required"}, "inputRequests or state"),
        ([1, 2], "invalid result"),
    ],
)
def test_modern_results_with_a_bad_result_type_are_error_events(result: object, detail: str) -> None:
    pair = Pair(modern=True)
    call = pair.call("tools/call", {"name": "x"})
    assert isinstance(call, RequestReceived)
    got = pair.answer(call, result)
    assert isinstance(got, ErrorReceived)
    assert detail in got.error.message


def test_input_required_is_refused_for_methods_without_mrtr() -> None:
    pair = Pair(modern=True)
    call = pair.call("tools/list")
    assert isinstance(call, RequestReceived)
    got = pair.answer(call, {"resultType": "input_required", "requestState": "s"})
    assert isinstance(got, ErrorReceived)
    assert "input_required" in got.error.message


# ---------------------------------------------------------------------- MRTR


def _ask(pair: Pair, request: Request | RequestReceived, state: str | None) -> InputRequiredResult:
    event = pair.to_server(request) if isinstance(request, Request) else request
    asks = {"confirm": ElicitRequest(params=ElicitRequestParams(message="sure?", requested_schema={"type": "object"}))}
    kw = {"request_state": state} if state is not None else {}
    got = pair.answer(event, InputRequiredResult(result_type="input_required", input_requests=asks, **kw))  # type: ignore[arg-type]
    assert isinstance(got, ResponseReceived)
    assert isinstance(got.result, InputRequiredResult)
    return got.result


def test_an_input_required_answer_is_retried_with_a_new_id_the_responses_and_the_echoed_state() -> None:
    pair = Pair(modern=True)
    original = pair.client.send_request("tools/call", CallToolParams(name="deploy", arguments={"env": "prod"}))
    result = _ask(pair, original, "sealed-state")
    assert isinstance(result.input_requests, dict)
    retry = pair.client.retry_with_inputs(
        original, {"confirm": ElicitResult(action="accept", content={"ok": True})}, result.request_state
    )
    assert retry.id != original.id
    params = as_json(retry)["params"]
    assert params["name"] == "deploy"
    assert params["arguments"] == {"env": "prod"}
    assert params["requestState"] == "sealed-state"
    assert params["inputResponses"] == {"confirm": {"action": "accept", "content": {"ok": True}}}
    assert params["_meta"]["io.modelcontextprotocol/protocolVersion"] == MODERN_VERSION
    event = pair.to_server(retry)
    assert isinstance(event, RequestReceived)
    raw = event.params.input_responses["confirm"]
    assert decode_input_response(result.input_requests["confirm"], raw) == ElicitResult(
        action="accept", content={"ok": True}
    )
    # A second round without state drops the earlier one.
    again = _ask(pair, event, None)
    assert again.request_state is msgspec.UNSET
    third = pair.client.retry_with_inputs(retry, {"confirm": {"action": "decline"}}, again.request_state)
    assert "requestState" not in as_json(third)["params"]
    assert as_json(third)["params"]["inputResponses"] == {"confirm": {"action": "decline"}}


def test_a_dict_params_request_is_retried_too_and_omits_absent_state() -> None:
    pair = Pair(modern=True)
    original = pair.client.send_request("prompts/get", {"name": "p"})
    retry = pair.client.retry_with_inputs(original, {"k": msgspec.Raw(b'{"roots":[]}')})
    params = as_json(retry)["params"]
    assert params["inputResponses"] == {"k": {"roots": []}}
    assert "requestState" not in params
    assert params["name"] == "p"


def test_retry_is_refused_where_mrtr_does_not_exist() -> None:
    with pytest.raises(LocalProtocolError):
        Pair(modern=True).client.retry_with_inputs(Request(1, "tools/list", {}), {})
    legacy = ready_pair()
    with pytest.raises(LocalProtocolError):
        legacy.client.retry_with_inputs(Request(1, "tools/call", {"name": "x"}), {})


# ---------------------------------------------------------------------- batches


BATCH = b'[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":2,"method":"tools/list"},7]'


def test_batches_are_accepted_after_negotiating_2025_03_26() -> None:
    pair = Pair()
    pair.handshake(version="2025-03-26")
    assert pair.server.batches_allowed
    assert pair.client.batches_allowed
    replies, events = feed_server(pair.server, BATCH)
    assert replies[0] == {"jsonrpc": "2.0", "id": 1, "result": {}}
    assert replies[1]["error"]["code"] == -32600
    assert replies[1]["id"] is None
    assert len(events) == 1
    assert isinstance(events[0], RequestReceived)
    assert events[0].method == "tools/list"


@pytest.mark.parametrize("version", [v for v in LEGACY_VERSIONS if v != "2025-03-26"] + [None, MODERN_VERSION])
def test_batches_are_rejected_everywhere_else(version: str | None) -> None:
    pair = Pair(modern=version == MODERN_VERSION)
    if version is not None and version != MODERN_VERSION:
        pair.handshake(version=version)
    assert not pair.server.batches_allowed
    replies, events = feed_server(pair.server, BATCH)
    assert events == []
    assert len(replies) == 1
    assert replies[0]["id"] is None
    assert replies[0]["error"]["code"] == -32600
    assert "2025-03-26" in replies[0]["error"]["message"]


def test_the_session_version_is_latest_legacy_by_default() -> None:
    pair = Pair()
    pair.handshake()
    assert pair.client.version == pair.server.version == LATEST_LEGACY_VERSION
