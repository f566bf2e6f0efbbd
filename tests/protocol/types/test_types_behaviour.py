"""Behaviour of the small helpers that sit on the wire types."""

from __future__ import annotations

import msgspec
import pytest

from mcp_trio.protocol import types
from mcp_trio.protocol.types import UNSET


def test_resource_contents_need_exactly_one_of_text_or_blob() -> None:
    assert not types.ResourceContents(uri="file:///a", text="hi").is_blob
    assert types.ResourceContents(uri="file:///a", blob="AA==").is_blob
    decoder = msgspec.json.Decoder(types.ResourceContents)
    with pytest.raises(msgspec.ValidationError, match="exactly one"):
        decoder.decode(b'{"uri":"file:///a"}')
    with pytest.raises(msgspec.ValidationError, match="exactly one"):
        decoder.decode(b'{"uri":"file:///a","text":"x","blob":"AA=="}')


def test_elicitation_mode_decides_which_field_is_required() -> None:
    decoder = msgspec.json.Decoder(types.ElicitRequestParams)
    with pytest.raises(msgspec.ValidationError, match="requestedSchema"):
        decoder.decode(b'{"message":"m"}')
    with pytest.raises(msgspec.ValidationError, match="url"):
        decoder.decode(b'{"message":"m","mode":"url"}')
    url = decoder.decode(b'{"message":"m","mode":"url","url":"https://x"}')
    assert url.is_url_mode
    with pytest.raises(msgspec.ValidationError):
        url.typed_schema()


def test_typed_schema_rejects_nested_objects() -> None:
    params = types.ElicitRequestParams(
        message="m", requested_schema={"type": "object", "properties": {"a": {"type": "object"}}}
    )
    with pytest.raises(msgspec.ValidationError):
        params.typed_schema()


def test_empty_elicitation_capability_means_form_only() -> None:
    assert types.ElicitationCapability().supports_form()
    assert not types.ElicitationCapability().supports_url()
    url_only = types.ElicitationCapability(url={})
    assert url_only.supports_url()
    assert not url_only.supports_form()


def test_task_capability_is_keyed_by_method_path() -> None:
    caps = types.TasksCapability(requests={"tools": {"call": {}}})
    assert caps.supports_request("tools/call")
    assert not caps.supports_request("sampling/createMessage")
    assert not types.TasksCapability().supports_request("tools/call")
    assert msgspec.json.encode(types.TasksCapability(list_={})) == b'{"list":{}}'


def test_capability_paths_follow_wire_names() -> None:
    caps = types.ServerCapabilities(
        resources=types.ResourcesCapability(subscribe=False, list_changed=True),
        tasks=types.TasksCapability(requests={"tools": {"call": {}}}),
        extensions={"io.modelcontextprotocol/tasks": {}},
    )
    assert types.capability_enabled(caps, "resources")
    assert types.capability_enabled(caps, "resources.listChanged")
    assert not types.capability_enabled(caps, "resources.subscribe")  # false flag
    assert types.capability_enabled(caps, "tasks.requests.tools.call")
    assert not types.capability_enabled(caps, "tasks.requests.tools.list")
    assert types.capability_enabled(caps, "extensions.io.modelcontextprotocol/tasks")
    assert not types.capability_enabled(caps, "extensions.io.modelcontextprotocol/ui")
    assert not types.capability_enabled(caps, "tools")
    assert not types.capability_enabled(caps, "resources.noSuchFlag")


@pytest.mark.parametrize(
    ("message", "threshold", "expected"),
    [("debug", "debug", True), ("info", "warning", False), ("emergency", "error", True), ("error", "error", True)],
)
def test_log_levels_compare_by_syslog_severity(message: str, threshold: str, expected: bool) -> None:
    assert types.should_log(message, threshold) is expected  # type: ignore[arg-type]


def test_logging_levels_are_ordered_from_least_to_most_severe() -> None:
    assert types.LOGGING_LEVELS[0] == "debug"
    assert types.LOGGING_LEVELS[-1] == "emergency"
    assert [types.LOGGING_SEVERITY[level] for level in types.LOGGING_LEVELS] == list(range(8))


