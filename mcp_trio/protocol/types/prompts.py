"""Prompts: descriptors, ``prompts/list`` and ``prompts/get``.

``prompts/get`` may return ``InputRequiredResult`` (MRTR) on the modern wire, so its params accept
``inputResponses``/``requestState``; ``prompts/list`` is cacheable there.
"""

import msgspec

from ._base import (
    UNSET,
    CacheableResult,
    Cursor,
    Meta,
    PaginatedParams,
    RequestParams,
    Result,
    Role,
    UnsetType,
    WireModel,
)
from .common import Icon
from .content import ContentBlock

__all__ = [
    "PromptArgument",
    "Prompt",
    "PromptMessage",
    "ListPromptsParams",
    "ListPromptsResult",
    "GetPromptParams",
    "GetPromptResult",
]


class PromptArgument(WireModel, gc=False, kw_only=True):
    """An argument a prompt template accepts."""

    name: str
    title: str | UnsetType = UNSET
    description: str | UnsetType = UNSET
    required: bool | UnsetType = UNSET


class Prompt(WireModel, kw_only=True):
    """A prompt or prompt template as listed by ``prompts/list``."""

    name: str
    title: str | UnsetType = UNSET
    description: str | UnsetType = UNSET
    arguments: list[PromptArgument] | UnsetType = UNSET
    icons: list[Icon] | UnsetType = UNSET
    meta: Meta | UnsetType = msgspec.field(default=UNSET, name="_meta")


class PromptMessage(WireModel, kw_only=True):
    """One message of a rendered prompt (a single content block, unlike sampling messages)."""

    role: Role
    content: ContentBlock


class ListPromptsParams(PaginatedParams, kw_only=True):
    """``prompts/list``."""


class ListPromptsResult(CacheableResult, kw_only=True):
    """``prompts/list`` result (paginated; cacheable on the modern wire)."""

    prompts: list[Prompt]
    next_cursor: Cursor | UnsetType = UNSET


class GetPromptParams(RequestParams, kw_only=True):
    """``prompts/get``; argument values are strings. MRTR retry fields as in ``CallToolParams``."""

    name: str
    arguments: dict[str, str] | UnsetType = UNSET
    input_responses: dict[str, msgspec.Raw] | UnsetType = UNSET
    request_state: str | UnsetType = UNSET


class GetPromptResult(Result, kw_only=True):
    """``prompts/get`` result."""

    messages: list[PromptMessage]
    description: str | UnsetType = UNSET
