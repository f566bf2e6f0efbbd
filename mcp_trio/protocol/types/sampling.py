"""Sampling: ``sampling/createMessage`` (server asks the client's LLM).

Legacy: a server-to-client request gated by the client ``sampling`` capability (``sampling.tools``
for ``tools``/``toolChoice``, SEP-1577; ``sampling.context`` for the deprecated ``includeContext``
values). Modern: only inside an ``InputRequiredResult`` (MRTR), deprecated (SEP-2577).
A message's ``content`` is one block or a list of blocks (lists arrived with tool use).
"""

from typing import Any, Literal

import msgspec

from ._base import UNSET, Meta, RequestParams, Result, Role, TaskMetadata, UnsetType, WireModel
from .content import SamplingContentBlock
from .tools import Tool

__all__ = [
    "ModelHint",
    "ModelPreferences",
    "ToolChoice",
    "SamplingMessage",
    "CreateMessageParams",
    "CreateMessageResult",
]


class ModelHint(WireModel, gc=False, kw_only=True):
    """A model-name substring the client should prefer."""

    name: str | UnsetType = UNSET


class ModelPreferences(WireModel, kw_only=True):
    """Advisory model-selection priorities in [0, 1]."""

    hints: list[ModelHint] | UnsetType = UNSET
    cost_priority: int | float | UnsetType = UNSET
    speed_priority: int | float | UnsetType = UNSET
    intelligence_priority: int | float | UnsetType = UNSET


class ToolChoice(WireModel, gc=False, kw_only=True):
    """How the model may use ``tools`` (default ``auto``)."""

    mode: Literal["auto", "required", "none"] | UnsetType = UNSET


class SamplingMessage(WireModel, kw_only=True):
    """A message to or from the LLM."""

    role: Role
    content: SamplingContentBlock | list[SamplingContentBlock]
    meta: Meta | UnsetType = msgspec.field(default=UNSET, name="_meta")


class CreateMessageParams(RequestParams, kw_only=True):
    """``sampling/createMessage``; ``task`` is the 2025-11-25 task-augmentation request."""

    messages: list[SamplingMessage]
    max_tokens: int
    model_preferences: ModelPreferences | UnsetType = UNSET
    system_prompt: str | UnsetType = UNSET
    include_context: Literal["none", "thisServer", "allServers"] | UnsetType = UNSET
    temperature: int | float | UnsetType = UNSET
    stop_sequences: list[str] | UnsetType = UNSET
    metadata: dict[str, Any] | UnsetType = UNSET
    tools: list[Tool] | UnsetType = UNSET
    tool_choice: ToolChoice | UnsetType = UNSET
    task: TaskMetadata | UnsetType = UNSET


class CreateMessageResult(Result, kw_only=True):
    """``sampling/createMessage`` result; ``stop_reason`` is an open string (``endTurn``, ``toolUse``...)."""

    role: Role
    content: SamplingContentBlock | list[SamplingContentBlock]
    model: str
    stop_reason: str | UnsetType = UNSET