def test_reserved_meta_keys_use_the_reserved_prefix() -> None:
    assert types.PROTOCOL_VERSION == "io.modelcontextprotocol/protocolVersion"
    assert types.CLIENT_CAPABILITIES == "io.modelcontextprotocol/clientCapabilities"
    prefixed = {key for key in types.RESERVED_META_KEYS if "/" in key}
    assert all(key.startswith("io.modelcontextprotocol/") for key in prefixed)
    assert types.RESERVED_META_KEYS - prefixed == {"progressToken", "traceparent", "tracestate", "baggage"}


def test_request_meta_round_trips_under_the_reserved_keys() -> None:
    meta = types.RequestMeta(
        protocol_version="2026-07-28",
        client_capabilities=types.ClientCapabilities(sampling=types.SamplingCapability()),
        log_level="warning",
        progress_token=7,
    )
    wire = msgspec.to_builtins(meta)
    assert wire == {
        "progressToken": 7,
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {"sampling": {}},
        "io.modelcontextprotocol/logLevel": "warning",
    }
    params = types.CallToolParams(name="t", meta=wire)
    assert msgspec.convert(params.meta, types.RequestMeta) == meta


def test_modern_results_carry_result_type_and_legacy_results_omit_it() -> None:
    modern = types.ListToolsResult(tools=[], result_type="complete", ttl_ms=0, cache_scope="private")
    assert msgspec.json.encode(modern) == b'{"resultType":"complete","ttlMs":0,"cacheScope":"private","tools":[]}'
    assert msgspec.json.encode(types.ListToolsResult(tools=[])) == b'{"tools":[]}'


def test_content_blocks_decode_by_type_tag() -> None:
    blocks = msgspec.json.decode(
        b'[{"type":"text","text":"a"},{"type":"resource_link","uri":"u","name":"n"}]', type=list[types.ContentBlock]
    )
    assert [type(block) for block in blocks] == [types.TextContent, types.ResourceLink]
    assert isinstance(blocks[1], types.Resource)
    with pytest.raises(msgspec.ValidationError, match="Invalid value 'tool_use'"):
        msgspec.json.decode(b'{"type":"tool_use","id":"1","name":"n","input":{}}', type=types.ContentBlock)


def test_sampling_message_content_is_one_block_or_a_list() -> None:
    one = msgspec.json.decode(b'{"role":"user","content":{"type":"text","text":"a"}}', type=types.SamplingMessage)
    many = msgspec.json.decode(b'{"role":"user","content":[{"type":"text","text":"a"}]}', type=types.SamplingMessage)
    assert isinstance(one.content, types.TextContent)
    assert isinstance(many.content, list)


def test_unknown_fields_are_ignored_for_forward_compatibility() -> None:
    tool = msgspec.json.decode(b'{"name":"t","inputSchema":{"type":"object"},"futureField":1}', type=types.Tool)
    assert tool == types.Tool(name="t", input_schema={"type": "object"})


def test_input_requests_decode_by_method_tag() -> None:
    request = msgspec.json.decode(b'{"method":"roots/list"}', type=types.InputRequest)
    assert isinstance(request, types.ListRootsRequest)
    assert request.params is UNSET
    roots = types.decode_input_response(request, b'{"roots":[{"uri":"file:///a"}]}')
    assert roots == types.ListRootsResult(roots=[types.Root(uri="file:///a")])


def test_only_scalar_structs_opt_out_of_gc() -> None:
    scalar = (str, int, float, bool, type(None), msgspec.UnsetType)
    for name in types.__all__:
        cls = getattr(types, name)
        if not (isinstance(cls, type) and issubclass(cls, msgspec.Struct)) or cls.__struct_config__.gc:
            continue
        hints = {f.name: f.type for f in msgspec.structs.fields(cls)}
        for field, hint in hints.items():
            members = getattr(hint, "__args__", (hint,))
            for member in members:
                origin = getattr(member, "__origin__", None)
                if origin is not None:  # Literal[...] of scalars
                    assert all(isinstance(v, str | int) for v in member.__args__), (name, field)
                else:
                    assert member in scalar, (name, field, member)
