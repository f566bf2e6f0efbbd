"""Prompts: a function of string arguments that renders messages for ``prompts/get``.

A prompt function returns ``str`` (one user message), a ``PromptMessage``, a list of them, or a whole
``GetPromptResult``. Prompt arguments are strings on the wire; missing required arguments are -32602.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import attrs
import msgspec
from msgspec import UNSET

from mcp_trio.protocol.errors import DECODE_ERRORS, InvalidParams
from mcp_trio.protocol.types import GetPromptResult, Prompt, PromptArgument, PromptMessage, TextContent
from mcp_trio.server.signature import ArgumentModel, argument_model, find_context_parameter

__all__ = ["PromptDefinition", "define_prompt", "to_prompt_result"]


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
    if isinstance(value, GetPromptResult):
        return value
    if isinstance(value, str):
        messages = [PromptMessage(role="user", content=TextContent(text=value))]
    elif isinstance(value, PromptMessage):
        messages = [value]
    elif isinstance(value, list) and all(isinstance(m, PromptMessage) for m in value):
        messages = value
    else:
        raise TypeError(f"a prompt returned {type(value).__name__}; expected str or PromptMessage(s)")
    return GetPromptResult(messages=messages, description=description)
