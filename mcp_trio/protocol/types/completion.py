"""Argument completion: ``completion/complete`` (server capability ``completions``).

``ref`` is a tagged union on ``type``: ``ref/prompt`` or ``ref/resource`` (the latter was called
``ResourceReference`` in 2024-11-05 and ``ResourceTemplateReference`` since; same wire shape).
``context`` arrived in 2025-06-18.
"""

from ._base import UNSET, RequestParams, Result, UnsetType, WireModel

__all__ = [
    "PromptReference",
    "ResourceTemplateReference",
    "CompletionArgument",
    "CompletionContext",
    "CompleteParams",
    "Completion",
    "CompleteResult",
]


class PromptReference(WireModel, tag_field="type", tag="ref/prompt", gc=False, kw_only=True):
    """Completes an argument of the named prompt."""

    name: str
    title: str | UnsetType = UNSET


class ResourceTemplateReference(WireModel, tag_field="type", tag="ref/resource", gc=False, kw_only=True):
    """Completes a variable of a resource URI (template)."""

    uri: str


class CompletionArgument(WireModel, gc=False, kw_only=True):
    """The argument being completed and its partial value."""

    name: str
    value: str


class CompletionContext(WireModel, kw_only=True):
    """Previously resolved arguments, to narrow suggestions."""

    arguments: dict[str, str] | UnsetType = UNSET


class CompleteParams(RequestParams, kw_only=True):
    """``completion/complete``."""

    ref: PromptReference | ResourceTemplateReference
    argument: CompletionArgument
    context: CompletionContext | UnsetType = UNSET


class Completion(WireModel, kw_only=True):
    """Suggestions: at most 100 ``values``; ``total``/``has_more`` describe the rest."""

    values: list[str]
    total: int | UnsetType = UNSET
    has_more: bool | UnsetType = UNSET


class CompleteResult(Result, kw_only=True):
    """``completion/complete`` result."""

    completion: Completion
