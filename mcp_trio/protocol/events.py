"""What a session reports after receiving a message (the h11 ``Event`` analogue).

Events are small structs built once per message; the typed ``params``/``result`` inside are the decoded
method-specific structs, so the layer above never touches JSON.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import msgspec

from mcp_trio.protocol.jsonrpc import ErrorObject, ErrorResponse, RequestId, Response
from mcp_trio.protocol.versions import Era

__all__ = [
    "ProgressToken",
    "ModernMeta",
    "RequestReceived",
    "NotificationReceived",
    "ResponseReceived",
    "ErrorReceived",
    "CancelRequested",
    "SessionInitialized",
    "Answered",
    "Event",
]

ProgressToken: TypeAlias = int | str


class ModernMeta(msgspec.Struct, kw_only=True):
    """The per-request ``_meta`` of the modern wire, validated: what a legacy session would have remembered."""

    protocol_version: str
    client_capabilities: Any  # ClientCapabilities
    client_info: Any = None  # Implementation | None
    log_level: str | None = None


class RequestReceived(msgspec.Struct):
    """A request for the application to answer with ``respond``/``respond_error`` on the same session."""

    id: RequestId
    method: str
    params: Any
    era: Era
    version: str
    progress_token: ProgressToken | None = None
    meta: ModernMeta | None = None


class NotificationReceived(msgspec.Struct):
    method: str
    params: Any


class ResponseReceived(msgspec.Struct):
    """The peer answered a request we sent; ``result`` is decoded to the method's result type."""

    id: RequestId
    method: str
    result: Any


class ErrorReceived(msgspec.Struct):
    id: RequestId
    method: str
    error: ErrorObject


class CancelRequested(msgspec.Struct):
    """The peer cancelled one of its in-flight requests: stop work; no response will be sent for it."""

    id: RequestId
    reason: str | None = None


class SessionInitialized(msgspec.Struct):
    """The client sent ``notifications/initialized``: the server may now send requests and notifications."""


class Answered(msgspec.Struct):
    """The session answered a message by itself (``initialize``, ``ping``, protocol errors): send ``message``."""

    message: Response | ErrorResponse


Event: TypeAlias = (
    RequestReceived
    | NotificationReceived
    | ResponseReceived
    | ErrorReceived
    | CancelRequested
    | SessionInitialized
    | Answered
)
