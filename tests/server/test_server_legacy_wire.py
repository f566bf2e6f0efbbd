"""The legacy wire (initialize + sessions, 2024-11-05 .. 2025-11-25) through the in-memory transport."""

from __future__ import annotations

import base64
from typing import Any

import msgspec
import pytest
import trio
import trio.lowlevel
import trio.testing
from server_test_helpers import (
    ALL_CLIENT_CAPS,
    LEGACY,
    call,
    error_of,
    legacy_client,
    ping,
    result_of,
    settle,
    text_of,
)

from mcp_trio.protocol.errors import InvalidParams, McpError
from mcp_trio.protocol.types import (
    CreateMessageParams,
    EmbeddedResource,
    ImageContent,
    ResourceContents,
    SamplingMessage,
    TextContent,
)
from mcp_trio.server.config import ServerConfig
from mcp_trio.server.context import Context
from mcp_trio.server.server import Server
from mcp_trio.server.tools import ToolError
from mcp_trio.testing import open_client


class Point(msgspec.Struct):
    x: int
    y: int


def build_server(**kwargs: Any) -> Server:
    """A server offering a bit of everything, with behaviour the tests can observe."""
    server = Server("legacy-test", "1.2.3", instructions="be nice", **kwargs)

    @server.tool()
    def echo(text: str) -> str:
        """Echo the text."""
        return text

    @server.tool()
    async def async_echo(text: str) -> str:
        await trio.lowlevel.checkpoint()
        return text.upper()

    @server.tool()
    def point(x: int, y: int) -> Point:
        return Point(x, y)

    @server.tool()
    def mapping(key: str) -> dict[str, int]:
        return {key: len(key)}

    @server.tool()
    def number(n: int) -> int:
        return n * 2

    @server.tool()
    def numbers(n: int) -> list[int]:
        return list(range(n))

    @server.tool()
    def image() -> ImageContent:
        return ImageContent(data="AAAA", mime_type="image/png")

    @server.tool()
    def blocks() -> list[TextContent]:
        return [TextContent(text="a"), TextContent(text="b")]

    @server.tool()
    def nothing() -> None:
        return None

    @server.tool()
    def tool_error() -> str:
        raise ToolError("the model may read this")

    @server.tool()
    def crash() -> str:
        raise ValueError("boom")

    @server.tool()
    async def async_crash() -> str:
        await trio.lowlevel.checkpoint()
        raise KeyError("k")

    @server.tool()
    def protocol_error() -> str:
        raise McpError("teapot", {"why": "because"}, code=-32099)

    @server.tool()
    async def async_protocol_error() -> str:
        await trio.lowlevel.checkpoint()
        raise InvalidParams("bad thing", {"field": "x"})

    server.add_resource(lambda: "hello text", "test://text", name="text", mime_type="text/plain")
    server.add_resource(lambda: b"\x00\x01\xff", "test://bytes", name="bytes", mime_type="application/octet-stream")

    @server.resource_template("test://item/{item_id}", name="item", mime_type="application/json")
    def item(item_id: int) -> str:
        """An item by number."""
        return f'{{"id": {item_id}, "double": {item_id * 2}}}'

    @server.prompt()
    def greet(name: str, style: str = "warm") -> str:
        """Greet someone."""
        return f"Greet {name} in a {style} way"

    @server.completion(argument="style", prompt="greet")
    def complete_style(value: str, context: dict[str, str]) -> list[str]:
        return [s for s in ("warm", "wry", "formal") if s.startswith(value)]

    @server.completion(argument="item_id", resource_template="test://item/{item_id}")
    def complete_item(value: str, context: dict[str, str]) -> list[str]:
        return [str(i) for i in range(150) if str(i).startswith(value)]

    return server


# ---------------------------------------------------------------------- lifecycle


