"""The method table lists every request and notification of both eras, with consistent metadata."""

from __future__ import annotations

import msgspec
import pytest

from mcp_trio.protocol import types
from mcp_trio.protocol.types import METHODS, MethodSpec

LEGACY_REQUESTS = {
    "initialize",
    "ping",
    "tools/list",
    "tools/call",
    "resources/list",
    "resources/templates/list",
    "resources/read",
    "resources/subscribe",
    "resources/unsubscribe",
    "prompts/list",
    "prompts/get",
    "completion/complete",
    "logging/setLevel",
    "sampling/createMessage",
    "elicitation/create",
    "roots/list",
    "tasks/get",
    "tasks/result",
    "tasks/list",
    "tasks/cancel",
}
LEGACY_NOTIFICATIONS = {
    "notifications/initialized",
    "notifications/cancelled",
    "notifications/progress",
    "notifications/message",
    "notifications/tools/list_changed",
    "notifications/prompts/list_changed",
    "notifications/resources/list_changed",
    "notifications/resources/updated",
    "notifications/roots/list_changed",
    "notifications/elicitation/complete",
    "notifications/tasks/status",
}
MODERN_REQUESTS = {
    "server/discover",
    "tools/list",
    "tools/call",
    "resources/list",
    "resources/templates/list",
    "resources/read",
    "prompts/list",
    "prompts/get",
    "completion/complete",
    "subscriptions/listen",
    "tasks/get",  # tasks extension
    "tasks/update",  # tasks extension
    "tasks/cancel",  # tasks extension
}
MODERN_NOTIFICATIONS = {
    "notifications/cancelled",
    "notifications/progress",
    "notifications/message",
    "notifications/tools/list_changed",
    "notifications/prompts/list_changed",
    "notifications/resources/list_changed",
    "notifications/resources/updated",
    "notifications/subscriptions/acknowledged",
    "notifications/tasks",  # tasks extension
}

SPECS = list(METHODS.values())


def names(era: types.Era, kind: types.MethodKind) -> set[str]:
    return {name for name, spec in types.methods_for_era(era).items() if spec.kind == kind}


def test_legacy_wire_methods_are_exactly_the_2024_11_05_to_2025_11_25_set() -> None:
    assert names("legacy", "request") == LEGACY_REQUESTS
    assert names("legacy", "notification") == LEGACY_NOTIFICATIONS


def test_modern_wire_methods_are_exactly_the_2026_07_28_set_plus_the_tasks_extension() -> None:
    assert names("modern", "request") == MODERN_REQUESTS
    assert names("modern", "notification") == MODERN_NOTIFICATIONS


def test_table_has_nothing_else() -> None:
    assert set(METHODS) == LEGACY_REQUESTS | LEGACY_NOTIFICATIONS | MODERN_REQUESTS | MODERN_NOTIFICATIONS
    assert all(name == spec.name for name, spec in METHODS.items())


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.name)
def test_spec_types_match_its_kind(spec: MethodSpec) -> None:
    assert spec.params is not None
    assert issubclass(spec.params, types.WireModel)
    if spec.kind == "notification":
        assert spec.name.startswith("notifications/")
        assert spec.result is None
        assert not spec.mrtr
        assert not spec.cacheable
    else:
        assert spec.result is not None
        assert issubclass(spec.result, types.Result)
    assert spec.eras
    assert spec.eras <= {"legacy", "modern"}


def test_only_tools_call_prompts_get_and_resources_read_may_answer_input_required() -> None:
    assert {spec.name for spec in SPECS if spec.mrtr} == {"tools/call", "prompts/get", "resources/read"}
    for spec in SPECS:
        if spec.mrtr:
            fields = {f.name for f in msgspec.structs.fields(spec.params)}  # type: ignore[arg-type]
            assert {"input_responses", "request_state"} <= fields


def test_cacheable_methods_carry_caching_hints() -> None:
    cacheable = {spec.name for spec in SPECS if spec.cacheable}
    assert cacheable == {
        "server/discover",
        "tools/list",
        "prompts/list",
        "resources/list",
        "resources/templates/list",
        "resources/read",
    }
    for name in cacheable:
        result = METHODS[name].result
        assert result is not None
        assert issubclass(result, types.CacheableResult)
        assert "modern" in METHODS[name].eras


def test_paginated_methods_take_a_cursor_and_return_a_next_cursor() -> None:
    for name in ("tools/list", "prompts/list", "resources/list", "resources/templates/list", "tasks/list"):
        spec = METHODS[name]
        assert spec.params is not None
        assert issubclass(spec.params, types.PaginatedParams)
        assert "next_cursor" in {f.name for f in msgspec.structs.fields(spec.result)}  # type: ignore[arg-type]


