"""Errors of the MCP wire and of this library, and the one function that maps exceptions to JSON-RPC errors.

The tree::

    Exception
     +-- McpError                      an error to send to the peer as a JSON-RPC error object
     |    +-- ParseError               -32700   the bytes are not JSON
     |    +-- InvalidRequest           -32600   JSON, but not a valid JSON-RPC/MCP message here
     |    |    +-- MessageTooLarge              a frame or body over the configured limit
     |    +-- MethodNotFound           -32601   unknown method, or one this session does not serve
     |    +-- InvalidParams            -32602   params do not fit the method
     |    +-- InternalError            -32603   a bug or failure on our side (detail never leaks)
     |    +-- ResourceNotFound         -32002   legacy wire only (modern uses -32602 with data.uri)
     |    +-- HeaderMismatch           -32020   modern HTTP: a header disagrees with the body
     |    +-- MissingClientCapability  -32021   modern: the request needs a capability the client lacks
     |    +-- UnsupportedProtocolVersion -32022 modern: a version we do not speak
     |    +-- ServerBusy               -32000   overload: refused at once, try again later
     +-- LocalProtocolError            you (our caller) misused the API: a bug in the program
     +-- RemoteError                   the peer answered one of our requests with a JSON-RPC error

Like h11, ``McpError`` subclasses carry an ``http_status`` hint for the HTTP transport. A peer's protocol
violation is an ``McpError`` (we answer it); our own misuse is a ``LocalProtocolError`` (we raise it).
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any, ClassVar, Final

import msgspec

__all__ = [
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
]

#: What decoding untrusted JSON can raise: msgspec's errors, and ``UnicodeDecodeError`` for invalid UTF-8 inside a
#: string (msgspec raises it as it is). Every place that decodes bytes from a peer catches this tuple.
DECODE_ERRORS: Final = (msgspec.DecodeError, UnicodeDecodeError)


class ErrorCode(IntEnum):
    """JSON-RPC and MCP error codes (MCP-SPEC 1.4)."""

    PARSE_ERROR = -32700
    INVALID_REQUEST = -32600
    METHOD_NOT_FOUND = -32601
    INVALID_PARAMS = -32602
    INTERNAL_ERROR = -32603
    RESOURCE_NOT_FOUND = -32002  # legacy wire
    URL_ELICITATION_REQUIRED = -32042  # legacy 2025-11-25
    HEADER_MISMATCH = -32020
    MISSING_REQUIRED_CLIENT_CAPABILITY = -32021
    UNSUPPORTED_PROTOCOL_VERSION = -32022
    SERVER_BUSY = -32000  # implementation-defined range (-32000..-32019), as the 2026-07-28 spec allows


class McpError(Exception):
    """An error the peer receives as a JSON-RPC error object; raise it from handlers to send exactly this.

    Args:
        message: the human-readable ``message`` member.
        data: the optional ``data`` member (any JSON value); ``msgspec.UNSET`` omits it.
        code: overrides the class's code (the base class has none of its own).
    """

    code: int = ErrorCode.INTERNAL_ERROR
    http_status: ClassVar[int] = 500
    #: The id of the message this error answers, when the decoder could read one.
    request_id: int | str | None = None

    def __init__(self, message: str, data: Any = msgspec.UNSET, *, code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.data = data
        if code is not None:
            self.code = code

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code}, message={self.message!r})"


class ParseError(McpError):
    code = ErrorCode.PARSE_ERROR
    http_status = 400


class InvalidRequest(McpError):
    code = ErrorCode.INVALID_REQUEST
    http_status = 400


class MessageTooLarge(InvalidRequest):
    """A frame or body exceeded the configured maximum; the excess was discarded, never buffered."""

    http_status = 413


class MethodNotFound(McpError):
    code = ErrorCode.METHOD_NOT_FOUND
    http_status = 404


class InvalidParams(McpError):
    code = ErrorCode.INVALID_PARAMS
    http_status = 400


class InternalError(McpError):
    code = ErrorCode.INTERNAL_ERROR
    http_status = 500


class ResourceNotFound(McpError):
    code = ErrorCode.RESOURCE_NOT_FOUND
    http_status = 404


class HeaderMismatch(McpError):
    code = ErrorCode.HEADER_MISMATCH
    http_status = 400


class MissingClientCapability(McpError):
    """The request needs client capabilities it did not declare; ``data.requiredCapabilities`` names them."""

    code = ErrorCode.MISSING_REQUIRED_CLIENT_CAPABILITY
    http_status = 400

    def __init__(self, message: str, required: dict[str, Any]) -> None:
        super().__init__(message, {"requiredCapabilities": required})


class UnsupportedProtocolVersion(McpError):
    code = ErrorCode.UNSUPPORTED_PROTOCOL_VERSION
    http_status = 400

    def __init__(self, requested: object, supported: list[str]) -> None:
        super().__init__(
            f"unsupported protocol version {requested!r}; supported: {', '.join(supported)}",
            {"supported": supported, "requested": requested},
        )


class ServerBusy(McpError):
    """Overload: the request was refused before any work, so it is safe to retry (HTTP 503)."""

    code = ErrorCode.SERVER_BUSY
    http_status = 503


class LocalProtocolError(Exception):
    """Our caller used the protocol API in a way the protocol forbids (a bug in the program, not the peer)."""


class RemoteError(Exception):
    """The peer answered our request with a JSON-RPC error."""

    def __init__(self, code: int, message: str, data: Any = msgspec.UNSET) -> None:
        super().__init__(f"{message} (code {code})")
        self.code = code
        self.message = message
        self.data = data


def error_from_exception(exc: BaseException) -> McpError:
    """Map any exception to the ``McpError`` the peer should see; the only place this mapping lives.

    ``McpError`` passes through. A msgspec validation failure of params is -32602 with msgspec's precise
    message; anything else is -32603 with a generic message, since internals must not leak to peers.
    """
    if isinstance(exc, McpError):
        return exc
    if isinstance(exc, msgspec.ValidationError):
        return InvalidParams(f"invalid params: {exc}")
    if isinstance(exc, msgspec.DecodeError):
        return ParseError(f"parse error: {exc}")
    if isinstance(exc, RemoteError):
        return McpError(exc.message, exc.data, code=exc.code)
    return InternalError("internal error")
