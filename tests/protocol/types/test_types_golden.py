"""Real wire JSON from the specification decodes into our structs and re-encodes exactly.

``golden/2026-07-28.json``: every example shipped with the 2026-07-28 schema (JSON-RPC envelopes reduced to
their ``params``/``result``/``error``). ``golden/2025-11-25.json``: examples from the 2025-11-25 documents
(lifecycle, experimental tasks, URL elicitation, SEP-1330 enums, SEP-1034 defaults, tools in sampling).
``golden/ext-tasks.json``: examples from the tasks extension (``modelcontextprotocol/ext-tasks``).
Each case names its source. "Exactly" means same keys, same values and same JSON types (``18`` stays an
integer, ``false`` stays present, ``null`` stays ``null``).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from mcp_trio.protocol import types
from mcp_trio.protocol.types import UNSET

GOLDEN = Path(__file__).parent / "golden"

TARGETS: dict[str, Any] = {
    "InputRequests": dict[str, types.InputRequest],
    "InputResponses": dict[str, msgspec.Raw],
    "ContentBlock": types.ContentBlock,
    "SamplingContentBlock": types.SamplingContentBlock,
    "InputRequest": types.InputRequest,
    "PrimitiveSchemaDefinition": types.PrimitiveSchemaDefinition,
}


def load_cases() -> list[Any]:
    cases = []
    for path in sorted(GOLDEN.glob("*.json")):
        for case in json.loads(path.read_text(encoding="utf-8")):
            source = case["source"]
            cases.append(pytest.param(case["type"], source, case["wire"], id=f"{path.stem}:{source.split()[-1]}"))
    return cases


CASES = load_cases()


def target(name: str) -> Any:
    return TARGETS.get(name) or getattr(types, name)


def assert_same_json(actual: Any, expected: Any, path: str = "$") -> None:
    assert type(actual) is type(expected), f"{path}: {type(actual).__name__} != {type(expected).__name__}"
    if isinstance(expected, dict):
        assert actual.keys() == expected.keys(), f"{path}: keys {sorted(actual)} != {sorted(expected)}"
        for key, value in expected.items():
            assert_same_json(actual[key], value, f"{path}.{key}")
    elif isinstance(expected, list):
        assert len(actual) == len(expected), f"{path}: length"
        for index, (a, e) in enumerate(zip(actual, expected, strict=True)):
            assert_same_json(a, e, f"{path}[{index}]")
    else:
        assert actual == expected, f"{path}: {actual!r} != {expected!r}"


def reencode(kind: Any, wire: Any) -> Any:
    decoded = msgspec.json.decode(json.dumps(wire).encode(), type=kind)
    return decoded, json.loads(msgspec.json.encode(decoded))


def decode(kind: Any, wire: Any) -> Any:
    return msgspec.json.decode(json.dumps(wire).encode(), type=kind)


def golden(source_suffix: str) -> Any:
    for path in GOLDEN.glob("*.json"):
        for case in json.loads(path.read_text(encoding="utf-8")):
            if case["source"].endswith(source_suffix):
                return case["wire"]
    raise LookupError(source_suffix)


def test_golden_sets_cover_both_eras_and_the_tasks_extension() -> None:
    assert {p.stem for p in GOLDEN.glob("*.json")} == {"2025-11-25", "2026-07-28", "ext-tasks"}
    assert len(CASES) > 150


# Documentation examples that contradict schema.ts: the extra key is dropped (unknown fields are ignored).
KNOWN_DIVERGENCES = {
    # docs/specification/2025-11-25/server/tools.mdx puts `annotations` inside the embedded resource contents;
    # the schema (and the 2026-07-28 example) puts it on the EmbeddedResource block.
    "2025-11-25 (tools-content-10)": ("resource", "annotations"),
}


@pytest.mark.parametrize(("type_name", "source", "wire"), CASES)
def test_spec_example_reencodes_exactly(type_name: str, source: str, wire: Any) -> None:
    _, again = reencode(target(type_name), wire)
    expected = copy.deepcopy(wire)
    for suffix, (outer, key) in KNOWN_DIVERGENCES.items():
        if source.endswith(suffix):
            del expected[outer][key]
    assert_same_json(again, expected)


def test_tool_call_result_keeps_mixed_content_and_structured_content() -> None:
    wire = {
        "resultType": "complete",
        "content": [
            {"type": "text", "text": "two users"},
            {"type": "image", "data": "iVBORw0KGgo=", "mimeType": "image/png", "annotations": {"priority": 1}},
            {"type": "audio", "data": "UklGRg==", "mimeType": "audio/wav"},
            {"type": "resource_link", "uri": "file:///a.txt", "name": "a.txt", "size": 3},
            {"type": "resource", "resource": {"uri": "file:///b.bin", "blob": "AAE="}, "_meta": {"x.y/z": 1}},
        ],
        "structuredContent": [{"id": "1"}, {"id": "2"}],
        "isError": False,
    }
    result, again = reencode(types.CallToolResult, wire)
    assert_same_json(again, wire)
    kinds = [type(block) for block in result.content]
    assert kinds == [
        types.TextContent,
        types.ImageContent,
        types.AudioContent,
        types.ResourceLink,
        types.EmbeddedResource,
    ]
    assert result.content[4].resource.is_blob
    assert result.is_error is False
    assert result.structured_content == [{"id": "1"}, {"id": "2"}]


def test_structured_content_null_is_kept_and_absent_stays_absent() -> None:
    _, with_null = reencode(types.CallToolResult, {"content": [], "structuredContent": None})
    assert with_null == {"content": [], "structuredContent": None}
    result, without = reencode(types.CallToolResult, {"content": []})
    assert without == {"content": []}
    assert result.structured_content is UNSET
    assert result.result_type is UNSET  # legacy results carry no resultType


def test_explicit_schema_dialect_and_any_keyword_survive() -> None:
    tool, _ = reencode(types.Tool, golden("Tool/with-explicit-draft-07-input-schema.json"))
    assert tool.input_schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    wire = {
        "name": "t",
        "inputSchema": {
            "type": "object",
            "$defs": {"p": {"type": "integer"}},
            "properties": {"a": {"$ref": "#/$defs/p"}},
        },
        "outputSchema": {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "array",
            "prefixItems": [],
        },
    }
    _, again = reencode(types.Tool, wire)
    assert_same_json(again, wire)


def test_elicitation_form_schema_converts_to_typed_primitives() -> None:
    params = decode(types.ElicitRequestParams, golden("ElicitRequestFormParams/elicit-multiple-fields.json"))
    assert not params.is_url_mode
    schema = params.typed_schema()
    assert schema.required == ["name", "email"]
    assert isinstance(schema.properties["email"], types.StringSchema)
    assert schema.properties["email"].format == "email"
    age = schema.properties["age"]
    assert isinstance(age, types.NumberSchema)
    assert age.minimum == 18
    assert type(age.minimum) is int
    assert_same_json(json.loads(msgspec.json.encode(schema)), params.requested_schema)


def test_sep_1330_enums_and_sep_1034_defaults_decode_by_type() -> None:
    titled = decode(
        types.PrimitiveSchemaDefinition, golden("TitledSingleSelectEnumSchema/titled-color-select-schema.json")
    )
    assert isinstance(titled, types.StringSchema)
    assert titled.allowed_values() == ["#FF0000", "#00FF00", "#0000FF"]
    assert titled.default == "#FF0000"
    multi = decode(
        types.PrimitiveSchemaDefinition,
        golden("TitledMultiSelectEnumSchema/titled-color-multi-select-schema.json"),
    )
    assert isinstance(multi, types.MultiSelectEnumSchema)
    assert multi.allowed_values() == ["#FF0000", "#00FF00", "#0000FF"]
    assert multi.default == ["#FF0000", "#00FF00"]
    untitled = decode(
        types.PrimitiveSchemaDefinition, golden("UntitledMultiSelectEnumSchema/color-multi-select-schema.json")
    )
    assert isinstance(untitled, types.MultiSelectEnumSchema)
    assert untitled.allowed_values() == ["Red", "Green", "Blue"]
    boolean = decode(types.PrimitiveSchemaDefinition, golden("BooleanSchema/boolean-input-schema.json"))
    assert isinstance(boolean, types.BooleanSchema)
    assert boolean.default is False
    integer = decode(types.PrimitiveSchemaDefinition, {"type": "integer", "minimum": 1, "default": 3})
    assert isinstance(integer, types.IntegerSchema)
    legacy = decode(types.PrimitiveSchemaDefinition, {"type": "string", "enum": ["a", "b"], "enumNames": ["A", "B"]})
    assert isinstance(legacy, types.StringSchema)
    assert legacy.enum_names == ["A", "B"]


def test_input_required_result_carries_typed_requests_and_decodes_responses() -> None:
    result = decode(
        types.InputRequiredResult,
        golden("input-required-result-with-elicitation-and-sampling-and-request-state.json"),
    )
    assert result.result_type == "input_required"
    assert result.request_state == "eyJsb2NhdGlvbiI6Ik5ldyBZb3JrIn0"
    assert isinstance(result.input_requests, dict)
    elicit = result.input_requests["github_login"]
    sample = result.input_requests["capital_of_france"]
    assert isinstance(elicit, types.ElicitRequest)
    assert isinstance(sample, types.CreateMessageRequest)
    assert elicit.params.mode is UNSET  # form mode, implied
    assert sample.params.max_tokens == 100

    responses = decode(dict[str, msgspec.Raw], golden("InputResponses/elicitation-and-sampling-input-responses.json"))
    elicited = types.decode_input_response(elicit, responses["github_login"])
    sampled = types.decode_input_response(sample, responses["capital_of_france"])
    assert isinstance(elicited, types.ElicitResult)
    assert elicited.content == {"name": "octocat"}
    assert isinstance(sampled, types.CreateMessageResult)
    assert sampled.stop_reason == "endTurn"
    assert types.decode_input_response(elicit, types.encode_input_response(elicited)) == elicited


def test_mrtr_retry_params_keep_input_responses_raw() -> None:
    wire = {
        "name": "deploy",
        "arguments": {},
        "inputResponses": {"confirm": {"action": "accept", "content": {"ok": True}}},
        "requestState": "opaque",
    }
    params, again = reencode(types.CallToolParams, wire)
    assert_same_json(again, wire)
    assert isinstance(params.input_responses, dict)
    assert isinstance(params.input_responses["confirm"], msgspec.Raw)


def test_discover_result_carries_versions_caching_hints_and_server_info() -> None:
    result = decode(types.DiscoverResult, golden("DiscoverResult/server-capabilities-discovery.json"))
    assert result.supported_versions == ["2026-07-28"]
    assert (result.ttl_ms, result.cache_scope) == (3600000, "public")
    assert types.capability_enabled(result.capabilities, "tools")
    assert not types.capability_enabled(result.capabilities, "prompts")
    meta = msgspec.convert(result.meta, types.ResultMeta)
    assert meta.server_info == types.Implementation(name="ExampleServer", version="1.0.0")


def test_listen_acknowledgement_and_close_carry_the_subscription_id() -> None:
    ack = decode(types.SubscriptionsAcknowledgedParams, golden("listen-acknowledged.json"))
    assert ack.notifications.tools_list_changed is True
    assert ack.notifications.resource_subscriptions == ["file:///project/config.json"]
    assert ack.notifications.prompts_list_changed is UNSET
    assert msgspec.convert(ack.meta, types.NotificationMeta).subscription_id == "listen-1"
    closed = decode(types.SubscriptionsListenResult, golden("SubscriptionsListenResult/listen-closed.json"))
    assert closed.meta == {types.SUBSCRIPTION_ID: "listen-1"}


def test_modern_request_meta_reads_the_reserved_keys() -> None:
    params = decode(types.CallToolParams, golden("CallToolRequestParams/tool-call-params-with-progress-token.json"))
    meta = msgspec.convert(params.meta, types.RequestMeta)
    assert meta.protocol_version == "2026-07-28"
    assert meta.client_capabilities == types.ClientCapabilities()
    assert meta.client_info == types.Implementation(name="ExampleClient", version="1.0.0")
    assert meta.progress_token == "oivaizmir"
    assert meta.log_level is UNSET


def test_legacy_tasks_nest_the_task_and_keep_null_ttl() -> None:
    created = decode(types.LegacyCreateTaskResult, golden("2025-11-25 (tasks-create)"))
    assert created.task.poll_interval == 5000
    assert created.task.ttl_ms is UNSET
    wire = {
        "taskId": "t1",
        "status": "working",
        "createdAt": "2025-11-25T10:30:00Z",
        "lastUpdatedAt": "2025-11-25T10:30:00Z",
        "ttl": None,
    }
    task, again = reencode(types.GetTaskResult, wire)
    assert task.ttl is None
    assert_same_json(again, wire)
    params = decode(types.CallToolParams, golden("2025-11-25 (tasks-augmented-call)"))
    assert params.task == types.TaskMetadata(ttl=60000)


def test_tasks_extension_results_are_flat_and_detailed() -> None:
    created = decode(types.CreateTaskResult, golden("tasks.md (create-task)"))
    assert created.result_type == "task"
    assert (created.ttl_ms, created.poll_interval_ms) == (60000, 5000)
    waiting = decode(types.GetTaskResult, golden("tasks.md (tasks-get-input-required)"))
    assert waiting.status == "input_required"
    assert isinstance(waiting.input_requests, dict)
    assert all(isinstance(r, types.ElicitRequest) for r in waiting.input_requests.values())
    done = decode(types.GetTaskResult, golden("tasks.md (tasks-get-completed)"))
    assert done.status in types.TERMINAL_TASK_STATUSES
    assert isinstance(done.result, dict)
    outcome = msgspec.convert(done.result, types.CallToolResult)
    assert isinstance(outcome.content[0], types.TextContent)
    failed = decode(types.CreateTaskResult, golden("tasks.md (task-failed)"))
    assert isinstance(failed.error, types.ErrorObject)


def test_legacy_url_elicitation_keeps_its_id() -> None:
    params = decode(types.ElicitRequestParams, golden("2025-11-25 (elicitation-url)"))
    assert params.is_url_mode
    assert params.elicitation_id == "550e8400-e29b-41d4-a716-446655440000"
    data = decode(types.UrlElicitationRequiredData, golden("2025-11-25 (elicitation-url-required)"))
    assert data.elicitations[0].url.startswith("https://mcp.example.com/connect")