@pytest.mark.parametrize("version", ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"])
async def test_initialize_echoes_a_supported_version(version: str) -> None:
    async with open_client(build_server()) as client:
        response = await client.request(
            "initialize", {"protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "c", "version": "1"}}
        )
    assert response == {
        "jsonrpc": "2.0",
        "id": 1,
        "result": {
            "protocolVersion": version,
            "capabilities": {
                "logging": {},
                "completions": {},
                "prompts": {"listChanged": True},
                "resources": {"subscribe": True, "listChanged": True},
                "tools": {"listChanged": True},
            },
            "serverInfo": {"name": "legacy-test", "version": "1.2.3"},
            "instructions": "be nice",
        },
    }


@pytest.mark.parametrize("version", ["1999-01-01", "2026-07-28", "draft"])
async def test_initialize_answers_an_unsupported_version_with_our_latest(version: str) -> None:
    async with open_client(build_server()) as client:
        result = await client.initialize(version=version)
    assert result["protocolVersion"] == LEGACY


async def test_initialize_without_required_params_is_invalid_params() -> None:
    async with open_client(build_server()) as client:
        response = await client.request("initialize", {"capabilities": {}})
        assert error_of(response)["code"] == -32602
        # The session was not initialized by the failed attempt.
        assert error_of(await client.request("tools/list"))["code"] == -32600


async def test_second_initialize_is_invalid_request_and_the_session_keeps_working() -> None:
    async with legacy_client(build_server()) as client:
        response = await client.request(
            "initialize", {"protocolVersion": LEGACY, "capabilities": {}, "clientInfo": {"name": "c", "version": "1"}}
        )
        assert response["id"] == 2
        assert error_of(response)["code"] == -32600
        assert text_of(result_of(await client.request("tools/call", call("echo", {"text": "x"})))) == "x"


async def test_ping_is_answered_before_and_after_initialize() -> None:
    async with open_client(build_server()) as client:
        assert await client.request("ping") == {"jsonrpc": "2.0", "id": 1, "result": {}}
        await client.initialize()
        assert await client.request("ping") == {"jsonrpc": "2.0", "id": 3, "result": {}}


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("tools/list", None),
        ("tools/call", {"name": "echo", "arguments": {"text": "x"}}),
        ("resources/read", {"uri": "test://text"}),
        ("logging/setLevel", {"level": "debug"}),
        ("no/such/method", None),
    ],
)
async def test_requests_before_initialize_are_invalid_request_echoing_the_id(
    method: str, params: dict[str, Any] | None
) -> None:
    async with open_client(build_server()) as client:
        response = await client.request(method, params)
    assert response["id"] == 1
    assert error_of(response)["code"] == -32600


async def test_requests_between_initialize_and_initialized_are_served() -> None:
    async with open_client(build_server()) as client:
        await client.request(
            "initialize", {"protocolVersion": LEGACY, "capabilities": {}, "clientInfo": {"name": "c", "version": "1"}}
        )
        result = result_of(await client.request("tools/call", call("echo", {"text": "early"})))
    assert text_of(result) == "early"


async def test_repeated_initialized_notification_is_ignored() -> None:
    async with legacy_client(build_server()) as client:
        await client.notify("notifications/initialized")
        await client.notify("notifications/initialized")
        await ping(client)
    assert client.notifications == []


async def test_unknown_method_after_initialize_is_method_not_found() -> None:
    async with legacy_client(build_server()) as client:
        response = await client.request("no/such/method")
    assert response["id"] == 2
    assert error_of(response)["code"] == -32601


async def test_server_to_client_method_sent_by_the_client_is_method_not_found() -> None:
    async with legacy_client(build_server()) as client:
        response = await client.request("sampling/createMessage", {"messages": [], "maxTokens": 1})
    assert error_of(response)["code"] == -32601


async def test_method_of_an_undeclared_capability_is_method_not_found() -> None:
    server = Server("tools-only")
    server.add_tool(lambda: "x", name="x")
    async with legacy_client(server) as client:
        for method, params in [
            ("prompts/list", None),
            ("resources/list", None),
            ("resources/read", {"uri": "a://b"}),
            (
                "completion/complete",
                {"ref": {"type": "ref/prompt", "name": "p"}, "argument": {"name": "a", "value": ""}},
            ),
        ]:
            assert error_of(await client.request(method, params))["code"] == -32601, method


# ---------------------------------------------------------------------- tools


async def test_tools_list_describes_every_tool_in_registration_order() -> None:
    async with legacy_client(build_server()) as client:
        result = result_of(await client.request("tools/list"))
    names = [tool["name"] for tool in result["tools"]]
    assert names[:3] == ["echo", "async_echo", "point"]
    assert "nextCursor" not in result
    assert "resultType" not in result  # legacy results carry no modern fields
    assert "ttlMs" not in result
    assert result["tools"][0] == {
        "name": "echo",
        "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
        "description": "Echo the text.",
    }


async def test_tools_list_pages_with_opaque_cursors_of_configured_size() -> None:
    server = Server("paged", config=ServerConfig(page_size=2))
    for i in range(5):
        server.add_tool(lambda: "x", name=f"t{i}")
    async with legacy_client(server) as client:
        seen: list[str] = []
        cursors: list[str] = []
        params: dict[str, Any] | None = None
        while True:
            result = result_of(await client.request("tools/list", params))
            assert len(result["tools"]) <= 2
            seen += [tool["name"] for tool in result["tools"]]
            if "nextCursor" not in result:
                break
            cursors.append(result["nextCursor"])
            params = {"cursor": result["nextCursor"]}
    assert seen == ["t0", "t1", "t2", "t3", "t4"]
    assert len(cursors) == 2
    assert all(isinstance(c, str) and c not in ("2", "4") for c in cursors)


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage!",
        "",
        base64.urlsafe_b64encode(b"o999").decode(),
        base64.urlsafe_b64encode(b"x2").decode(),
        base64.urlsafe_b64encode(b"o-1").decode(),
    ],
)
async def test_tools_list_with_an_invalid_cursor_is_invalid_params(cursor: str) -> None:
    async with legacy_client(build_server()) as client:
        response = await client.request("tools/list", {"cursor": cursor})
    assert error_of(response)["code"] == -32602


