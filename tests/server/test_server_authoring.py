"""Authoring rules a user of the official SDK expects: a ``{variable}`` URI is a template, duplicates are refused
the same way for every kind, and a target that is not a server gets a clear error."""

from __future__ import annotations

import re
import subprocess
import sys
from contextlib import asynccontextmanager
from typing import Annotated, Any

import annotated_types
import pytest
from pydantic import Field

from mcp_trio import Context, Server
from mcp_trio.protocol.errors import LocalProtocolError
from mcp_trio.testing import open_client


async def test_a_resource_uri_with_variables_is_a_template() -> None:
    server = Server("templates")

    @server.resource("greeting://{name}", mime_type="text/plain")
    def greeting(name: str) -> str:
        return f"Hello, {name}!"

    assert [t.template.uri_template for t in server.templates] == ["greeting://{name}"]
    assert not server.resources
    async with open_client(server) as client:
        await client.initialize()
        answer = await client.request("resources/read", {"uri": "greeting://bob"})
        assert answer["result"]["contents"][0]["text"] == "Hello, bob!"


def test_duplicates_are_refused_for_every_kind() -> None:
    server = Server("duplicates")
    server.add_resource(lambda: "a", "mem://a")

    def named(name: str) -> str:
        return name

    server.add_resource_template(named, "mem://t/{name}")

    def summary(text: str) -> str:
        return text

    server.add_prompt(summary)
    with pytest.raises(LocalProtocolError, match="resource 'mem://a' is already registered"):
        server.add_resource(lambda: "b", "mem://a")
    with pytest.raises(LocalProtocolError, match=re.escape("resource template 'mem://t/{name}' is already registered")):
        server.add_resource(named, "mem://t/{name}")  # a {variable} URI: a template, and this one exists
    with pytest.raises(LocalProtocolError, match="prompt 'summary' is already registered"):
        server.add_prompt(summary)


def test_a_target_whose_factory_fails_gets_one_clear_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mcp_trio", "serve", "json:dumps"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "calling json:dumps() to build the server failed: TypeError" in done.stderr
    assert "Traceback" not in done.stderr


async def test_lifespan_read_resource_and_logger_name_as_in_the_sdk() -> None:
    events: list[str] = []

    @asynccontextmanager
    async def lifespan(server: Server) -> Any:
        events.append("start")
        yield {"db": "pool"}
        events.append("stop")

    server = Server("sdk-style", lifespan=lifespan)

    @server.resource("config://app")
    def app_config() -> str:
        return "debug=false"

    @server.resource("users://{user}/name")
    def user_name(user: str) -> str:
        return user.title()

    @server.tool()
    async def describe(ctx: Context) -> str:
        await ctx.info("describing", logger_name="audit")
        config = await ctx.read_resource("config://app")
        name = await ctx.read_resource("users://ada/name")
        return f"{ctx.lifespan_context['db']} {config.contents[0].text} {name.contents[0].text}"

    async with open_client(server) as client:
        await client.initialize()
        await client.request("logging/setLevel", {"level": "info"})
        answer = await client.request("tools/call", {"name": "describe"})
        assert answer["result"]["content"][0]["text"] == "pool debug=false Ada"
        log = next(n for n in client.notifications if n["method"] == "notifications/message")
        assert log["params"]["logger"] == "audit"
    assert events == ["start", "stop"]


def test_run_names_the_transports_it_has() -> None:
    with pytest.raises(ValueError, match="unknown transport 'sse'"):
        Server("x").run("sse")


