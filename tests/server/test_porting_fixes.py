"""What porting servers from the official SDK found missing (see ``tests/porting`` and ``docs/porting.md``): each
test is one SDK idiom that must work unchanged on our ``Server``."""

from __future__ import annotations

import dataclasses
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio
from pydantic import BaseModel, Field

from mcp_trio import Context, Server
from mcp_trio.protocol.types import ImageContent, PromptMessage, TextContent
from mcp_trio.server.context import _model_schema
from mcp_trio.server.prompts import AssistantMessage, Message, UserMessage, to_prompt_result
from mcp_trio.server.resources import to_read_result
from mcp_trio.testing import open_client


async def test_the_lifespan_value_is_reached_through_request_context() -> None:
    @asynccontextmanager
    async def lifespan(server: Server) -> Any:
        yield {"db": "pool"}

    server = Server("lifespan", lifespan=lifespan)

    @server.tool()
    async def which(ctx: Context[dict[str, str]]) -> str:  # the SDK's Context is generic in the lifespan value
        request = ctx.request_context  # the SDK's spelling: ctx.request_context.lifespan_context
        return f"{request.lifespan_context['db']} {request.request_id}"

    assert server.tools["which"].context_parameter == "ctx"
    async with open_client(server) as client:
        await client.initialize()
        answer = await client.request("tools/call", {"name": "which"})
    assert answer["result"]["content"][0]["text"] == f"pool {answer['id']}"


async def test_read_resource_iterates_as_the_sdk_result_and_keeps_contents() -> None:
    server = Server("reader")

    @server.resource("mem://text", mime_type="text/markdown")
    def text() -> str:
        return "# hi"

    @server.resource("mem://{name}/bytes")
    def raw(name: str) -> bytes:
        return name.encode()

    @server.tool()
    async def read(ctx: Context) -> str:
        text = await ctx.read_resource("mem://text")
        (item,) = text  # the SDK returns an iterable of ReadResourceContents
        blob = (await ctx.read_resource("mem://ab/bytes"))[0]
        assert len(text) == 1
        return f"{item.content} {item.mime_type} {blob.content!r} {blob.mime_type} {text.contents[0].text}"

    async with open_client(server) as client:
        await client.initialize()
        answer = await client.request("tools/call", {"name": "read"})
    assert answer["result"]["content"][0]["text"] == "# hi text/markdown b'ab' None # hi"


class Preferences(BaseModel):
    """What to book."""

    confirm: bool = Field(description="Book it?")
    notes: str | None = Field(default=None, description="Anything else")
    seats: int = 2


def test_an_elicitation_form_has_no_null_types_and_no_none_defaults() -> None:
    schema = _model_schema(Preferences)
    # A null type no form answer may carry (a client filling defaults would send a null and be refused).
    assert schema["properties"]["notes"] == {"description": "Anything else", "title": "Notes", "type": "string"}
    assert schema["properties"]["seats"]["default"] == 2
    assert schema["required"] == ["confirm"]
    assert "title" not in schema


def test_an_elicitation_form_refuses_what_a_form_cannot_hold() -> None:
    class Nested(BaseModel):
        tags: list[str]

    with pytest.raises(TypeError, match=r"Nested\.tags: an elicitation form cannot hold"):
        _model_schema(Nested)


async def test_an_accepted_answer_the_model_refuses_is_a_tool_error_as_in_the_sdk() -> None:
    server = Server("booking")

    @server.tool()
    async def book(ctx: Context) -> str:
        answer = await ctx.elicit("book?", schema=Preferences)
        return str(answer.data)

    async def answer(request: dict[str, Any]) -> dict[str, Any]:
        assert "anyOf" not in str(request["params"]["requestedSchema"])
        return {"action": "accept", "content": {"notes": "window"}}  # confirm is missing

    async with open_client(server, on_request=answer) as client:
        await client.initialize({"elicitation": {"form": {}}})
        reply = await client.request("tools/call", {"name": "book"})
    assert reply["result"]["isError"] is True
    assert "ValueError: the elicited answer does not fit Preferences" in reply["result"]["content"][0]["text"]


def test_prompts_return_the_sdk_message_helpers_dicts_blocks_and_strings() -> None:
    image = ImageContent(data="AA==", mime_type="image/png")
    result = to_prompt_result(
        [
            UserMessage("question"),
            AssistantMessage(TextContent(text="answer")),
            Message("again", role="assistant"),
            {"role": "user", "content": {"type": "text", "text": "from a dict"}},
            image,
            "plain",
        ]
    )
    assert result.messages == [
        PromptMessage(role="user", content=TextContent(text="question")),
        PromptMessage(role="assistant", content=TextContent(text="answer")),
        PromptMessage(role="assistant", content=TextContent(text="again")),
        PromptMessage(role="user", content=TextContent(text="from a dict")),
        PromptMessage(role="user", content=image),
        PromptMessage(role="user", content=TextContent(text="plain")),
    ]
    assert to_prompt_result(AssistantMessage("one")).messages[0].role == "assistant"
    with pytest.raises(TypeError, match="a prompt returned int"):
        to_prompt_result([1])


def test_a_resource_returning_data_is_served_as_json_text_as_in_the_sdk() -> None:
    class Limits(BaseModel):
        notes: int

    data = to_read_result("config://limits", None, {"max": 100, "name": "ñ"})
    assert data.contents[0].text == '{\n  "max": 100,\n  "name": "ñ"\n}'
    model = to_read_result("config://limits", "application/json", [Limits(notes=3)])
    assert model.contents[0].text == '[\n  {\n    "notes": 3\n  }\n]'
    assert model.contents[0].mime_type == "application/json"

    @dataclasses.dataclass
    class Point:
        x: int

    assert to_read_result("mem://p", None, Point(1)).contents[0].text == '{\n  "x": 1\n}'


def test_run_takes_the_sdk_name_of_the_http_path(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[Any] = []
    monkeypatch.setattr(trio, "run", lambda fn, *args: started.append((fn, args)))
    server = Server("http")
    server.run(transport="streamable-http", port=8123, streamable_http_path="/api/mcp")
    ((serve, rest),) = started
    assert rest == ()
    assert serve.func == server.serve_http
    assert serve.args == ("127.0.0.1", 8123)
    assert serve.keywords == {"path": "/api/mcp"}