async def test_tools_list_with_a_non_string_cursor_is_invalid_params() -> None:
    async with legacy_client(build_server()) as client:
        assert error_of(await client.request("tools/list", {"cursor": 5}))["code"] == -32602


async def test_cursor_exactly_at_the_end_gives_an_empty_last_page() -> None:
    server = Server("paged", config=ServerConfig(page_size=2))
    for i in range(2):
        server.add_tool(lambda: "x", name=f"t{i}")
    async with legacy_client(server) as client:
        end = base64.urlsafe_b64encode(b"o2").decode()
        assert result_of(await client.request("tools/list", {"cursor": end})) == {"tools": []}


async def test_sync_and_async_tools_answer() -> None:
    async with legacy_client(build_server()) as client:
        sync = await client.request("tools/call", call("echo", {"text": "hi"}))
        asynchronous = await client.request("tools/call", call("async_echo", {"text": "hi"}))
    assert sync == {"jsonrpc": "2.0", "id": 2, "result": {"content": [{"type": "text", "text": "hi"}]}}
    assert asynchronous == {"jsonrpc": "2.0", "id": 3, "result": {"content": [{"type": "text", "text": "HI"}]}}


@pytest.mark.parametrize(
    "arguments",
    [{"text": 1}, {}, None, {"text": None}],
)
async def test_arguments_that_do_not_validate_are_a_tool_error(arguments: dict[str, Any] | None) -> None:
    async with legacy_client(build_server()) as client:
        result = result_of(await client.request("tools/call", call("echo", arguments)))
    assert result["isError"] is True
    assert text_of(result).startswith("invalid arguments for tool echo: ")


async def test_extra_arguments_are_ignored() -> None:
    async with legacy_client(build_server()) as client:
        result = result_of(await client.request("tools/call", call("echo", {"text": "a", "extra": 1})))
    assert result == {"content": [{"type": "text", "text": "a"}]}


async def test_unknown_tool_is_invalid_params() -> None:
    async with legacy_client(build_server()) as client:
        response = await client.request("tools/call", call("nope", {}))
    assert response == {"jsonrpc": "2.0", "id": 2, "error": {"code": -32602, "message": "unknown tool: nope"}}


async def test_tools_call_without_a_name_is_invalid_params() -> None:
    async with legacy_client(build_server()) as client:
        assert error_of(await client.request("tools/call", {"arguments": {}}))["code"] == -32602


async def test_tool_error_becomes_an_is_error_result_with_its_message() -> None:
    async with legacy_client(build_server()) as client:
        result = result_of(await client.request("tools/call", call("tool_error")))
    assert result == {"content": [{"type": "text", "text": "the model may read this"}], "isError": True}


@pytest.mark.parametrize(
    ("name", "text"),
    [("crash", "tool crash failed: ValueError: boom"), ("async_crash", "tool async_crash failed: KeyError: 'k'")],
)
async def test_arbitrary_exceptions_become_is_error_results(name: str, text: str) -> None:
    async with legacy_client(build_server()) as client:
        result = result_of(await client.request("tools/call", call(name)))
        # The server is unharmed.
        await ping(client)
    assert result == {"content": [{"type": "text", "text": text}], "isError": True}


async def test_mcp_error_raised_by_a_sync_tool_is_that_json_rpc_error() -> None:
    async with legacy_client(build_server()) as client:
        response = await client.request("tools/call", call("protocol_error"))
    assert response == {
        "jsonrpc": "2.0",
        "id": 2,
        "error": {"code": -32099, "message": "teapot", "data": {"why": "because"}},
    }


async def test_mcp_error_raised_by_an_async_tool_is_that_json_rpc_error() -> None:
    async with legacy_client(build_server()) as client:
        response = await client.request("tools/call", call("async_protocol_error"))
    assert response == {
        "jsonrpc": "2.0",
        "id": 2,
        "error": {"code": -32602, "message": "bad thing", "data": {"field": "x"}},
    }


async def test_struct_return_publishes_an_output_schema_and_structured_content() -> None:
    async with legacy_client(build_server()) as client:
        tools = {t["name"]: t for t in result_of(await client.request("tools/list"))["tools"]}
        result = result_of(await client.request("tools/call", call("point", {"x": 1, "y": 2})))
    assert tools["point"]["outputSchema"] == {
        "type": "object",
        "properties": {"x": {"type": "integer"}, "y": {"type": "integer"}},
        "required": ["x", "y"],
    }
    assert result["structuredContent"] == {"x": 1, "y": 2}
    assert msgspec.json.decode(text_of(result)) == {"x": 1, "y": 2}
    assert "isError" not in result


