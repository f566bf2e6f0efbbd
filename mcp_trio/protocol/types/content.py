"""Content blocks carried by tool results, prompt messages and sampling messages.

All blocks are msgspec tagged unions on ``type``, so a ``list[ContentBlock]`` decodes in one pass
without trial-and-error. ``tool_use``/``tool_result`` (SEP-1577, 2025-11-25) appear only in
sampling messages. ``resource_link`` arrived in 2025-06-18 and ``audio`` in 2025-03-26. An unknown
``type`` is a decode error: there is no way to represent a block we do not understand.
"""

from typing import Any, TypeAlias

import msgspec

from ._base import UNSET, Meta, UnsetType, WireModel
from .common import Annotations
from .resources import Resource, ResourceContents

__all__ = [
    "TextContent",
    "ImageContent",
    "AudioContent",
    "ResourceLink",
    "EmbeddedResource",
    "ToolUseContent",
    "ToolResultContent",
    "ContentBlock",
    "SamplingContentBlock",
]


class TextContent(WireModel, tag_field="type", tag="text", kw_only=True):
    """Plain text."""

    text: str
    annotations: Annotations | UnsetType = UNSET
    meta: Meta | UnsetType = msgspec.field(default=UNSET, name="_meta")


class ImageContent(WireModel, tag_field="type", tag="image", kw_only=True):
    """A base64-encoded image."""

    data: str
    mime_type: str
    annotations: Annotations | UnsetType = UNSET
    meta: Meta | UnsetType = msgspec.field(default=UNSET, name="_meta")


class AudioContent(WireModel, tag_field="type", tag="audio", kw_only=True):
    """Base64-encoded audio."""

    data: str
    mime_type: str
    annotations: Annotations | UnsetType = UNSET
    meta: Meta | UnsetType = msgspec.field(default=UNSET, name="_meta")


class ResourceLink(Resource, tag_field="type", tag="resource_link", kw_only=True):
    """A link to a resource (all ``Resource`` fields); it need not appear in ``resources/list``."""


class EmbeddedResource(WireModel, tag_field="type", tag="resource", kw_only=True):
    """Resource contents embedded inline."""

    resource: ResourceContents
    annotations: Annotations | UnsetType = UNSET
    meta: Meta | UnsetType = msgspec.field(default=UNSET, name="_meta")


ContentBlock: TypeAlias = TextContent | ImageContent | AudioContent | ResourceLink | EmbeddedResource
"""A block of a tool result or prompt message."""


class ToolUseContent(WireModel, tag_field="type", tag="tool_use", kw_only=True):
    """Sampling only: the model asks to call a tool; ``id`` pairs it with a ``tool_result``."""

    id: str
    name: str
    input: dict[str, Any]
    meta: Meta | UnsetType = msgspec.field(default=UNSET, name="_meta")


class ToolResultContent(WireModel, tag_field="type", tag="tool_result", kw_only=True):
    """Sampling only: the result of a ``tool_use``, same shape as a ``tools/call`` result.

    ``structured_content`` is any JSON value (2026-07-28; an object in 2025-11-25).
    """

    tool_use_id: str
    content: list[ContentBlock]
    structured_content: Any | UnsetType = UNSET
    is_error: bool | UnsetType = UNSET
    meta: Meta | UnsetType = msgspec.field(default=UNSET, name="_meta")


SamplingContentBlock: TypeAlias = TextContent | ImageContent | AudioContent | ToolUseContent | ToolResultContent
"""A block of a sampling message."""
