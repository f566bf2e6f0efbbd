"""Wire shapes of JSON-RPC error objects and the ``data`` of MCP-specific errors.

The error codes and the exception-to-error mapping live in :mod:`mcp_trio.protocol.errors`; this
module only describes the JSON. -32022 (modern unsupported version) and the legacy -32602 answer
to ``initialize`` both use :class:`UnsupportedVersionData`; -32021 uses
:class:`MissingCapabilityData` (an object, e.g. ``{"sampling": {}}``); 2025-11-25's -32042 uses
:class:`UrlElicitationRequiredData`; modern -32602 for a missing resource carries ``{"uri": ...}``.
"""

from typing import Any

from ._base import UNSET, UnsetType, WireModel
from .capabilities import ClientCapabilities
from .elicitation import ElicitRequestParams

__all__ = [
    "ErrorObject",
    "UnsupportedVersionData",
    "MissingCapabilityData",
    "UrlElicitationRequiredData",
    "ResourceNotFoundData",
]


class ErrorObject(WireModel, kw_only=True):
    """A JSON-RPC error object (as embedded in a failed task); ``data`` may be any JSON, even null."""

    code: int
    message: str
    data: Any | UnsetType = UNSET


class UnsupportedVersionData(WireModel, kw_only=True):
    """``data`` of an unsupported-protocol-version error."""

    supported: list[str]
    requested: str | UnsetType = UNSET


class MissingCapabilityData(WireModel, kw_only=True):
    """``data`` of -32021 MissingRequiredClientCapability."""

    required_capabilities: ClientCapabilities


class UrlElicitationRequiredData(WireModel, kw_only=True):
    """``data`` of 2025-11-25 -32042 URLElicitationRequired: URL-mode elicitations to complete."""

    elicitations: list[ElicitRequestParams]


class ResourceNotFoundData(WireModel, gc=False, kw_only=True):
    """``data`` of a resource-not-found error (modern -32602, legacy -32002)."""

    uri: str
