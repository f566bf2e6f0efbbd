"""Prompts: a function of string arguments that renders messages for ``prompts/get``.

A prompt function returns a whole ``GetPromptResult``, or messages: one or a list of ``str`` or a content block
(each a user message), a ``PromptMessage``, a ``UserMessage``/``AssistantMessage`` (the official SDK's helpers),
or a ``{"role": ..., "content": {...}}`` dict. Prompt arguments are strings on the wire; missing required
arguments are -32602.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Literal

import attrs
import msgspec
from msgspec import UNSET

from mcp_trio.protocol.errors import DECODE_ERRORS, InvalidParams
from mcp_trio.protocol.types import (
    AudioContent,
    EmbeddedResource,
    GetPromptResult,
    ImageContent,
    Prompt,
    PromptArgument,
    PromptMessage,
    ResourceLink,
    TextContent,
)
from mcp_trio.protocol.types.content import ContentBlock
from mcp_trio.server.signature import ArgumentModel, argument_model, find_context_parameter

__all__ = ["PromptDefinition", "define_prompt", "to_prompt_result", "Message", "UserMessage", "AssistantMessage"]

_CONTENT_TYPES = (TextContent, ImageContent, AudioContent, ResourceLink, EmbeddedResource)


class Message:
    """A prompt message as the official SDK's prompts build them: ``content`` a string (made a text block) or
    a content block, so prompts written with ``UserMessage``/``AssistantMessage`` port unchanged."""

    __slots__ = ("content", "role")

    def __init__(self, content: str | ContentBlock, role: Literal["user", "assistant"] = "user") -> None:
        self.role = role
        self.content: ContentBlock = TextContent(text=content) if isinstance(content, str) else content

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.content!r}, role={self.role!r})"


class UserMessage(Message):
    """A message from the user."""

    __slots__ = ()

    def __init__(self, content: str | ContentBlock, role: Literal["user", "assistant"] = "user") -> None:
        super().__init__(content, role)


class AssistantMessage(Message):
    """A message from the assistant."""

    __slots__ = ()

    def __init__(self, content: str | ContentBlock, role: Literal["user", "assistant"] = "assistant") -> None:
        super().__init__(content, role)


@attrs.define(slots=True, eq=False)
class PromptDefinition:
    prompt: Prompt
    render: Callable[..., Any]
    arguments: ArgumentModel
    is_async: bool
    context_parameter: str | None
    blocking: bool = True  # a synchronous renderer runs in a worker thread (False: on the event loop)

    def validate(self, arguments: dict[str, str] | None) -> msgspec.Struct:
        try:
            return self.arguments.convert(arguments or {}, strict=False)
        except DECODE_ERRORS as exc:
            raise InvalidParams(f"invalid arguments for prompt {self.prompt.name!r}: {exc}") from None


def define_prompt(
    render: Callable[..., Any],
    *,
    context_type: type,
    name: str | None = None,
    title: str | None = None,
    description: str | None = None,
    argument_descriptions: dict[str, str] | None = None,
    icons: list[Any] | None = None,
    blocking: bool = True,
) -> PromptDefinition:
    prompt_name = name or render.__name__
    context_parameter = find_context_parameter(render, context_type)
    arguments = argument_model(render, prompt_name, skip=context_parameter)
    required = set(arguments.schema.get("required", ()))
    descriptions = argument_descriptions or {}
    properties = arguments.schema.get("properties", {})
    prompt_arguments = [
        PromptArgument(
            name=arg,
            description=descriptions.get(arg, properties.get(arg, {}).get("description", UNSET)),
            required=arg in required,
        )
        for arg in arguments.names
    ]
    doc = description if description is not None else inspect.getdoc(render)
    return PromptDefinition(
        prompt=Prompt(
            name=prompt_name,
            title=title if title is not None else UNSET,
            description=doc if doc else UNSET,
            arguments=prompt_arguments if prompt_arguments else UNSET,
            icons=icons if icons is not None else UNSET,
        ),
        render=render,
        arguments=arguments,
        is_async=inspect.iscoroutinefunction(render),
        context_parameter=context_parameter,
        blocking=blocking and not inspect.iscoroutinefunction(render),
    )


def to_prompt_result(value: Any, description: Any = UNSET) -> GetPromptResult:
    """Shape what a prompt function returned (see the module docstring) as the ``prompts/get`` result.

    Raises:
        TypeError: a value that is not a message (a dict that is not one raises ``msgspec.ValidationError``).
    """
    if isinstance(value, GetPromptResult):
        return value
    items = value if isinstance(value, list | tuple) else [value]
    return GetPromptResult(messages=[_message(item) for item in items], description=description)


def _message(item: Any) -> PromptMessage:
    if isinstance(item, PromptMessage):
        return item
    if isinstance(item, Message):
        return PromptMessage(role=item.role, content=item.content)
    if isinstance(item, str):
        return PromptMessage(role="user", content=TextContent(text=item))
    if isinstance(item, _CONTENT_TYPES):
        return PromptMessage(role="user", content=item)
    if isinstance(item, dict):
        return msgspec.convert(item, PromptMessage)
    raise TypeError(f"a prompt returned {type(item).__name__}; expected str, a content block or message(s)")
