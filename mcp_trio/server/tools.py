"""Tools: a function becomes an MCP tool with a validated argument struct, schemas and result shaping.

What a tool returns becomes a ``CallToolResult``: a ``CallToolResult`` passes through; a content block or a list
of them is the content; ``str`` is one text block; ``None`` is no content; anything else is serialised to JSON
text. When the return annotation describes structured data (a struct, dataclass, TypedDict, mapping, or any
other JSON type), the tool also publishes an ``outputSchema`` and returns ``structuredContent`` conforming to it
(non-object values are wrapped as ``{"result": value}``, since an output schema must describe an object).

Errors: arguments that do not validate and exceptions raised by the tool are *tool errors* (``isError: true``
results the model can read, per SEP-1303); ``McpError`` raised by a tool is a protocol error.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import inspect
import logging
import re
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, Final

import attrs
import msgspec
from msgspec import UNSET

from mcp_trio.protocol.errors import LocalProtocolError, McpError
from mcp_trio.protocol.types import (
    AudioContent,
    CallToolResult,
    EmbeddedResource,
    ImageContent,
    ResourceLink,
    TextContent,
    Tool,
    ToolAnnotations,
    ToolExecution,
)
from mcp_trio.runtime.breaker import CircuitBreaker
from mcp_trio.server.pydantic_support import json_builtins, mentions_pydantic, pydantic_value
from mcp_trio.server.signature import ArgumentModel, argument_model, inline_schema, return_hint

__all__ = [
    "ToolError",
    "ToolDefinition",
    "define_tool",
    "to_call_tool_result",
    "tool_error_result",
    "tool_exception_result",
    "circuit_open_result",
    "record_outcome",
    "safe_str",
    "TOOL_NAME_PATTERN",
]

#: SEP-986 (2025-11-25): 1-128 characters of ``[A-Za-z0-9_.-]``.
TOOL_NAME_PATTERN: Final = re.compile(r"[A-Za-z0-9_.\-]{1,128}")
_CONTENT_TYPES: Final = (TextContent, ImageContent, AudioContent, ResourceLink, EmbeddedResource)
_UNSTRUCTURED: Final = (str, type(None), CallToolResult, *_CONTENT_TYPES)
_json_encoder: Final = msgspec.json.Encoder(enc_hook=json_builtins)  # a pydantic model inside plain data


def _to_builtins(value: Any) -> Any:
    return msgspec.to_builtins(value, enc_hook=json_builtins)


logger: Final = logging.getLogger("mcp_trio.server")


class ToolError(Exception):
    """Raise from a tool to return an ``isError`` result with this message (the model sees it)."""


#: What a tool raises that says nothing about the health of what it depends on (its breaker ignores it): an
#: error the tool chose to report, or a protocol error it raised on purpose.
_NOT_FAILURES: Final[tuple[type[BaseException], ...]] = (ToolError, McpError)


@attrs.define(slots=True, eq=False)
class ToolDefinition:
    """A registered tool: its wire description and how to call it."""

    tool: Tool
    fn: Callable[..., Any]
    arguments: ArgumentModel
    is_async: bool
    context_parameter: str | None
    wrap_structured: bool  # structured output is {"result": value}
    structured: bool  # an outputSchema is published and structuredContent returned
    task_support: str = "forbidden"  # tasks extension: "forbidden" | "optional" | "required"
    task_start: str = "immediately"  # or "on_detach": the tool calls ctx.detach() where it becomes a task
    blocking: bool = True  # a synchronous fn runs in a worker thread (False: on the event loop)
    breaker: CircuitBreaker | None = None  # refuses calls while the tool keeps failing (ServerConfig.tool_breaker)
    dump: Callable[[Any], Any] = _to_builtins  # structured output as JSON builtins (pydantic's dump for its types)

    @property
    def name(self) -> str:
        return self.tool.name

    def validate(self, arguments: Mapping[str, Any] | None) -> msgspec.Struct:
        """Convert raw arguments to the tool's argument struct (``msgspec.ValidationError`` if they do not fit)."""
        return self.arguments.convert(arguments if arguments is not None else {})

    def call_args(self, validated: msgspec.Struct, context: Any) -> dict[str, Any]:
        kwargs = {name: getattr(validated, name) for name in self.arguments.names}
        if self.context_parameter is not None:
            kwargs[self.context_parameter] = context
        return kwargs

    def shape(self, value: Any) -> CallToolResult:
        """Turn the function's return value into the tool result."""
        if not self.structured:
            return to_call_tool_result(value)
        if isinstance(value, CallToolResult):
            return value
        structured = self.dump(value)
        if self.wrap_structured:
            structured = {"result": structured}
        text = _json_encoder.encode(structured).decode()
        return CallToolResult(content=[TextContent(text=text)], structured_content=structured)