async def test_dict_return_is_structured_without_wrapping() -> None:
    async with legacy_client(build_server()) as client:
        tools = {t["name"]: t for t in result_of(await client.request("tools/list"))["tools"]}
        result = result_of(await client.request("tools/call", call("mapping", {"key": "abc"})))
    assert tools["mapping"]["outputSchema"]["type"] == "object"
    assert "result" not in tools["mapping"]["outputSchema"].get("properties", {})
    assert result["structuredContent"] == {"abc": 3}


@pytest.mark.parametrize(
    ("name", "arguments", "schema", "value"),
    [
        ("number", {"n": 21}, {"type": "integer"}, 42),
        ("numbers", {"n": 3}, {"type": "array", "items": {"type": "integer"}}, [0, 1, 2]),
    ],
)
async def test_non_object_returns_are_wrapped_as_result(
    name: str, arguments: dict[str, Any], schema: dict[str, Any], value: Any
) -> None:
    async with legacy_client(build_server()) as client:
        tools = {t["name"]: t for t in result_of(await client.request("tools/list"))["tools"]}
        result = result_of(await client.request("tools/call", call(name, arguments)))
    assert tools[name]["outputSchema"] == {"type": "object", "properties": {"result": schema}, "required": ["result"]}
    assert result["structuredContent"] == {"result": value}
    assert msgspec.json.decode(text_of(result)) == {"result": value}