async def test_pydantic_field_and_annotated_constraints_are_published_and_enforced() -> None:
    server = Server("constraints")

    @server.tool(blocking=False)
    def repeat(
        text: Annotated[str, Field(min_length=1, description="what to repeat")],
        count: Annotated[int, Field(ge=0, le=5, description="how many times")],
        sep: Annotated[str, "the separator"] = " ",
        times: int = Field(1, ge=1, description="outer repeats"),  # the SDK's style
        scale: Annotated[float, annotated_types.Gt(0)] = 1.0,
    ) -> str:
        return sep.join([text] * count * times) + ("" if scale == 1.0 else f" x{scale}")

    schema = server.tools["repeat"].tool.input_schema
    properties = schema["properties"]
    assert properties["count"]["minimum"] == 0
    assert properties["count"]["maximum"] == 5
    assert properties["count"]["description"] == "how many times"
    assert properties["text"]["minLength"] == 1
    assert properties["sep"]["description"] == "the separator"
    assert properties["times"]["default"] == 1
    assert properties["times"]["minimum"] == 1
    assert properties["scale"]["exclusiveMinimum"] == 0
    assert set(schema["required"]) == {"text", "count"}
    async with open_client(server) as client:
        await client.initialize()
        good = await client.request("tools/call", {"name": "repeat", "arguments": {"text": "a", "count": 2}})
        assert good["result"]["content"][0]["text"] == "a a"
        bad = await client.request("tools/call", {"name": "repeat", "arguments": {"text": "a", "count": -1}})
        assert bad["result"]["isError"] is True
        assert "count" in bad["result"]["content"][0]["text"]


def test_annotated_metadata_that_cannot_be_enforced_is_refused_naming_the_parameter() -> None:
    server = Server("refused")

    def odd(value: Annotated[int, object()]) -> int:
        return value

    with pytest.raises(LocalProtocolError, match="parameter 'value': Annotated metadata"):
        server.add_tool(odd)


async def test_an_sdk_style_completion_handler_answers_what_no_specific_completer_takes() -> None:
    from mcp_trio.protocol.types import Completion, PromptReference

    server = Server("completions")

    def summarize(text: str, style: str = "short") -> str:
        return text

    server.add_prompt(summarize)

    @server.completion(argument="style", prompt="summarize", blocking=False)
    def styles(value: str, context: dict[str, str]) -> list[str]:
        return [s for s in ("short", "long") if s.startswith(value)]

    seen: list[tuple[str, str]] = []

    @server.completion()
    async def everything(ref: Any, argument: Any, context: Any) -> Completion | None:
        seen.append((type(ref).__name__, argument.name))
        if isinstance(ref, PromptReference) and argument.name == "text":
            return Completion(values=["hello", "help"])
        return None

    async with open_client(server) as client:
        await client.initialize()

        async def complete(argument: str, value: str) -> list[str]:
            params = {
                "ref": {"type": "ref/prompt", "name": "summarize"},
                "argument": {"name": argument, "value": value},
            }
            answer = await client.request("completion/complete", params)
            values: list[str] = answer["result"]["completion"]["values"]
            return values

        assert await complete("style", "l") == ["long"]  # the specific completer
        assert await complete("text", "he") == ["hello", "help"]  # the SDK-style handler
        uri_params = {"ref": {"type": "ref/resource", "uri": "x://{id}"}, "argument": {"name": "id", "value": ""}}
        answer = await client.request("completion/complete", uri_params)
        assert answer["result"]["completion"]["values"] == []  # it returned None
    assert seen == [("PromptReference", "text"), ("ResourceTemplateReference", "id")]


@pytest.mark.parametrize("era", ["legacy", "modern"])
async def test_elicit_with_a_pydantic_model_returns_the_model(era: str) -> None:
    import trio.testing
    from pydantic import BaseModel

    from mcp_trio.client import ClientConfig
    from mcp_trio.client import open_client as open_real_client
    from mcp_trio.protocol.types import ElicitRequestParams, ElicitResult

    class Person(BaseModel):
        name: str
        age: int = 30

    server = Server("models")

    @server.tool()
    async def who(ctx: Context) -> str:
        answer = await ctx.elicit("who are you?", schema=Person)
        return f"{answer.action}: {answer.data.name} {answer.data.age}" if answer.data else answer.action

    async def reply(params: ElicitRequestParams) -> ElicitResult:
        assert params.requested_schema["properties"]["age"]["default"] == 30
        return ElicitResult(action="accept", content={"name": "Ada"})

    client_stream, server_stream = trio.testing.memory_stream_pair()
    async with server.open_runtime() as runtime:
        runtime.serve_stream(server_stream)
        config = ClientConfig(era=era)  # type: ignore[arg-type]
        async with open_real_client(client_stream, config=config, elicitation=reply) as client:
            result = await client.call_tool("who")
            assert result.content[0].text == "accept: Ada 30"  # type: ignore[union-attr]