def tool_error_result(message: str) -> CallToolResult:
    """An ``isError`` result carrying ``message`` for the model."""
    return CallToolResult(content=[TextContent(text=message)], is_error=True)


def circuit_open_result(tool: ToolDefinition, retry_after: float) -> CallToolResult:
    """The ``isError`` result of a call refused because the tool's circuit breaker is open."""
    return tool_error_result(
        f"tool {tool.name} is temporarily unavailable: it failed repeatedly, so calls are refused for now "
        f"(circuit breaker open); retry in {retry_after:.1f} s"
    )


def record_outcome(breaker: CircuitBreaker, now: float, exc: BaseException | None) -> None:
    """Tell a tool's breaker how an allowed call ended: a success, a failure (an unexpected exception), or
    neither (a ``ToolError`` the tool chose to report, a protocol error, input required, a cancellation)."""
    if exc is None:
        breaker.record_success(now)
    elif isinstance(exc, Exception) and not isinstance(exc, _NOT_FAILURES):
        breaker.record_failure(now)
    else:
        breaker.record_ignored(now)


def tool_exception_result(tool: ToolDefinition, exc: BaseException, where: str = "") -> CallToolResult:
    """The ``isError`` result for what a tool raised (``ToolError`` is expected; anything else is logged, with
    ``where`` it ran: connection or session, and request)."""
    if isinstance(exc, ToolError):
        return tool_error_result(safe_str(exc))
    logger.error("tool %s raised%s", tool.name, f" ({where})" if where else "", exc_info=exc)
    text = safe_str(exc)
    return tool_error_result(f"tool {tool.name} failed: {type(exc).__name__}{': ' + text if text else ''}")


def safe_str(exc: BaseException) -> str:
    """``str(exc)``, or a placeholder when the exception's ``__str__`` itself fails."""
    try:
        return str(exc)
    except Exception:  # noqa: BLE001 - a broken __str__ must not turn a tool error into a crash
        return "<the exception's str() failed>"


def to_call_tool_result(value: Any) -> CallToolResult:
    """The unstructured rules of the module docstring."""
    if isinstance(value, CallToolResult):
        return value
    if isinstance(value, str):
        return CallToolResult(content=[TextContent(text=value)])
    if value is None:
        return CallToolResult(content=[])
    if isinstance(value, _CONTENT_TYPES):
        return CallToolResult(content=[value])
    if isinstance(value, list | tuple) and value and all(isinstance(v, _CONTENT_TYPES) for v in value):
        return CallToolResult(content=list(value))
    return CallToolResult(content=[TextContent(text=_json_encoder.encode(value).decode())])


def _is_union(hint: Any) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType)


def _is_content(hint: Any) -> bool:
    """A content block type, or a union of them."""
    if _is_union(hint):
        return all(_is_content(arg) for arg in typing.get_args(hint))
    return hint in _CONTENT_TYPES


def _is_unstructured(hint: Any) -> bool:
    """Return annotations that mean "content, not data": text, None, blocks, lists of blocks, full results."""
    if hint in _UNSTRUCTURED:
        return True
    if _is_union(hint):
        return all(_is_unstructured(arg) for arg in typing.get_args(hint))
    if typing.get_origin(hint) in (list, tuple, collections.abc.Sequence):
        args = [arg for arg in typing.get_args(hint) if arg is not Ellipsis]
        return bool(args) and all(_is_content(arg) for arg in args)
    return False


