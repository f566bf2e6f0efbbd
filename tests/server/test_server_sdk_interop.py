"""Interop with a real peer: the official MCP Python SDK client (``mcp`` 2.3.0) against our server.

In-process, the SDK's ``ClientSession`` talks through anyio memory object streams that a small bridge pumps to
and from a Trio in-memory byte stream served by our connection handler (anyio runs on Trio here). Over stdio
the SDK spawns ``mcp-trio serve`` itself.
"""

from __future__ import annotations

import base64
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import mcp_types
import pytest
import trio
import trio.testing
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.shared.message import SessionMessage

from mcp_trio.conformance_fixture import PNG, build_fixture_server
from mcp_trio.protocol.framing import NEED_DATA, LineFramer
from mcp_trio.server.server import Server

MCP_TRIO = str(Path(sys.executable).with_name("mcp-trio"))


async def sampling_callback(
    context: Any, params: mcp_types.CreateMessageRequestParams
) -> mcp_types.CreateMessageResult:
    (message,) = params.messages
    text = message.content.text  # type: ignore[union-attr]
    return mcp_types.CreateMessageResult(
        role="assistant", content=mcp_types.TextContent(type="text", text=f"echo: {text}"), model="sdk-model"
    )


async def elicitation_callback(context: Any, params: mcp_types.ElicitRequestParams) -> mcp_types.ElicitResult:
    return mcp_types.ElicitResult(action="accept", content={"username": "sdk-user", "email": "u@example.com"})


@asynccontextmanager
async def sdk_session(server: Server, **kwargs: Any) -> AsyncIterator[ClientSession]:
    """An SDK ``ClientSession`` connected to ``server`` through an in-memory byte stream."""
    client_stream, server_stream = trio.testing.memory_stream_pair()
    to_session, session_reads = anyio.create_memory_object_stream[SessionMessage | Exception](16)
    session_writes, from_session = anyio.create_memory_object_stream[SessionMessage](16)

    async def pump_in() -> None:
        framer = LineFramer()
        while data := await client_stream.receive_some(65536):
            framer.receive_data(bytes(data))
            while (line := framer.next_message()) is not NEED_DATA:
                message = mcp_types.jsonrpc_message_adapter.validate_json(line, by_name=False)
                await to_session.send(SessionMessage(message))

    async def pump_out() -> None:
        async for session_message in from_session:
            data = session_message.message.model_dump_json(by_alias=True, exclude_unset=True).encode()
            await client_stream.send_all(data + b"\n")

    try:
        async with server.open_runtime() as runtime, trio.open_nursery() as nursery:
            runtime.serve_stream(server_stream)
            nursery.start_soon(pump_in)
            nursery.start_soon(pump_out)
            async with ClientSession(session_reads, session_writes, **kwargs) as session:
                yield session
            nursery.cancel_scope.cancel()
    finally:
        for stream in (to_session, session_reads, session_writes, from_session):
            stream.close()


async def test_sdk_client_initializes_lists_and_calls_tools() -> None:
    with trio.fail_after(20):
        async with sdk_session(build_fixture_server()) as session:
            init = await session.initialize()
            assert init.server_info.name == "mcp-trio-conformance"
            assert init.protocol_version == "2025-11-25"
            assert init.capabilities.tools is not None
            tools = await session.list_tools()
            names = {tool.name for tool in tools.tools}
            assert {"test_simple_text", "test_image_content", "test_sampling", "test_elicitation"} <= names
            text = await session.call_tool("test_simple_text", {})
            image = await session.call_tool("test_image_content", {})
            failed = await session.call_tool("test_error_handling", {})
    assert isinstance(text, mcp_types.CallToolResult)
    assert text.content[0].text == "This is a simple text response for testing."  # type: ignore[union-attr]
    assert text.is_error is not True
    assert isinstance(image, mcp_types.CallToolResult)
    assert image.content[0].data == PNG  # type: ignore[union-attr]
    assert isinstance(failed, mcp_types.CallToolResult)
    assert failed.is_error is True


async def test_sdk_client_validates_our_structured_output() -> None:
    server = Server("structured")

    @server.tool()
    def area(width: int, height: int) -> dict[str, int]:
        return {"area": width * height}

    @server.tool()
    def double(n: int) -> int:
        return 2 * n

    with trio.fail_after(20):
        async with sdk_session(server) as session:
            await session.initialize()
            await session.list_tools()  # the SDK validates structuredContent against the listed outputSchema
            area_result = await session.call_tool("area", {"width": 3, "height": 4})
            double_result = await session.call_tool("double", {"n": 21})
    assert isinstance(area_result, mcp_types.CallToolResult)
    assert area_result.structured_content == {"area": 12}
    assert isinstance(double_result, mcp_types.CallToolResult)
    assert double_result.structured_content == {"result": 42}


