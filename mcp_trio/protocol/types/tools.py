"""Tools: the ``Tool`` descriptor, ``tools/list`` and ``tools/call``.

``inputSchema``/``outputSchema`` are plain dicts so ``$schema``, ``$defs`` and any JSON Schema
2020-12 keyword survive untouched. ``structuredContent`` is any JSON value on the modern wire (an
object in 2025-06-18/2025-11-25). ``execution.taskSupport`` and ``params.task`` belong to the
2025-11-25 experimental tasks; on the modern wire the server alone decides to return a task
(``resultType: "task"``, see :mod:`.tasks`). ``tools/call`` may return ``InputRequiredResult``
(MRTR) on the modern wire.
"""

from typing import Any, Literal

import msgspec

from ._base import (
    UNSET,
    CacheableResult,
    Cursor,
    Meta,
    PaginatedParams,
    RequestParams,
    Result,
    TaskMetadata,
    UnsetType,
    WireModel,
)
from .common import Icon
from .content import ContentBlock

__all__ = [
    "ToolAnnotations",
    "ToolExecution",
    "Tool",
    "ListToolsParams",
    "ListToolsResult",
    "CallToolParams",
    "CallToolResult",
]


class ToolAnnotations(WireModel, gc=False, kw_only=True):
    """Untrusted behaviour hints (2025-03-26+)."""

    title: str | UnsetType = UNSET
    read_only_hint: bool | UnsetType = UNSET
    destructive_hint: bool | UnsetType = UNSET
    idempotent_hint: bool | UnsetType = UNSET
    open_world_hint: bool | UnsetType = UNSET


class ToolExecution(WireModel, gc=False, kw_only=True):
    """2025-11-25 ``execution``: whether the tool may, must or must not run as a task."""

    task_support: Literal["forbidden", "optional", "required"] | UnsetType = UNSET


class Tool(WireModel, kw_only=True):
    """A callable tool as listed by ``tools/list``."""

    name: str
    input_schema: dict[str, Any]
    title: str | UnsetType = UNSET
    description: str | UnsetType = UNSET
    output_schema: dict[str, Any] | UnsetType = UNSET
    annotations: ToolAnnotations | UnsetType = UNSET
    execution: ToolExecution | UnsetType = UNSET
    icons: list[Icon] | UnsetType = UNSET
    meta: Meta | UnsetType = msgspec.field(default=UNSET, name="_meta")


class ListToolsParams(PaginatedParams, kw_only=True):
    """``tools/list``."""


class ListToolsResult(CacheableResult, kw_only=True):
    """``tools/list`` result (paginated; cacheable on the modern wire)."""

    tools: list[Tool]
    next_cursor: Cursor | UnsetType = UNSET


class CallToolParams(RequestParams, kw_only=True):
    """``tools/call``.

    ``task`` is the 2025-11-25 task-augmentation request. ``input_responses``/``request_state``
    are the modern MRTR retry fields; each ``input_responses`` value stays raw JSON until it is
    decoded with the result type of the matching ``inputRequests`` method.
    """

    name: str
    arguments: dict[str, Any] | UnsetType = UNSET
    task: TaskMetadata | UnsetType = UNSET
    input_responses: dict[str, msgspec.Raw] | UnsetType = UNSET
    request_state: str | UnsetType = UNSET


class CallToolResult(Result, kw_only=True):
    """``tools/call`` result. Tool failures are ``is_error=True`` results, not JSON-RPC errors."""

    content: list[ContentBlock]
    structured_content: Any | UnsetType = UNSET
    is_error: bool | UnsetType = UNSET
