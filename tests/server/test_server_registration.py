"""The registration API: what ``add_tool`` and friends derive from plain functions, and what they refuse."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import msgspec
import pytest
from server_test_helpers import call, legacy_client, result_of, text_of

from mcp_trio.protocol.errors import LocalProtocolError
from mcp_trio.protocol.types import ToolAnnotations
from mcp_trio.server.config import ServerConfig
from mcp_trio.server.context import Context
from mcp_trio.server.server import Server
from mcp_trio.server.tools import ToolDefinition


def test_add_tool_returns_its_definition_and_the_decorator_returns_the_function_unchanged() -> None:
    server = Server("reg")

    def plain(a: int) -> int:
        return a

    definition = server.add_tool(plain)
    assert isinstance(definition, ToolDefinition)
    assert definition.name == "plain"
    assert definition.fn is plain
    assert server.tools["plain"] is definition

    @server.tool(name="renamed")
    def decorated(a: int) -> int:
        return a + 1

    assert decorated(1) == 2  # still a plain function
    assert decorated.__name__ == "decorated"
    assert server.tools["renamed"].fn is decorated


def test_input_schema_from_type_hints_with_descriptions_defaults_and_optionals() -> None:
    server = Server("reg")

    def search(
        query: Annotated[str, msgspec.Meta(description="What to look for")],
        limit: int = 10,
        tags: list[str] | None = None,
        exact: Optional[bool] = None,  # noqa: UP045 - the old spelling must work too
    ) -> str:
        return query

    schema = server.add_tool(search).tool.input_schema
    assert schema["type"] == "object"
    assert schema["required"] == ["query"]
    assert schema["properties"]["query"] == {"type": "string", "description": "What to look for"}
    assert schema["properties"]["limit"] == {"type": "integer", "default": 10}
    assert schema["properties"]["tags"]["default"] is None
    assert {"type": "null"} in schema["properties"]["tags"]["anyOf"]
    assert {"type": "null"} in schema["properties"]["exact"]["anyOf"]


def test_a_tool_without_parameters_has_an_empty_object_schema() -> None:
    server = Server("reg")
    schema = server.add_tool(lambda: "x", name="noargs").tool.input_schema
    assert schema["type"] == "object"
    assert schema["properties"] == {}
    assert not schema.get("required")


async def test_defaults_and_optionals_apply_when_arguments_are_omitted() -> None:
    server = Server("reg")

    @server.tool()
    def pick(name: str, times: int = 2, suffix: str | None = None) -> str:
        return name * times + (suffix or "")

    async with legacy_client(server) as client:
        assert text_of(result_of(await client.request("tools/call", call("pick", {"name": "ab"})))) == "abab"
        text = text_of(
            result_of(await client.request("tools/call", call("pick", {"name": "a", "times": 1, "suffix": "!"})))
        )
    assert text == "a!"


async def test_every_parameter_kind_receives_its_argument_by_name_whichever_way_it_is_called() -> None:
    """Functions whose parameters can all be passed by position are called positionally (the hot path); any
    keyword-only parameter, or a context parameter, makes the call by keyword. Each gets the right values."""
    server = Server("reg")

    def positional_only(a: str, b: int = 1, /) -> str:
        return f"{a}{b}"

    def keyword_only(a: str, *, b: int = 1, c: str = "c") -> str:
        return f"{a}{b}{c}"

    def mixed(a: str, b: int, c: str = "z") -> str:
        return f"{a}{b}{c}"

    def context_between(a: str, ctx: Context, b: int = 2) -> str:
        return f"{a}{b}"

    kinds = {}
    for fn in (positional_only, keyword_only, mixed, context_between):
        kinds[fn.__name__] = server.add_tool(fn, blocking=False).arguments.positional
    assert kinds == {"positional_only": True, "keyword_only": False, "mixed": True, "context_between": False}
    async with legacy_client(server) as client:

        async def text(name: str, arguments: dict[str, Any]) -> str:
            return text_of(result_of(await client.request("tools/call", call(name, arguments))))

        assert await text("positional_only", {"b": 5, "a": "x"}) == "x5"
        assert await text("positional_only", {"a": "x"}) == "x1"
        assert await text("keyword_only", {"c": "!", "a": "x"}) == "x1!"
        assert await text("mixed", {"b": 3, "a": "x"}) == "x3z"
        assert await text("mixed", {"c": "y", "b": 3, "a": "x"}) == "x3y"
        assert await text("context_between", {"b": 7, "a": "x"}) == "x7"


def test_docstring_is_the_description_unless_one_is_given() -> None:
    server = Server("reg")

    def documented() -> str:
        """First line.

        More detail.
        """
        return ""

    def undocumented() -> str:
        return ""

    assert server.add_tool(documented).tool.description == "First line.\n\nMore detail."
    assert server.add_tool(undocumented).tool.description is msgspec.UNSET
    assert server.add_tool(documented, name="other", description="Given.").tool.description == "Given."


def test_title_annotations_and_meta_are_published() -> None:
    server = Server("reg")
    tool = server.add_tool(
        lambda: "x",
        name="annotated",
        title="A Title",
        annotations=ToolAnnotations(read_only_hint=True),
        meta={"vendor/key": 1},
    ).tool
    encoded = msgspec.json.decode(msgspec.json.encode(tool))
    assert encoded["title"] == "A Title"
    assert encoded["annotations"] == {"readOnlyHint": True}
    assert encoded["_meta"] == {"vendor/key": 1}


@pytest.mark.parametrize("name", ["", "has space", "x" * 129, "ünï", "a/b", "semi;colon"])
def test_bad_tool_names_are_refused(name: str) -> None:
    server = Server("reg")
    with pytest.raises(LocalProtocolError, match="must be 1-128 characters"):
        server.add_tool(lambda: "x", name=name)
    assert server.tools == {}


@pytest.mark.parametrize("name", ["a", "A-b_c.d", "x" * 128, "0"])
def test_good_tool_names_are_accepted(name: str) -> None:
    assert Server("reg").add_tool(lambda: "x", name=name).name == name


def test_duplicate_tools_are_refused_and_the_first_stays() -> None:
    server = Server("reg")
    first = server.add_tool(lambda: "1", name="dup")
    with pytest.raises(LocalProtocolError, match="already registered"):
        server.add_tool(lambda: "2", name="dup")
    assert server.tools["dup"] is first


def test_var_args_and_kwargs_are_refused() -> None:
    server = Server("reg")

    def star(*args: int) -> int:
        return 0

    def double_star(**kwargs: int) -> int:
        return 0

    with pytest.raises(LocalProtocolError, match=r"\*args"):
        server.add_tool(star)
    with pytest.raises(LocalProtocolError, match=r"\*args"):
        server.add_tool(double_star)


def test_unannotated_and_unresolvable_parameters_are_refused() -> None:
    server = Server("reg")

    def untyped(a) -> str:  # type: ignore[no-untyped-def]
        return ""

    def unresolvable(a: NoSuchType) -> str:  # type: ignore[name-defined]  # noqa: F821
        return ""

    with pytest.raises(LocalProtocolError, match="needs a type hint"):
        server.add_tool(untyped)
    with pytest.raises(LocalProtocolError, match="cannot resolve"):
        server.add_tool(unresolvable)


async def test_the_context_parameter_is_detected_by_annotation_and_left_out_of_the_schema() -> None:
    server = Server("reg")

    def with_context(text: str, whatever_name: Context) -> str:
        return f"{text} {whatever_name.request_id} {whatever_name.era} {whatever_name.protocol_version}"

    definition = server.add_tool(with_context)
    assert definition.context_parameter == "whatever_name"
    assert list(definition.tool.input_schema["properties"]) == ["text"]
    assert definition.tool.input_schema["required"] == ["text"]
    async with legacy_client(server) as client:
        result = result_of(await client.request("tools/call", call("with_context", {"text": "hi"})))
    assert text_of(result) == "hi 2 legacy 2025-11-25"


def test_structured_output_can_be_forced_off_or_replaced() -> None:
    server = Server("reg")

    def number() -> int:
        return 1

    assert server.add_tool(number, name="off", structured_output=False).tool.output_schema is msgspec.UNSET
    custom = {"type": "object", "properties": {"n": {"type": "integer"}}}
    assert server.add_tool(number, name="custom", output_schema=custom).tool.output_schema == custom
    own_input = {"type": "object", "properties": {}}
    assert server.add_tool(number, name="input", input_schema=own_input).tool.input_schema == own_input


def test_structured_output_true_needs_a_describable_return() -> None:
    server = Server("reg")

    def untyped():  # type: ignore[no-untyped-def]
        return 1

    with pytest.raises(LocalProtocolError, match="structured_output"):
        server.add_tool(untyped, structured_output=True)


@pytest.mark.parametrize("hint", [str, type(None), "Optional[str]"])
def test_unstructured_returns_publish_no_output_schema(hint: Any) -> None:
    server = Server("reg")

    def f() -> Any:
        return None

    f.__annotations__["return"] = hint
    assert server.add_tool(f).tool.output_schema is msgspec.UNSET


async def test_a_pep_604_optional_str_return_is_unstructured_like_optional() -> None:
    server = Server("reg")

    def maybe() -> str | None:
        return "plain"

    assert server.add_tool(maybe).tool.output_schema is msgspec.UNSET
    async with legacy_client(server) as client:
        result = result_of(await client.request("tools/call", call("maybe")))
    assert result == {"content": [{"type": "text", "text": "plain"}]}


def test_capabilities_follow_what_is_registered() -> None:
    server = Server("reg", logging=False)
    assert msgspec.to_builtins(server.capabilities) == {}
    server.add_tool(lambda: "x", name="t")
    assert msgspec.to_builtins(server.capabilities) == {"tools": {"listChanged": True}}
    server.add_resource(lambda: "r", "a://r")
    server.add_prompt(lambda: "p", name="p")
    assert msgspec.to_builtins(server.capabilities) == {
        "completions": {},
        "prompts": {"listChanged": True},
        "resources": {"subscribe": True, "listChanged": True},
        "tools": {"listChanged": True},
    }
    server.remove_tool("t")
    assert "tools" not in msgspec.to_builtins(server.capabilities)


def test_remove_an_unknown_tool_raises_key_error() -> None:
    with pytest.raises(KeyError):
        Server("reg").remove_tool("nope")


def test_resources_and_templates_take_names_and_docstrings() -> None:
    server = Server("reg")

    def read_thing() -> str:
        """The thing."""
        return "t"

    resource = server.add_resource(read_thing, "a://thing").resource
    assert (resource.name, resource.description) == ("read_thing", "The thing.")

    def by_id(id: int) -> str:
        return ""

    template = server.add_resource_template(by_id, "a://{id}", name="by-id").template
    assert (template.uri_template, template.name) == ("a://{id}", "by-id")


@pytest.mark.parametrize("uri_template", ["a://{x}/{y}", "a://{other}", "a://{x"])
def test_templates_whose_variables_do_not_match_the_parameters_are_refused(uri_template: str) -> None:
    def read(x: str) -> str:
        return x

    with pytest.raises(LocalProtocolError):
        Server("reg").add_resource_template(read, uri_template)


def test_prompt_arguments_come_from_the_signature() -> None:
    server = Server("reg")

    def ask(topic: str, tone: str = "calm") -> str:
        """Ask."""
        return topic

    prompt = server.add_prompt(ask, argument_descriptions={"topic": "What about"}).prompt
    encoded = msgspec.to_builtins(prompt)
    assert encoded == {
        "name": "ask",
        "description": "Ask.",
        "arguments": [
            {"name": "topic", "description": "What about", "required": True},
            {"name": "tone", "required": False},
        ],
    }


def test_add_completion_needs_exactly_one_reference() -> None:
    server = Server("reg")
    with pytest.raises(ValueError, match="exactly one"):
        server.add_completion(lambda v, c: [], argument="a")
    with pytest.raises(ValueError, match="exactly one"):
        server.add_completion(lambda v, c: [], argument="a", prompt="p", resource_template="t")


@pytest.mark.parametrize(
    "field", ["max_message_size", "max_in_flight", "max_outbox_bytes", "receive_size", "page_size"]
)
def test_server_config_refuses_non_positive_limits(field: str) -> None:
    with pytest.raises(ValueError, match=field):
        ServerConfig(**{field: 0})