async def test_content_block_returns_are_the_content() -> None:
    async with legacy_client(build_server()) as client:
        tools = {t["name"]: t for t in result_of(await client.request("tools/list"))["tools"]}
        image = result_of(await client.request("tools/call", call("image")))
        blocks = result_of(await client.request("tools/call", call("blocks")))
        nothing = result_of(await client.request("tools/call", call("nothing")))
    assert "outputSchema" not in tools["image"]
    assert "outputSchema" not in tools["blocks"]
    assert image == {"content": [{"type": "image", "data": "AAAA", "mimeType": "image/png"}]}
    assert blocks == {"content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}
    assert nothing == {"content": []}


async def test_a_list_of_mixed_content_blocks_is_the_content_not_structured_output() -> None:
    server = Server("mixed")

    @server.tool()
    def mixed() -> list[TextContent | ImageContent | EmbeddedResource]:
        return [
            TextContent(text="t"),
            ImageContent(data="AAAA", mime_type="image/png"),
            EmbeddedResource(resource=ResourceContents(uri="a://b", text="r")),
        ]

    assert server.tools["mixed"].tool.output_schema is msgspec.UNSET
    async with legacy_client(server) as client:
        result = result_of(await client.request("tools/call", call("mixed")))
    assert [block["type"] for block in result["content"]] == ["text", "image", "resource"]
    assert "structuredContent" not in result


# ---------------------------------------------------------------------- resources


async def test_resources_list_and_templates_list() -> None:
    async with legacy_client(build_server()) as client:
        resources = result_of(await client.request("resources/list"))
        templates = result_of(await client.request("resources/templates/list"))
    assert resources == {
        "resources": [
            {"uri": "test://text", "name": "text", "mimeType": "text/plain"},
            {"uri": "test://bytes", "name": "bytes", "mimeType": "application/octet-stream"},
        ]
    }
    assert templates == {
        "resourceTemplates": [
            {
                "uriTemplate": "test://item/{item_id}",
                "name": "item",
                "description": "An item by number.",
                "mimeType": "application/json",
            }
        ]
    }


async def test_read_static_text_and_binary_resources() -> None:
    async with legacy_client(build_server()) as client:
        text = result_of(await client.request("resources/read", {"uri": "test://text"}))
        blob = result_of(await client.request("resources/read", {"uri": "test://bytes"}))
    assert text == {"contents": [{"uri": "test://text", "mimeType": "text/plain", "text": "hello text"}]}
    assert blob == {
        "contents": [
            {
                "uri": "test://bytes",
                "mimeType": "application/octet-stream",
                "blob": base64.b64encode(b"\x00\x01\xff").decode(),
            }
        ]
    }


async def test_read_template_converts_variables_to_the_parameter_type() -> None:
    async with legacy_client(build_server()) as client:
        result = result_of(await client.request("resources/read", {"uri": "test://item/21"}))
    assert result == {
        "contents": [{"uri": "test://item/21", "mimeType": "application/json", "text": '{"id": 21, "double": 42}'}]
    }


async def test_read_template_with_a_bad_value_is_invalid_params_with_the_uri() -> None:
    async with legacy_client(build_server()) as client:
        response = await client.request("resources/read", {"uri": "test://item/abc"})
    error = error_of(response)
    assert error["code"] == -32602
    assert error["data"] == {"uri": "test://item/abc"}


@pytest.mark.parametrize("uri", ["test://missing", "test://item/1/extra", "test://item/"])
async def test_read_unknown_resource_is_legacy_resource_not_found_with_the_uri(uri: str) -> None:
    async with legacy_client(build_server()) as client:
        response = await client.request("resources/read", {"uri": uri})
    assert response == {
        "jsonrpc": "2.0",
        "id": 2,
        "error": {"code": -32002, "message": f"resource not found: {uri}", "data": {"uri": uri}},
    }


async def test_a_reader_returning_nothing_readable_is_an_internal_error_and_the_server_lives() -> None:
    server = build_server()
    server.add_resource(lambda: 42, "test://broken", name="broken")
    async with legacy_client(server) as client:
        response = await client.request("resources/read", {"uri": "test://broken"})
        await ping(client)
    assert error_of(response) == {"code": -32603, "message": "internal error"}


async def test_async_reader_with_context_is_served() -> None:
    server = Server("r")

    async def read(ctx: Context) -> str:
        await trio.lowlevel.checkpoint()
        return f"for request {ctx.request_id} on {ctx.era}"

    server.add_resource(read, "test://ctx", name="ctx")
    async with legacy_client(server) as client:
        result = result_of(await client.request("resources/read", {"uri": "test://ctx"}))
    assert result == {"contents": [{"uri": "test://ctx", "text": "for request 2 on legacy"}]}


async def test_subscribe_delivers_updates_until_unsubscribed() -> None:
    server = build_server()
    async with legacy_client(server) as client:
        assert result_of(await client.request("resources/subscribe", {"uri": "test://text"})) == {}
        server.notify_resource_updated("test://text")
        server.notify_resource_updated("test://bytes")  # not subscribed
        await settle()
        await ping(client)
        assert client.notifications == [
            {"jsonrpc": "2.0", "method": "notifications/resources/updated", "params": {"uri": "test://text"}}
        ]
        client.notifications.clear()
        assert result_of(await client.request("resources/unsubscribe", {"uri": "test://text"})) == {}
        server.notify_resource_updated("test://text")
        await settle()
        await ping(client)
        assert client.notifications == []


async def test_updates_posted_in_a_burst_coalesce_into_one_notification() -> None:
    server = build_server()
    async with legacy_client(server) as client:
        await client.request("resources/subscribe", {"uri": "test://text"})
        for _ in range(5):
            server.notify_resource_updated("test://text")
        await settle()
        await ping(client)
    assert len(client.notifications) == 1


# ---------------------------------------------------------------------- prompts and completion


async def test_prompts_list_describes_arguments() -> None:
    async with legacy_client(build_server()) as client:
        result = result_of(await client.request("prompts/list"))
    assert result == {
        "prompts": [
            {
                "name": "greet",
                "description": "Greet someone.",
                "arguments": [{"name": "name", "required": True}, {"name": "style", "required": False}],
            }
        ]
    }


async def test_prompts_get_renders_with_defaults() -> None:
    async with legacy_client(build_server()) as client:
        result = result_of(await client.request("prompts/get", {"name": "greet", "arguments": {"name": "Ann"}}))
    assert result == {
        "description": "Greet someone.",
        "messages": [{"role": "user", "content": {"type": "text", "text": "Greet Ann in a warm way"}}],
    }


@pytest.mark.parametrize("arguments", [None, {}, {"style": "wry"}])
async def test_prompts_get_missing_a_required_argument_is_invalid_params(arguments: dict[str, str] | None) -> None:
    params: dict[str, Any] = {"name": "greet"}
    if arguments is not None:
        params["arguments"] = arguments
    async with legacy_client(build_server()) as client:
        assert error_of(await client.request("prompts/get", params))["code"] == -32602


async def test_prompts_get_unknown_prompt_is_invalid_params() -> None:
    async with legacy_client(build_server()) as client:
        response = await client.request("prompts/get", {"name": "nope"})
    assert response == {"jsonrpc": "2.0", "id": 2, "error": {"code": -32602, "message": "unknown prompt: nope"}}


async def test_complete_a_prompt_argument() -> None:
    async with legacy_client(build_server()) as client:
        params = {"ref": {"type": "ref/prompt", "name": "greet"}, "argument": {"name": "style", "value": "w"}}
        result = result_of(await client.request("completion/complete", params))
    assert result == {"completion": {"values": ["warm", "wry"], "total": 2, "hasMore": False}}


async def test_complete_caps_values_at_100_with_total_and_has_more() -> None:
    async with legacy_client(build_server()) as client:
        params = {
            "ref": {"type": "ref/resource", "uri": "test://item/{item_id}"},
            "argument": {"name": "item_id", "value": ""},
        }
        result = result_of(await client.request("completion/complete", params))
    completion = result["completion"]
    assert completion["values"] == [str(i) for i in range(100)]
    assert completion["total"] == 150
    assert completion["hasMore"] is True


async def test_complete_without_a_completer_gives_no_values() -> None:
    async with legacy_client(build_server()) as client:
        params = {"ref": {"type": "ref/prompt", "name": "greet"}, "argument": {"name": "name", "value": "x"}}
        result = result_of(await client.request("completion/complete", params))
    assert result == {"completion": {"values": []}}


async def test_complete_for_an_unknown_prompt_is_invalid_params() -> None:
    async with legacy_client(build_server()) as client:
        params = {"ref": {"type": "ref/prompt", "name": "nope"}, "argument": {"name": "style", "value": ""}}
        assert error_of(await client.request("completion/complete", params))["code"] == -32602


async def test_completer_receives_the_context_arguments() -> None:
    server = build_server()
    seen: list[dict[str, str]] = []

    def complete(value: str, context: dict[str, str]) -> list[str]:
        seen.append(context)
        return []

    server.add_completion(complete, argument="name", prompt="greet")
    async with legacy_client(server) as client:
        params = {
            "ref": {"type": "ref/prompt", "name": "greet"},
            "argument": {"name": "name", "value": ""},
            "context": {"arguments": {"style": "wry"}},
        }
        result_of(await client.request("completion/complete", params))
    assert seen == [{"style": "wry"}]


# ---------------------------------------------------------------------- logging, progress, cancellation


def logging_server() -> Server:
    server = Server("log")

    @server.tool()
    async def chatty(ctx: Context) -> str:
        for level in ("debug", "info", "warning", "error"):
            await ctx.log(level, f"at {level}", logger="chatty")
        return "done"

    return server


async def test_log_messages_default_to_info_and_above() -> None:
    async with legacy_client(logging_server()) as client:
        result_of(await client.request("tools/call", call("chatty")))
    assert [n["params"]["level"] for n in client.notifications] == ["info", "warning", "error"]
    assert client.notifications[0] == {
        "jsonrpc": "2.0",
        "method": "notifications/message",
        "params": {"level": "info", "data": "at info", "logger": "chatty"},
    }


@pytest.mark.parametrize(
    ("level", "expected"),
    [("debug", ["debug", "info", "warning", "error"]), ("warning", ["warning", "error"]), ("emergency", [])],
)
async def test_set_level_gates_log_messages(level: str, expected: list[str]) -> None:
    async with legacy_client(logging_server()) as client:
        assert result_of(await client.request("logging/setLevel", {"level": level})) == {}
        result_of(await client.request("tools/call", call("chatty")))
    assert [n["params"]["level"] for n in client.notifications] == expected


async def test_set_level_with_an_unknown_level_is_invalid_params() -> None:
    async with legacy_client(logging_server()) as client:
        assert error_of(await client.request("logging/setLevel", {"level": "loud"}))["code"] == -32602


async def test_set_level_without_the_logging_capability_is_method_not_found() -> None:
    server = Server("quiet", logging=False)
    server.add_tool(lambda: "x", name="x")
    async with legacy_client(server) as client:
        assert error_of(await client.request("logging/setLevel", {"level": "debug"}))["code"] == -32601


def progress_server(steps: list[float]) -> Server:
    server = Server("progress")

    @server.tool()
    async def work(ctx: Context) -> str:
        for step in steps:
            await ctx.report_progress(step, 10, f"step {step}")
        return "worked"

    return server


async def test_progress_is_sent_with_the_request_token() -> None:
    async with legacy_client(progress_server([1, 5, 10])) as client:
        result = result_of(await client.request("tools/call", call("work", _meta={"progressToken": "tok"})))
    assert text_of(result) == "worked"
    assert client.notifications == [
        {
            "jsonrpc": "2.0",
            "method": "notifications/progress",
            "params": {"progressToken": "tok", "progress": step, "total": 10, "message": f"step {step}"},
        }
        for step in (1, 5, 10)
    ]


async def test_integer_progress_tokens_are_echoed() -> None:
    async with legacy_client(progress_server([1])) as client:
        result_of(await client.request("tools/call", call("work", _meta={"progressToken": 7})))
    assert client.notifications[0]["params"]["progressToken"] == 7


async def test_no_progress_without_a_token() -> None:
    async with legacy_client(progress_server([1, 5, 10])) as client:
        result_of(await client.request("tools/call", call("work")))
    assert client.notifications == []


async def test_progress_that_does_not_increase_fails_the_tool() -> None:
    async with legacy_client(progress_server([5, 5])) as client:
        result = result_of(await client.request("tools/call", call("work", _meta={"progressToken": "t"})))
    assert len(client.notifications) == 1
    assert result["isError"] is True
    assert "progress must increase" in text_of(result)


async def test_cancelled_notification_cancels_an_in_flight_tool_and_no_response_is_sent() -> None:
    server = Server("cancel")
    started = trio.Event()
    outcome: list[str] = []

    @server.tool()
    async def forever() -> str:
        started.set()
        try:
            await trio.sleep_forever()
        except trio.Cancelled:
            outcome.append("cancelled")
            raise
        return "never"

    async with legacy_client(server) as client:
        await client.send({"jsonrpc": "2.0", "id": "c1", "method": "tools/call", "params": call("forever")})
        with trio.fail_after(5):
            await started.wait()
        await client.notify("notifications/cancelled", {"requestId": "c1", "reason": "user"})
        await settle()
        assert outcome == ["cancelled"]
        # Whatever the server sends next is the answer to the next request: nothing for "c1".
        await client.send({"jsonrpc": "2.0", "id": "after", "method": "ping"})
        assert await client.receive() == {"jsonrpc": "2.0", "id": "after", "result": {}}
        # The id is free again.
        await client.send({"jsonrpc": "2.0", "id": "c1", "method": "ping"})
        assert await client.receive() == {"jsonrpc": "2.0", "id": "c1", "result": {}}


async def test_cancelling_an_unknown_or_finished_request_is_ignored() -> None:
    async with legacy_client(build_server()) as client:
        result_of(await client.request("tools/call", call("echo", {"text": "x"})))
        await client.notify("notifications/cancelled", {"requestId": 2})
        await client.notify("notifications/cancelled", {"requestId": "never"})
        await client.notify("notifications/cancelled", {"bogus": True})
        await ping(client)
    assert client.notifications == []


# ---------------------------------------------------------------------- server-to-client requests


def asking_server() -> Server:
    server = Server("asking")

    @server.tool()
    async def ask_name(ctx: Context) -> str:
        answer = await ctx.elicit("Name?", {"type": "object", "properties": {"name": {"type": "string"}}})
        return f"{answer.action}:{(answer.content or {}).get('name')}"

    @server.tool()
    async def sample(ctx: Context) -> str:
        params = CreateMessageParams(
            messages=[SamplingMessage(role="user", content=TextContent(text="hi"))], max_tokens=5
        )
        answer = await ctx.sample(params)
        assert isinstance(answer.content, TextContent)
        return f"{answer.model}:{answer.content.text}"

    @server.tool()
    async def roots(ctx: Context) -> str:
        answer = await ctx.list_roots()
        return ",".join(root.uri for root in answer.roots)

    return server


async def test_elicitation_sampling_and_roots_are_answered_mid_call() -> None:
    asked: list[dict[str, Any]] = []

    async def on_request(message: dict[str, Any]) -> dict[str, Any]:
        asked.append(message)
        method = message["method"]
        if method == "elicitation/create":
            return {"action": "accept", "content": {"name": "Ann"}}
        if method == "sampling/createMessage":
            return {"role": "assistant", "content": {"type": "text", "text": "yo"}, "model": "m1"}
        return {"roots": [{"uri": "file:///a"}, {"uri": "file:///b"}]}

    async with legacy_client(asking_server(), capabilities=ALL_CLIENT_CAPS, on_request=on_request) as client:
        elicited = result_of(await client.request("tools/call", call("ask_name")))
        sampled = result_of(await client.request("tools/call", call("sample")))
        rooted = result_of(await client.request("tools/call", call("roots")))
    assert text_of(elicited) == "accept:Ann"
    assert text_of(sampled) == "m1:yo"
    assert text_of(rooted) == "file:///a,file:///b"
    assert [m["method"] for m in asked] == ["elicitation/create", "sampling/createMessage", "roots/list"]
    assert asked[0]["params"]["message"] == "Name?"
    assert asked[1]["params"] == {
        "messages": [{"role": "user", "content": {"type": "text", "text": "hi"}}],
        "maxTokens": 5,
    }
    ids = [m["id"] for m in asked]
    assert len(set(ids)) == 3


async def test_client_error_answer_surfaces_as_a_tool_error() -> None:
    async with legacy_client(asking_server(), capabilities=ALL_CLIENT_CAPS) as client:
        # RawClient answers every server request with -32601 when it has no handler.
        result = result_of(await client.request("tools/call", call("ask_name")))
    assert result["isError"] is True
    assert "RemoteError" in text_of(result)
    assert "-32601" in text_of(result)


@pytest.mark.parametrize(
    ("tool", "capability"), [("ask_name", "elicitation"), ("sample", "sampling"), ("roots", "roots")]
)
async def test_request_needing_an_undeclared_client_capability_is_32021(tool: str, capability: str) -> None:
    async with legacy_client(asking_server(), capabilities={}) as client:
        response = await client.request("tools/call", call(tool))
    error = error_of(response)
    assert error["code"] == -32021
    assert error["data"] == {"requiredCapabilities": {capability: {}}}


async def test_a_wrong_shaped_client_answer_is_a_tool_error_not_a_crash() -> None:
    async def on_request(message: dict[str, Any]) -> dict[str, Any]:
        return {"nonsense": True}

    async with legacy_client(asking_server(), capabilities=ALL_CLIENT_CAPS, on_request=on_request) as client:
        result = result_of(await client.request("tools/call", call("ask_name")))
        await ping(client)
    assert result["isError"] is True


# ---------------------------------------------------------------------- list_changed


async def test_list_changed_is_sent_to_initialized_sessions_after_add_and_remove() -> None:
    server = build_server()
    async with legacy_client(server) as client:
        await settle()
        server.add_tool(lambda: "x", name="dynamic")
        await settle()
        await ping(client)
        assert client.notifications == [{"jsonrpc": "2.0", "method": "notifications/tools/list_changed"}]
        names = [t["name"] for t in result_of(await client.request("tools/list"))["tools"]]
        assert "dynamic" in names
        server.remove_tool("dynamic")
        server.add_prompt(lambda: "p", name="another")
        await settle()
        await ping(client)
    assert [n["method"] for n in client.notifications] == [
        "notifications/tools/list_changed",
        "notifications/tools/list_changed",
        "notifications/prompts/list_changed",
    ]


async def test_list_changed_is_not_sent_before_notifications_initialized() -> None:
    server = build_server()
    async with open_client(server) as client:
        await client.request(
            "initialize", {"protocolVersion": LEGACY, "capabilities": {}, "clientInfo": {"name": "c", "version": "1"}}
        )
        server.add_tool(lambda: "x", name="dynamic")
        await settle()
        await ping(client)
    assert client.notifications == []


async def test_list_changed_reaches_every_connected_session() -> None:
    server = build_server()
    async with legacy_client(server) as first, legacy_client(server) as second:
        await settle()
        server.add_tool(lambda: "x", name="dynamic")
        await settle()
        await ping(first)
        await ping(second)
    assert (
        first.notifications
        == second.notifications
        == [{"jsonrpc": "2.0", "method": "notifications/tools/list_changed"}]
    )


async def test_a_disconnected_session_no_longer_receives_list_changed() -> None:
    server = build_server()
    async with legacy_client(server):
        await settle()
        assert len(server.hub) == 1
    assert len(server.hub) == 0


async def test_adding_the_first_tool_after_a_session_initialized_does_not_crash_the_server() -> None:
    server = Server("no-tools-yet")
    server.add_prompt(lambda: "p", name="p")
    async with legacy_client(server) as client:
        await settle()
        server.add_tool(lambda: "x", name="first")
        await settle()
        await ping(client)
        # The session negotiated no tools capability, so it is not told about tools.
        assert client.notifications == []


async def test_cancelling_a_tool_that_awaits_the_client_cancels_the_servers_request_too() -> None:
    server = asking_server()
    async with legacy_client(server, capabilities=ALL_CLIENT_CAPS) as client:
        await client.send({"jsonrpc": "2.0", "id": "t", "method": "tools/call", "params": call("ask_name")})
        with trio.fail_after(5):
            asked = await client.receive()
        assert asked["method"] == "elicitation/create"
        await client.notify("notifications/cancelled", {"requestId": "t"})
        await settle()
        await client.send({"jsonrpc": "2.0", "id": "p", "method": "ping"})
        with trio.fail_after(5):
            cancel = await client.receive()
            pong = await client.receive()
    assert cancel == {
        "jsonrpc": "2.0",
        "method": "notifications/cancelled",
        "params": {"requestId": asked["id"], "reason": "the server stopped waiting"},
    }
    assert pong == {"jsonrpc": "2.0", "id": "p", "result": {}}


async def test_the_servers_cancellation_of_its_own_request_is_sent_without_waiting_for_other_traffic(
    autojump_clock: trio.testing.MockClock,
) -> None:
    server = asking_server()
    async with legacy_client(server, capabilities=ALL_CLIENT_CAPS) as client:
        await client.send({"jsonrpc": "2.0", "id": "t", "method": "tools/call", "params": call("ask_name")})
        asked = await client.receive()
        await client.notify("notifications/cancelled", {"requestId": "t"})
        with trio.move_on_after(5):
            cancel = await client.receive()
            assert cancel["method"] == "notifications/cancelled"
            assert cancel["params"]["requestId"] == asked["id"]
            return
        pytest.fail("no notifications/cancelled within 5 s")
