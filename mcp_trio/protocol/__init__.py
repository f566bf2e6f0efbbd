"""Sans-IO MCP: framing, JSON-RPC envelope, MCP types and session state machines.

Nothing in this package performs I/O, imports trio or reads a clock; time is passed in.

The public names below are loaded on first use (PEP 562), so ``import mcp_trio.protocol.types`` stays as light
as msgspec alone: importing a subpackage runs this file first.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mcp_trio.protocol.client_session import ClientSession
    from mcp_trio.protocol.errors import (
        DECODE_ERRORS,
        ErrorCode,
        HeaderMismatch,
        InternalError,
        InvalidParams,
        InvalidRequest,
        LocalProtocolError,
        McpError,
        MessageTooLarge,
        MethodNotFound,
        MissingClientCapability,
        ParseError,
        RemoteError,
        ResourceNotFound,
        ServerBusy,
        UnsupportedProtocolVersion,
        error_from_exception,
    )
    from mcp_trio.protocol.events import (
        Answered,
        CancelRequested,
        ErrorReceived,
        Event,
        ModernMeta,
        NotificationReceived,
        ProgressToken,
        RequestReceived,
        ResponseReceived,
        SessionInitialized,
    )
    from mcp_trio.protocol.framing import DEFAULT_MAX_MESSAGE_SIZE, NEED_DATA, LineFramer
    from mcp_trio.protocol.jsonrpc import (
        ErrorObject,
        ErrorResponse,
        Message,
        Notification,
        Request,
        RequestId,
        Response,
        decode_message,
        encode_message,
        error_response,
    )
    from mcp_trio.protocol.modern import read_modern_meta
    from mcp_trio.protocol.profile import ServerProfile
    from mcp_trio.protocol.request_state import RequestStateSealer
    from mcp_trio.protocol.session import ServerSession, accept_modern_request
    from mcp_trio.protocol.versions import (
        BATCHING_VERSIONS,
        DEFAULT_HTTP_LEGACY_VERSION,
        LATEST_LEGACY_VERSION,
        LATEST_MODERN_VERSION,
        LEGACY_VERSIONS,
        MODERN_VERSIONS,
        Era,
        era_of,
        negotiate_legacy_version,
    )

__all__: list[str] = [
    # framing
    "LineFramer",
    "NEED_DATA",
    "DEFAULT_MAX_MESSAGE_SIZE",
    # jsonrpc
    "Request",
    "Notification",
    "Response",
    "ErrorResponse",
    "ErrorObject",
    "Message",
    "RequestId",
    "decode_message",
    "encode_message",
    "error_response",
    # errors
    "ErrorCode",
    "McpError",
    "ParseError",
    "InvalidRequest",
    "MessageTooLarge",
    "MethodNotFound",
    "InvalidParams",
    "InternalError",
    "ResourceNotFound",
    "HeaderMismatch",
    "MissingClientCapability",
    "UnsupportedProtocolVersion",
    "ServerBusy",
    "LocalProtocolError",
    "RemoteError",
    "error_from_exception",
    "DECODE_ERRORS",
    # events
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
    # sessions
    "ServerSession",
    "accept_modern_request",
    "ClientSession",
    # modern
    "read_modern_meta",
    # versions
    "Era",
    "LEGACY_VERSIONS",
    "MODERN_VERSIONS",
    "LATEST_LEGACY_VERSION",
    "LATEST_MODERN_VERSION",
    "BATCHING_VERSIONS",
    "DEFAULT_HTTP_LEGACY_VERSION",
    "era_of",
    "negotiate_legacy_version",
    # request_state
    "RequestStateSealer",
    # profile
    "ServerProfile",
]

_HOMES: dict[str, tuple[str, ...]] = {
    "client_session": ("ClientSession",),
    "errors": (
        "ErrorCode",
        "McpError",
        "ParseError",
        "InvalidRequest",
        "MessageTooLarge",
        "MethodNotFound",
        "InvalidParams",
        "InternalError",
        "ResourceNotFound",
        "HeaderMismatch",
        "MissingClientCapability",
        "UnsupportedProtocolVersion",
        "ServerBusy",
        "LocalProtocolError",
        "RemoteError",
        "error_from_exception",
        "DECODE_ERRORS",
    ),
    "events": (
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
    ),
    "framing": ("LineFramer", "NEED_DATA", "DEFAULT_MAX_MESSAGE_SIZE"),
    "jsonrpc": (
        "Request",
        "Notification",
        "Response",
        "ErrorResponse",
        "ErrorObject",
        "Message",
        "RequestId",
        "decode_message",
        "encode_message",
        "error_response",
    ),
    "modern": ("read_modern_meta",),
    "profile": ("ServerProfile",),
    "request_state": ("RequestStateSealer",),
    "session": ("ServerSession", "accept_modern_request"),
    "versions": (
        "Era",
        "LEGACY_VERSIONS",
        "MODERN_VERSIONS",
        "LATEST_LEGACY_VERSION",
        "LATEST_MODERN_VERSION",
        "BATCHING_VERSIONS",
        "DEFAULT_HTTP_LEGACY_VERSION",
        "era_of",
        "negotiate_legacy_version",
    ),
}
_MODULE_OF: dict[str, str] = {name: module for module, names in _HOMES.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