async def test_sdk_client_reads_static_and_template_resources() -> None:
    with trio.fail_after(20):
        async with sdk_session(build_fixture_server()) as session:
            await session.initialize()
            listed = await session.list_resources()
            templates = await session.list_resource_templates()
            text = await session.read_resource("test://static-text")
            binary = await session.read_resource("test://static-binary")
            templated = await session.read_resource("test://template/42/data")
    assert {str(r.uri) for r in listed.resources} >= {"test://static-text", "test://static-binary"}
    assert [t.uri_template for t in templates.resource_templates] == ["test://template/{id}/data"]
    assert text.contents[0].text == "This is the content of the static text resource."  # type: ignore[union-attr]
    assert base64.b64decode(binary.contents[0].blob) == base64.b64decode(PNG)  # type: ignore[union-attr]
    assert templated.contents[0].text == '{"id":"42","templateTest":true,"data":"Data for ID: 42"}'  # type: ignore[union-attr]


async def test_sdk_client_gets_prompts_and_completions() -> None:
    with trio.fail_after(20):
        async with sdk_session(build_fixture_server()) as session:
            await session.initialize()
            prompts = await session.list_prompts()
            prompt = await session.get_prompt("test_prompt_with_arguments", {"arg1": "a", "arg2": "b"})
            completion = await session.complete(
                mcp_types.PromptReference(type="ref/prompt", name="test_prompt_with_arguments"),
                {"name": "arg1", "value": "par"},
            )
    assert "test_simple_prompt" in {p.name for p in prompts.prompts}
    assert prompt.messages[0].content.text == "Prompt with arguments: arg1='a', arg2='b'"  # type: ignore[union-attr]
    assert completion.completion.values == ["paris", "park", "parameter"]
    assert completion.completion.total == 3


async def test_sdk_client_answers_sampling_and_elicitation_mid_call() -> None:
    with trio.fail_after(20):
        async with sdk_session(
            build_fixture_server(), sampling_callback=sampling_callback, elicitation_callback=elicitation_callback
        ) as session:
            await session.initialize()
            sampled = await session.call_tool("test_sampling", {"prompt": "ping?"})
            elicited = await session.call_tool("test_elicitation", {"message": "Who are you?"})
    assert isinstance(sampled, mcp_types.CallToolResult)
    assert sampled.content[0].text == "LLM response: echo: ping?"  # type: ignore[union-attr]
    assert isinstance(elicited, mcp_types.CallToolResult)
    assert elicited.content[0].text == (  # type: ignore[union-attr]
        'User response: action=accept, content={"username": "sdk-user", "email": "u@example.com"}'
    )


async def test_sdk_client_over_stdio_against_the_cli() -> None:
    params = StdioServerParameters(command=MCP_TRIO, args=["serve", "mcp_trio.conformance_fixture:server", "--stdio"])
    with trio.fail_after(30):
        async with (
            stdio_client(params) as (read, write),
            ClientSession(read, write, sampling_callback=sampling_callback) as session,
        ):
            init = await session.initialize()
            result = await session.call_tool("test_simple_text", {})
            sampled = await session.call_tool("test_sampling", {"prompt": "over stdio"})
            resource = await session.read_resource("test://static-text")
    assert init.server_info.name == "mcp-trio-conformance"
    assert result.content[0].text == "This is a simple text response for testing."  # type: ignore[union-attr]
    assert sampled.content[0].text == "LLM response: echo: over stdio"  # type: ignore[union-attr]
    assert resource.contents[0].text == "This is the content of the static text resource."  # type: ignore[union-attr]


@pytest.mark.parametrize("tool", ["test_simple_text"])
async def test_sdk_client_on_the_modern_wire(tool: str) -> None:
    with trio.fail_after(20):
        async with sdk_session(build_fixture_server()) as session:
            discovered = await session.discover()
            result = await session.call_tool(tool, {})
    assert "2026-07-28" in discovered.supported_versions
    assert isinstance(result, mcp_types.CallToolResult)
    assert result.content[0].text == "This is a simple text response for testing."  # type: ignore[union-attr]
