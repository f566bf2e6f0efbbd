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

#: Everything decoding or converting a peer's data can raise. Every place that decodes bytes or converts values
#: from a peer catches this tuple, so no input can escape as an exception that kills a connection or the server:
#:
#: * ``ValueError``: the base of msgspec's ``DecodeError`` (malformed JSON) and ``ValidationError`` (wrong shape,
#:   a number out of range), of ``UnicodeDecodeError`` (invalid UTF-8 inside a string: msgspec raises it as it
#:   is), ``UnicodeEncodeError`` and ``binascii.Error`` (base64 of a peer's token), and of the int-to-str limit
#:   (formatting a peer's integer of more than 4300 digits, which an ``Any`` field converted in memory can hold).
#: * ``RecursionError``: msgspec decodes, skips and converts nested values recursively and gives up at the
#:   interpreter's recursion limit, so ``[[[[...`` a few thousand levels deep raises it, wherever it sits.
#: * ``OverflowError``: CPython's numeric conversions (float to int, dates) raise it rather than ``ValueError``;
#:   msgspec 0.23 maps its own range errors to ``ValidationError``, but a ``__post_init__`` may still hit it.
#: * ``MemoryError``: a message within the size cap can still expand many times over when decoded (a 4 MiB
#:   line of ``[],`` is about a million lists); unwinding frees what was built, so refusing that one message
#:   keeps the process, and every other session in it, alive.
#:
#: ``TypeError`` is not here: msgspec reports a value of the wrong type as ``ValidationError``, so a
#: ``TypeError`` means a type *we* passed is unsupported, a bug that must not be answered as the peer's error.
#: Catching this tuple costs nothing on the success path.
DECODE_ERRORS: Final = (ValueError, RecursionError, OverflowError, MemoryError)
#: Package-internal: the part of ``DECODE_ERRORS`` that means "refused at a limit", not "malformed". The JSON text
#: may well be valid (RFC 8259 section 9 lets a parser limit nesting depth and size); we stopped reading it.
LIMIT_ERRORS: Final = (RecursionError, MemoryError)


def describe_decode_error(exc: BaseException) -> str:
    """Package-internal: what a ``DECODE_ERRORS`` failure tells the peer.

    msgspec's own message (it names the path, ``... - at `$.arguments.text```), or what a limit means; never
    the interpreter's wording for an exception the peer caused but did not write.
    """
    if isinstance(exc, RecursionError):
        return "JSON nested too deeply"
    if isinstance(exc, MemoryError):
        return "JSON too large to decode"
    if isinstance(exc, msgspec.MsgspecError | UnicodeError):
        return str(exc)
    return f"unsupported value ({type(exc).__name__})"


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
    """Overload: the request was refused before any work, so it is safe to retry (HTTP 503 + ``Retry-After``).

    ``data`` is ``{"reason": ..., "retryAfterMs": ...}``: which limit refused it (a stable, documented name such
    as ``"in_flight"`` or ``"rate_limit_client"``) and how long to wait before retrying.

    Args:
        message: human-readable; says which limit and its value.
        reason: the limit's name.
        retry_after_ms: the suggested wait, in milliseconds.
    """

    code = ErrorCode.SERVER_BUSY
    http_status = 503

    def __init__(self, message: str, *, reason: str = "overload", retry_after_ms: int = 1000) -> None:
        super().__init__(message, {"reason": reason, "retryAfterMs": retry_after_ms})
        self.reason = reason
        self.retry_after_ms = retry_after_ms


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
    message; a ``RemoteError`` (the peer answered one of our requests with an error) is -32603 that names it,
    with the original in ``data.remoteError``; anything else is -32603 with a generic message, since internals
    must not leak to peers.

    Never raises: it runs in the handler of last resort. It calls no method a foreign exception may override
    (``__str__``, properties): an exception that misbehaves becomes -32603, as does an ``McpError`` whose code
    or message could not be encoded.
    """
    try:
        if isinstance(exc, McpError):
            if isinstance(exc.code, int) and isinstance(exc.message, str):
                return exc
        elif isinstance(exc, msgspec.ValidationError):
            return InvalidParams(f"invalid params: {_message_of(exc)}")
        elif isinstance(exc, msgspec.DecodeError):
            return ParseError(f"parse error: {_message_of(exc)}")
        elif isinstance(exc, RemoteError):
            # The peer's error answered one of *our* requests (an elicitation, a sampling call, a request to
            # another server): relaying its code as the answer to a different request would misname what
            # failed (-32601 would say the client's own method does not exist), so it is -32603 naming it.
            code, message = exc.code, exc.message
            if type(code) is int and type(message) is str:
                remote: dict[str, Any] = {"code": code, "message": message}
                if exc.data is not msgspec.UNSET:
                    remote["data"] = exc.data
                return InternalError(
                    f"a request of ours was answered with an error: {message} ({code})", {"remoteError": remote}
                )
    except Exception:  # noqa: BLE001  # a hostile exception must not break the answer to it
        pass
    return InternalError("internal error")


def _message_of(exc: BaseException) -> str:
    """The exception's message without calling its ``__str__``: the first argument if it is a plain string."""
    args = BaseException.__dict__["args"].__get__(exc)
    if type(args) is tuple and len(args) == 1 and type(args[0]) is str:
        return args[0]
    return type(exc).__name__
