"""The fixture server the official conformance suite (``@modelcontextprotocol/conformance``) expects.

Every name and text here is fixed by the suite (see ``docs/conformance.md``); the server is written with the
public API only, so passing the suite exercises what users write. Serve it with
``mcp-trio serve mcp_trio.conformance_fixture:server --http 127.0.0.1:3001``.
"""

from __future__ import annotations

import base64
import json
from typing import Annotated, Any

import msgspec
import trio

from mcp_trio.protocol.errors import McpError, MissingClientCapability
from mcp_trio.protocol.types import (
    AudioContent,
    CreateMessageParams,
    CreateMessageRequest,
    ElicitRequest,
    ElicitRequestParams,
    ElicitResult,
    EmbeddedResource,
    ImageContent,
    ListRootsRequest,
    PromptMessage,
    ResourceContents,
    SamplingMessage,
    TextContent,
    capability_enabled,
)
from mcp_trio.server.context import Context
from mcp_trio.server.server import Server
from mcp_trio.server.tools import ToolError

__all__ = ["build_fixture_server", "server"]

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
WAV = "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA="

JSON_SCHEMA_2020_12: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "$defs": {
        "address": {
            "$anchor": "addressDef",
            "type": "object",
            "properties": {"street": {"type": "string"}, "city": {"type": "string"}},
        }
    },
    "properties": {
        "name": {"type": "string"},
        "address": {"$ref": "#/$defs/address"},
        "contactMethod": {"type": "string", "enum": ["phone", "email"]},
        "phone": {"type": "string"},
        "email": {"type": "string"},
    },
    "allOf": [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}],
    "if": {"properties": {"contactMethod": {"const": "phone"}}, "required": ["contactMethod"]},
    "then": {"required": ["phone"]},
    "else": {"required": ["email"]},
    "additionalProperties": False,
}