def test_server_to_client_requests_are_gated_by_client_capabilities() -> None:
    s2c = {
        spec.name: spec.client_capability
        for spec in SPECS
        if spec.kind == "request" and spec.direction == "server_to_client"
    }
    assert s2c == {
        "sampling/createMessage": "sampling",
        "elicitation/create": "elicitation",
        "roots/list": "roots",
    }
    assert set(s2c) == types.INPUT_REQUEST_METHODS


FULL_SERVER = types.ServerCapabilities(
    experimental={"x": {}},
    logging={},
    completions={},
    prompts=types.ListChangedCapability(list_changed=True),
    resources=types.ResourcesCapability(subscribe=True, list_changed=True),
    tools=types.ListChangedCapability(list_changed=True),
    tasks=types.TasksCapability(list_={}, cancel={}, requests={"tools": {"call": {}}}),
    extensions={types.TASKS_EXTENSION: {}},
)
FULL_CLIENT = types.ClientCapabilities(
    roots=types.ListChangedCapability(list_changed=True),
    sampling=types.SamplingCapability(context={}, tools={}),
    elicitation=types.ElicitationCapability(form={}, url={}),
    tasks=types.TasksCapability(list_={}, cancel={}, requests={"sampling": {"createMessage": {}}}),
    extensions={types.TASKS_EXTENSION: {}},
)


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.name)
@pytest.mark.parametrize("era", ["legacy", "modern"])
def test_every_capability_gate_is_a_real_wire_path(spec: MethodSpec, era: types.Era) -> None:
    if era not in spec.eras:
        return
    server_gate = spec.server_capability_for(era)
    client_gate = spec.client_capability_for(era)
    if server_gate is not None:
        assert types.capability_enabled(FULL_SERVER, server_gate), server_gate
        assert not types.capability_enabled(types.ServerCapabilities(), server_gate)
    if client_gate is not None:
        assert types.capability_enabled(FULL_CLIENT, client_gate), client_gate
        assert not types.capability_enabled(types.ClientCapabilities(), client_gate)


def test_tasks_methods_are_gated_per_era() -> None:
    get = METHODS["tasks/get"]
    assert get.server_capability is None  # differs by era: ask per era
    assert get.server_capability_for("legacy") == "tasks"
    assert get.server_capability_for("modern") == f"extensions.{types.TASKS_EXTENSION}"
    assert METHODS["tasks/cancel"].client_capability_for("legacy") == "tasks.cancel"
    assert METHODS["tasks/update"].client_capability_for("modern") == f"extensions.{types.TASKS_EXTENSION}"
    assert METHODS["tasks/update"].server_capability is None
    assert METHODS["notifications/tasks"].client_capability_for("modern") == f"extensions.{types.TASKS_EXTENSION}"
    assert METHODS["tools/list"].server_capability_for("modern") == "tools"


def test_decoders_are_built_once_and_decode_the_params() -> None:
    spec = METHODS["tools/call"]
    assert types.params_decoder(spec) is types.params_decoder(spec)
    assert types.result_decoder(spec) is types.result_decoder(spec)
    params = types.params_decoder(spec).decode(b'{"name":"echo","arguments":{"text":"hi"}}')
    assert params == types.CallToolParams(name="echo", arguments={"text": "hi"})
    with pytest.raises(msgspec.ValidationError, match=r"\$\.name"):
        types.params_decoder(spec).decode(b'{"name":1}')


def test_absent_params_decode_as_an_empty_object_where_nothing_is_required() -> None:
    for name in ("ping", "tools/list", "server/discover", "notifications/initialized", "roots/list"):
        assert types.params_decoder(METHODS[name]).decode(b"{}") == METHODS[name].params()  # type: ignore[misc]


def test_a_notification_has_no_result_decoder() -> None:
    with pytest.raises(ValueError, match="notification"):
        types.result_decoder(METHODS["notifications/progress"])


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        (b'{"content":[]}', "complete"),
        (b'{"resultType":"complete","content":[]}', "complete"),
        (b'{"resultType":"input_required","requestState":"s"}', "input_required"),
        (b'{"resultType":"task","taskId":"t"}', "task"),
    ],
)
def test_result_type_can_be_peeked_before_choosing_the_result_struct(wire: bytes, expected: str) -> None:
    assert types.peek_result_type(wire) == expected