def _output_schema(hint: Any, where: str) -> tuple[dict[str, Any] | None, bool, Callable[[Any], Any]]:
    """(outputSchema, wrapped, dump) for a return annotation; (None, False, _) when the output is unstructured.

    Raises:
        LocalProtocolError: a pydantic type pydantic itself cannot describe.
    """
    if hint is inspect.Signature.empty or _is_unstructured(hint):
        return None, False, _to_builtins
    origin = typing.get_origin(hint)
    dump: Callable[[Any], Any] = _to_builtins
    try:
        schema = None if mentions_pydantic(hint) else inline_schema(hint)
    except TypeError:
        return None, False, _to_builtins  # not JSON-describable: the value is shaped as unstructured content
    if schema is None:  # a pydantic model (or a list of them...): pydantic's serialisation schema and dump
        value = pydantic_value(hint, where, mode="serialization")
        schema, dump = dict(value.schema), value.dump
        is_object = schema.get("type") == "object"
    else:
        is_object = (
            (isinstance(hint, type) and issubclass(hint, msgspec.Struct))
            or dataclasses.is_dataclass(hint)
            or attrs.has(hint)
            or typing.is_typeddict(hint)
            or origin in (dict, Mapping)
        )
    if is_object:
        return schema, False, dump
    defs = schema.pop("$defs", None)
    wrapped: dict[str, Any] = {"type": "object", "properties": {"result": schema}, "required": ["result"]}
    if defs:
        wrapped["$defs"] = defs  # "#/$defs/..." references resolve from the root of the output schema
    return wrapped, True, dump


def define_tool(
    fn: Callable[..., Any],
    *,
    context_type: type,
    name: str | None = None,
    title: str | None = None,
    description: str | None = None,
    annotations: ToolAnnotations | None = None,
    structured_output: bool | None = None,
    input_schema: dict[str, Any] | None = None,
    output_schema: dict[str, Any] | None = None,
    task_support: typing.Literal["forbidden", "optional", "required"] | None = None,
    task_start: typing.Literal["immediately", "on_detach"] = "immediately",
    icons: list[Any] | None = None,
    meta: dict[str, Any] | None = None,
    blocking: bool = True,
    breaker: CircuitBreaker | None = None,
) -> ToolDefinition:
    """Describe ``fn`` as a tool (see ``Server.add_tool`` for the arguments).

    Raises:
        LocalProtocolError: the name breaks the naming rule, or the signature cannot be described.
    """
    from mcp_trio.server.signature import find_context_parameter

    tool_name = name or fn.__name__
    if not TOOL_NAME_PATTERN.fullmatch(tool_name):
        raise LocalProtocolError(f"tool name {tool_name!r} must be 1-128 characters of [A-Za-z0-9_.-]")
    context_parameter = find_context_parameter(fn, context_type)
    arguments = argument_model(fn, tool_name, skip=context_parameter)
    schema, wrapped, dump = _output_schema(return_hint(fn), f"{tool_name}: return type")
    if structured_output is False:
        schema, wrapped = None, False
    elif structured_output is True and schema is None:
        raise LocalProtocolError(f"{tool_name}: structured_output needs a JSON-describable return annotation")
    if output_schema is not None:
        schema, wrapped = output_schema, False
    doc = description if description is not None else inspect.getdoc(fn)
    tool = Tool(
        name=tool_name,
        input_schema=input_schema if input_schema is not None else arguments.schema,
        title=title if title is not None else UNSET,
        description=doc if doc else UNSET,
        output_schema=schema if schema is not None else UNSET,
        annotations=annotations if annotations is not None else UNSET,
        execution=ToolExecution(task_support=task_support) if task_support is not None else UNSET,
        icons=icons if icons is not None else UNSET,
        meta=meta if meta is not None else UNSET,
    )
    return ToolDefinition(
        tool=tool,
        fn=fn,
        arguments=arguments,
        is_async=inspect.iscoroutinefunction(fn),
        context_parameter=context_parameter,
        wrap_structured=wrapped,
        structured=schema is not None,
        task_support=task_support or "forbidden",
        task_start=task_start,
        blocking=blocking and not inspect.iscoroutinefunction(fn),
        breaker=breaker,
        dump=dump,
    )