def _object(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


def _elicit(message: str, schema: dict[str, Any]) -> ElicitRequest:
    return ElicitRequest(params=ElicitRequestParams(message=message, requested_schema=schema))


def _sample(text: str, max_tokens: int) -> CreateMessageRequest:
    return CreateMessageRequest(
        params=CreateMessageParams(
            messages=[SamplingMessage(role="user", content=TextContent(text=text))], max_tokens=max_tokens
        )
    )


def _text_of(answer: Any) -> str:
    content = getattr(answer, "content", None)
    if isinstance(content, TextContent):
        return content.text
    if isinstance(content, list) and content and isinstance(content[0], TextContent):
        return content[0].text
    return json.dumps(msgspec.to_builtins(answer))


def _content(answer: Any) -> dict[str, Any]:
    content = answer.content if isinstance(answer, ElicitResult) else None
    return content if isinstance(content, dict) else {}


def _add_content_tools(server: Server) -> None:
    @server.tool()
    def test_simple_text() -> str:
        """Returns a simple text response."""
        return "This is a simple text response for testing."

    @server.tool()
    def test_image_content() -> ImageContent:
        """Returns an image (a 1x1 PNG)."""
        return ImageContent(data=PNG, mime_type="image/png")

    @server.tool()
    def test_audio_content() -> AudioContent:
        """Returns audio (a tiny WAV)."""
        return AudioContent(data=WAV, mime_type="audio/wav")

    @server.tool()
    def test_embedded_resource() -> EmbeddedResource:
        """Returns an embedded text resource."""
        return EmbeddedResource(
            resource=ResourceContents(
                uri="test://embedded-resource", mime_type="text/plain", text="This is an embedded resource content."
            )
        )

    @server.tool()
    def test_multiple_content_types() -> list[TextContent | ImageContent | EmbeddedResource]:
        """Returns text, an image and an embedded resource."""
        return [
            TextContent(text="Multiple content types test:"),
            ImageContent(data=PNG, mime_type="image/png"),
            EmbeddedResource(
                resource=ResourceContents(
                    uri="test://mixed-content-resource",
                    mime_type="application/json",
                    text='{"test":"data","value":123}',
                )
            ),
        ]

    @server.tool()
    def test_error_handling() -> str:
        """Always fails, as a tool error the model can read."""
        raise ToolError("This tool intentionally returns an error for testing")

    @server.tool(input_schema=JSON_SCHEMA_2020_12)
    def json_schema_2020_12_tool(
        name: str | None = None,
        address: dict[str, Any] | None = None,
        contactMethod: str | None = None,  # noqa: N803 - the suite's property name
        phone: str | None = None,
        email: str | None = None,
    ) -> str:
        """Publishes a JSON Schema 2020-12 input schema verbatim ($schema, $defs, composition, conditionals)."""
        return f"Received: name={name}, contactMethod={contactMethod}"

    @server.tool()
    def test_x_mcp_header(
        region: Annotated[str, msgspec.Meta(extra_json_schema={"x-mcp-header": "Region"})] = "<none>",
    ) -> str:
        """Echoes a parameter that clients mirror into the Mcp-Param-Region header."""
        return f"region={region}"


def _add_context_tools(server: Server) -> None:
    @server.tool()
    async def test_tool_with_progress(ctx: Context) -> str:
        """Reports progress 0, 50 and 100 of 100."""
        for step in (0, 50, 100):
            await ctx.report_progress(step, 100, f"Completed step {step} of 100")
            if step < 100:
                await trio.sleep(0.05)
        return "Progress test completed"

    @server.tool()
    async def test_tool_with_logging(ctx: Context) -> str:
        """Sends three info log messages while it runs."""
        await ctx.info("Tool execution started")
        await trio.sleep(0.05)
        await ctx.info("Tool processing data")
        await trio.sleep(0.05)
        await ctx.info("Tool execution completed")
        return "Tool with logging executed successfully"

    @server.tool()
    async def test_sampling(prompt: str, ctx: Context) -> str:
        """Asks the client's model to answer ``prompt``."""
        answer = (await ctx.request_inputs({"sampling": _sample(prompt, 100)}))["sampling"]
        return f"LLM response: {_text_of(answer)}"

    @server.tool()
    async def test_elicitation(message: str, ctx: Context) -> str:
        """Asks the user for a username and an email address."""
        schema = _object(
            {
                "username": {"type": "string", "description": "User's response"},
                "email": {"type": "string", "description": "User's email address"},
            },
            ["username", "email"],
        )
        answer = await ctx.elicit(message, schema)
        return f"User response: action={answer.action}, content={json.dumps(answer.content)}"

    @server.tool()
    async def test_elicitation_sep1034_defaults(ctx: Context) -> str:
        """Elicits a form whose fields all have defaults (SEP-1034)."""
        schema = _object(
            {
                "name": {"type": "string", "description": "User name", "default": "John Doe"},
                "age": {"type": "integer", "description": "User age", "default": 30},
                "score": {"type": "number", "description": "User score", "default": 95.5},
                "status": {
                    "type": "string",
                    "description": "User status",
                    "enum": ["active", "inactive", "pending"],
                    "default": "active",
                },
                "verified": {"type": "boolean", "description": "Verification status", "default": True},
            }
        )
        answer = await ctx.elicit("Please provide user information", schema)
        return f"Elicitation result: action={answer.action}, content={json.dumps(answer.content)}"

    @server.tool()
    async def test_elicitation_sep1330_enums(ctx: Context) -> str:
        """Elicits every enum shape of SEP-1330."""
        schema = _object(
            {
                "untitledSingle": {"type": "string", "enum": ["option1", "option2", "option3"]},
                "titledSingle": {
                    "type": "string",
                    "oneOf": [
                        {"const": "value1", "title": "First Option"},
                        {"const": "value2", "title": "Second Option"},
                        {"const": "value3", "title": "Third Option"},
                    ],
                },
                "legacyEnum": {
                    "type": "string",
                    "enum": ["opt1", "opt2", "opt3"],
                    "enumNames": ["Option One", "Option Two", "Option Three"],
                },
                "untitledMulti": {"type": "array", "items": {"type": "string", "enum": ["a", "b", "c"]}},
                "titledMulti": {
                    "type": "array",
                    "items": {
                        "anyOf": [
                            {"const": "v1", "title": "Value One"},
                            {"const": "v2", "title": "Value Two"},
                            {"const": "v3", "title": "Value Three"},
                        ]
                    },
                },
            }
        )
        answer = await ctx.elicit("Please select options", schema)
        return f"Elicitation completed: action={answer.action}, content={json.dumps(answer.content)}"

    @server.tool()
    async def test_reconnection(ctx: Context) -> str:
        """Closes its SSE stream mid-call; the client resumes and still gets the result (SEP-1699)."""
        await ctx.info("Before disconnect")
        await ctx.close_stream(retry_ms=100)
        await trio.sleep(0.2)
        await ctx.info("After reconnect")
        return "Reconnection test completed"

    @server.tool()
    def test_missing_capability(ctx: Context) -> str:
        """Needs the client's sampling capability (-32021 without it)."""
        if not capability_enabled(ctx.client_capabilities, "sampling"):
            raise MissingClientCapability("this tool needs the sampling capability", {"sampling": {}})
        return "sampling capability present"

    @server.tool()
    async def test_streaming_elicitation(ctx: Context) -> str:
        """Elicits mid-call: a request on the legacy wire, an InputRequiredResult (never a request) on the modern."""
        answer = await ctx.elicit("Stream check: what is your name?", _object({"name": {"type": "string"}}))
        return f"Elicited: {json.dumps(_content(answer))}"

    @server.tool()
    async def test_logging_tool(ctx: Context) -> str:
        """Logs at every level; nothing reaches a modern client that did not set a log level."""
        for level in ("debug", "info", "warning", "error"):
            await ctx.log(level, f"a {level} message")
        return "Logged at debug, info, warning and error"

    @server.tool()
    def test_trigger_tool_change() -> str:
        """Adds or removes a tool, so listeners get tools/list_changed."""
        if "test_dynamic_tool" in server.tools:
            server.remove_tool("test_dynamic_tool")
        else:
            server.add_tool(lambda: "dynamic", name="test_dynamic_tool", description="Appears and disappears.")
        return "tool list changed"

    @server.tool()
    def test_trigger_prompt_change() -> str:
        """Adds or removes a prompt, so listeners get prompts/list_changed."""
        if "test_dynamic_prompt" in server.prompts:
            server.remove_prompt("test_dynamic_prompt")
        else:
            server.add_prompt(lambda: "dynamic", name="test_dynamic_prompt", description="Appears and disappears.")
        return "prompt list changed"


def _add_input_required_tools(server: Server) -> None:
    name_schema = _object({"name": {"type": "string"}}, ["name"])

    @server.tool()
    async def test_input_required_result_elicitation(ctx: Context) -> str:
        """Asks for the user's name (MRTR)."""
        answer = await ctx.elicit("What is your name?", name_schema, key="user_name")
        return f"Hello, {_content(answer).get('name', 'stranger')}!"

    @server.tool()
    async def test_input_required_result_sampling(ctx: Context) -> str:
        """Asks the client's model a question (MRTR)."""
        answer = await ctx.request_inputs({"capital_question": _sample("What is the capital of France?", 100)})
        return f"The model answered: {_text_of(answer['capital_question'])}"

    @server.tool()
    async def test_input_required_result_list_roots(ctx: Context) -> str:
        """Asks for the client's roots (MRTR)."""
        roots = await ctx.list_roots(key="client_roots")
        return "Roots: " + ", ".join(root.uri for root in roots.roots)

    @server.tool()
    async def test_input_required_result_request_state(ctx: Context) -> str:
        """Carries application state across rounds in the sealed requestState."""
        schema = _object({"ok": {"type": "boolean"}}, ["ok"])
        await ctx.request_inputs({"confirm": _elicit("Please confirm", schema)}, state="state-ok")
        return f"Confirmed with {ctx.request_state or 'no state'}"

    @server.tool()
    async def test_input_required_result_multiple_inputs(ctx: Context) -> str:
        """Asks for three inputs in one round."""
        answers = await ctx.request_inputs(
            {
                "user_name": _elicit("What is your name?", name_schema),
                "greeting": _sample("Generate a greeting", 50),
                "client_roots": ListRootsRequest(),
            }
        )
        return f"{_text_of(answers['greeting'])}, {_content(answers['user_name']).get('name', 'stranger')}!"

    @server.tool()
    async def test_input_required_result_multi_round(ctx: Context) -> str:
        """Asks two questions in two rounds."""
        first = await ctx.elicit("Step 1: What is your name?", name_schema, key="step1")
        color_schema = _object({"color": {"type": "string"}}, ["color"])
        second = await ctx.elicit("Step 2: What is your favorite color?", color_schema, key="step2")
        return f"{_content(first).get('name')} likes {_content(second).get('color')}."

    @server.tool()
    async def test_input_required_result_tampered_state(ctx: Context) -> str:
        """Issues sealed state; a tampered one is rejected with -32602."""
        schema = _object({"ok": {"type": "boolean"}}, ["ok"])
        await ctx.request_inputs({"confirm": _elicit("Please confirm", schema)}, state="sealed")
        return "State verified"

    @server.tool()
    async def test_input_required_result_capabilities(ctx: Context) -> str:
        """Asks only for inputs the client declared it can provide."""
        caps = ctx.client_capabilities
        wanted: dict[str, Any] = {}
        if capability_enabled(caps, "sampling"):
            wanted["sample"] = _sample("Say hello", 50)
        if capability_enabled(caps, "elicitation"):
            wanted["ask"] = _elicit("Say hello", name_schema)
        if not wanted:
            return "Nothing to ask: the client declared neither sampling nor elicitation"
        await ctx.request_inputs(wanted, state="capability-gated")
        return "Received every input the client could give"

    @server.prompt()
    async def test_input_required_result_prompt(ctx: Context) -> list[PromptMessage]:
        """A prompt that asks which context to use (MRTR on prompts/get)."""
        schema = _object({"context": {"type": "string"}}, ["context"])
        answer = await ctx.elicit("What context should the prompt use?", schema, key="user_context")
        text = f"Use the following context: {_content(answer).get('context', '')}"
        return [PromptMessage(role="user", content=TextContent(text=text))]


def _add_task_tools(server: Server) -> None:
    """The tasks extension's fixtures (io.modelcontextprotocol/tasks)."""
    confirm_schema = _object({"confirm": {"type": "boolean"}}, ["confirm"])

    @server.tool()
    def greet(name: str) -> str:
        """Greets synchronously; never a task."""
        return f"Hello, {name}!"

    @server.tool(task_support="optional")
    async def slow_compute(seconds: float, label: str = "") -> str:
        """Sleeps for ``seconds``, as a task when the client accepts tasks."""
        await trio.sleep(max(0.0, seconds))
        return f"{label or 'compute'} finished after {seconds}s"

    @server.tool(task_support="required")
    async def failing_job() -> str:
        """A task whose tool fails (a completed task with an isError result)."""
        await trio.sleep(0.5)
        raise ToolError("the job failed, as designed")

    @server.tool(task_support="optional")
    async def protocol_error_job() -> str:
        """A task that fails with a JSON-RPC error (a failed task)."""
        await trio.sleep(0.1)
        raise McpError("the job hit a protocol error, as designed", code=-32603)

    @server.tool(task_support="optional")
    async def confirm_delete(filename: str, ctx: Context) -> str:
        """Asks for confirmation (input_required), then finishes."""
        answer = await ctx.elicit(f"Delete {filename}?", confirm_schema, key="confirm")
        confirmed = _content(answer).get("confirm") is True
        return f"{filename} {'deleted' if confirmed else 'kept'}"

    @server.tool(task_support="optional")
    async def multi_input(ctx: Context) -> str:
        """Asks two questions at once; they may be answered one at a time."""
        schema = _object({"name": {"type": "string"}, "confirm": {"type": "boolean"}})
        answers = await ctx.request_inputs(
            {"first": _elicit("First question", schema), "second": _elicit("Second question", schema)}
        )
        return f"answers: {sorted(answers)}"

    @server.tool(task_support="required", task_start="on_detach")
    async def test_tool_with_task(ctx: Context) -> str:
        """Asks for a name by MRTR, then continues as a task."""
        answer = await ctx.elicit(
            "What is your name?", _object({"name": {"type": "string"}}, ["name"]), key="user_name"
        )
        await ctx.detach()
        await trio.sleep(0.1)
        return f"Hello, {_content(answer).get('name', 'stranger')}, from a task!"


def _add_resources_and_prompts(server: Server) -> None:
    server.add_resource(
        lambda: "This is the content of the static text resource.",
        "test://static-text",
        name="static-text",
        description="A static text resource for testing",
        mime_type="text/plain",
    )
    server.add_resource(
        lambda: base64.b64decode(PNG),
        "test://static-binary",
        name="static-binary",
        description="A static binary resource (a 1x1 PNG) for testing",
        mime_type="image/png",
    )
    server.add_resource(
        lambda: "Watched resource content",
        "test://watched-resource",
        name="watched-resource",
        description="A resource clients can subscribe to",
        mime_type="text/plain",
    )

    @server.resource_template(
        "test://template/{id}/data", name="template", description="A templated resource", mime_type="application/json"
    )
    def template_data(id: str) -> str:
        return json.dumps({"id": id, "templateTest": True, "data": f"Data for ID: {id}"}, separators=(",", ":"))

    @server.prompt()
    def test_simple_prompt() -> str:
        """A prompt without arguments."""
        return "This is a simple prompt for testing."

    @server.prompt()
    def test_prompt_with_arguments(arg1: str, arg2: str) -> str:
        """A prompt with two required arguments."""
        return f"Prompt with arguments: arg1='{arg1}', arg2='{arg2}'"

    @server.completion(argument="arg1", prompt="test_prompt_with_arguments")
    def complete_arg1(value: str, context: dict[str, str]) -> list[str]:
        return [v for v in ("paris", "park", "parameter") if v.startswith(value)]

    @server.prompt()
    def test_prompt_with_embedded_resource(resourceUri: str) -> list[PromptMessage]:  # noqa: N803 - wire name
        """A prompt that embeds a resource."""
        resource = ResourceContents(
            uri=resourceUri, mime_type="text/plain", text="Embedded resource content for testing."
        )
        return [
            PromptMessage(role="user", content=EmbeddedResource(resource=resource)),
            PromptMessage(role="user", content=TextContent(text="Please process the embedded resource above.")),
        ]

    @server.prompt()
    def test_prompt_with_image() -> list[PromptMessage]:
        """A prompt that includes an image."""
        return [
            PromptMessage(role="user", content=ImageContent(data=PNG, mime_type="image/png")),
            PromptMessage(role="user", content=TextContent(text="Please analyze the image above.")),
        ]


def build_fixture_server() -> Server:
    """A fresh fixture server (tests build their own so state never leaks between them)."""
    server = Server(
        "mcp-trio-conformance",
        "1.0.0",
        instructions="The fixture server of the official MCP conformance suite.",
    )
    _add_content_tools(server)
    _add_context_tools(server)
    _add_input_required_tools(server)
    _add_resources_and_prompts(server)
    _add_task_tools(server)
    return server


server = build_fixture_server()
