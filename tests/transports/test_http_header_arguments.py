"""Which tool arguments a client mirrors into ``Mcp-Param-*`` headers, and which annotations make a tool unusable
(SEP-2243): the rule the client applies when it lists tools."""

from __future__ import annotations

from typing import Any

import pytest

from mcp_trio.transports.http.headers import encode_header_value, header_arguments, routing_headers


def schema(**properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": properties}


def test_annotated_primitive_arguments_travel_as_headers() -> None:
    found = header_arguments(
        schema(
            region={"type": "string", "x-mcp-header": "Region"},
            count={"type": "integer", "x-mcp-header": "Count"},
            on={"type": "boolean", "x-mcp-header": "On"},
            plain={"type": "string"},
        )
    )
    assert found == {"region": "Region", "count": "Count", "on": "On"}


@pytest.mark.parametrize(
    "bad",
    [
        schema(a={"type": "string", "x-mcp-header": ""}),
        schema(a={"type": "string", "x-mcp-header": 7}),
        schema(a={"type": "string", "x-mcp-header": "Has Space"}),
        schema(a={"type": "string", "x-mcp-header": "Colon:"}),
        schema(a={"type": "string", "x-mcp-header": "Wörld"}),
        schema(a={"type": "string", "x-mcp-header": "Ctl\x01"}),
        schema(a={"type": "object", "x-mcp-header": "Obj"}),
        schema(a={"type": "array", "x-mcp-header": "Arr"}),
        schema(a={"type": "null", "x-mcp-header": "Nil"}),
        schema(a={"type": "number", "x-mcp-header": "Score"}),
        schema(a={"type": "string", "x-mcp-header": "Same"}, b={"type": "string", "x-mcp-header": "same"}),
    ],
)
def test_invalid_annotations_make_the_tool_unusable(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="x-mcp-header"):
        header_arguments(bad)


def test_values_that_are_not_plain_visible_ascii_are_base64_wrapped() -> None:
    assert encode_header_value("us-west1") == "us-west1"
    for value in (" padded", "trailing ", "Hello, 世界", "line1\nline2", "\tindented", "=?base64?x?="):
        encoded = encode_header_value(value)
        assert encoded.startswith("=?base64?")
        assert encoded.endswith("?=")


def test_routing_headers_name_the_method_the_target_and_the_mirrored_arguments() -> None:
    params = {"name": "where", "arguments": {"region": "eu", "n": 3, "flag": False, "missing": None}}
    headers = routing_headers("tools/call", params, {"region": "Region", "n": "N", "flag": "Flag", "missing": "M"})
    assert headers == [
        ("mcp-method", "tools/call"),
        ("mcp-name", "where"),
        ("mcp-param-region", "eu"),
        ("mcp-param-n", "3"),
        ("mcp-param-flag", "false"),
    ]
    assert routing_headers("resources/read", {"uri": "file:///ü"}, None)[1][1].startswith("=?base64?")
