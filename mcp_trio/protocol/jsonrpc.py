"""The JSON-RPC 2.0 envelope: message structs, one decoder that classifies, and shared encoders.

Theory of operation: an incoming message is decoded once into a flat ``_Envelope`` whose ``params``,
``result`` and ``error`` stay as ``msgspec.Raw``, so the envelope costs one pass over the bytes and the
method-specific decoding happens later, only once the method is known. The envelope is then classified into
``Request``, ``Notification``, ``Response`` or ``ErrorResponse``. Every way this can fail is an ``McpError``
carrying the request id when one could be read, so the caller can always answer.

Hostile input: -32700 means the bytes are not JSON (syntax, invalid UTF-8, a lone surrogate escape, a BOM,
``NaN``). -32600 means JSON we will not take as a message: the wrong shape, or over a limit RFC 8259 section 9
lets a parser set: nesting deeper than the interpreter's recursion limit (msgspec recurses per level), a number
out of range (an integer of more than 4300 digits, ``1e999``). Past a limit we stopped reading, so we cannot say
the text is malformed; and a deep ``params`` usually follows a readable id, which -32600 then echoes. No
failure path re-decodes the whole message into Python objects: the fallbacks only skip over it, or match the
scalar members before the first nested one, so a refused message costs no more than an accepted one.

Outgoing messages use ``jsonrpc`` as the msgspec tag: it is always emitted first and never omitted.
"""

from __future__ import annotations

import re
from typing import Any, Final, TypeAlias

import msgspec
from msgspec import UNSET, Raw, UnsetType

from mcp_trio.protocol.errors import (
    DECODE_ERRORS,
    LIMIT_ERRORS,
    InvalidRequest,
    McpError,
    ParseError,
    describe_decode_error,
)

__all__ = [
    "RequestId",
    "Request",
    "Notification",
    "Response",
    "ErrorObject",
    "ErrorResponse",
    "Message",
    "Batch",
    "decode_message",
    "encode_message",
    "encode_message_into",
    "error_response",
    "request_id_of",
]

RequestId: TypeAlias = int | str


class Request(msgspec.Struct, tag_field="jsonrpc", tag="2.0", omit_defaults=True):
    """A request; ``params`` is ``msgspec.Raw`` when received, any encodable value when sent."""

    id: RequestId
    method: str
    params: Any = UNSET


class Notification(msgspec.Struct, tag_field="jsonrpc", tag="2.0", omit_defaults=True):
    method: str
    params: Any = UNSET


class Response(msgspec.Struct, tag_field="jsonrpc", tag="2.0"):
    """A success response; ``result`` is ``msgspec.Raw`` when received."""

    id: RequestId
    result: Any


class ErrorObject(msgspec.Struct, omit_defaults=True):
    code: int
    message: str
    data: Any = UNSET


class ErrorResponse(msgspec.Struct, tag_field="jsonrpc", tag="2.0"):
    """An error response; ``id`` is ``None`` only when the request's id could not be read."""

    id: RequestId | None
    error: ErrorObject


Message: TypeAlias = Request | Notification | Response | ErrorResponse
#: A JSON-RPC batch (2025-03-26 only): each member decoded, or the error that member gets.
Batch: TypeAlias = list[Message | McpError]


class _Envelope(msgspec.Struct, gc=False):
    jsonrpc: str | UnsetType = UNSET
    id: int | str | UnsetType | None = UNSET
    method: str | UnsetType = UNSET
    params: Raw | UnsetType = UNSET
    result: Raw | UnsetType = UNSET
    error: Raw | UnsetType = UNSET


class _IdPeek(msgspec.Struct, gc=False):
    """Only the id, kept raw: decoding into this skips every other member without building it."""

    id: Raw | UnsetType = UNSET


_envelope_decoder: Final = msgspec.json.Decoder(_Envelope)
_batch_decoder: Final = msgspec.json.Decoder(list[Raw])
_error_object_decoder: Final = msgspec.json.Decoder(ErrorObject)
_id_peek_decoder: Final = msgspec.json.Decoder(_IdPeek)
_id_decoder: Final = msgspec.json.Decoder(int | str)
_encoder: Final = msgspec.json.Encoder()

# A top-level "id" with only scalar members before it, matched without recursion or backtracking (possessive
# and atomic groups) within the first _ID_SCAN_LIMIT bytes: how the id of a message too deep to decode is read.
_WS: Final = rb"[ \t\n\r]*+"
_STRING: Final = rb'"(?>[^"\\]++|\\.)*+"'
_SCALAR_MEMBER: Final = _STRING + _WS + rb":" + _WS + rb"(?>" + _STRING + rb"|[-+.0-9A-Za-z]++)" + _WS + rb","
_ID_PREFIX: Final = re.compile(
    rb"(?s)" + _WS + rb"\{" + _WS + rb"(?>" + _SCALAR_MEMBER + _WS + rb")*?"
    rb'"id"' + _WS + rb":" + _WS + rb"(" + _STRING + rb"|-?[0-9]++)" + _WS + rb"[,}]"
)
_ID_SCAN_LIMIT: Final = 64 * 1024


def decode_message(data: bytes) -> Message | Batch:
    """Decode one JSON-RPC message (or a batch array) from ``data``.

    Raises:
        ParseError: not JSON (-32700).
        InvalidRequest: JSON, but not a JSON-RPC message, or nested too deeply or with a number too large to
            decode (-32600); ``request_id`` is set when readable.
    """
    try:
        envelope = _envelope_decoder.decode(data)
    except msgspec.ValidationError as exc:
        stripped = data.lstrip()
        if stripped[:1] == b"[":
            return _decode_batch(data)
        raise _invalid(f"invalid JSON-RPC message: {exc}", data) from None
    except LIMIT_ERRORS as exc:
        raise _over_limit(exc, data) from None
    except DECODE_ERRORS as exc:
        raise ParseError(f"parse error: {describe_decode_error(exc)}") from None
    return _classify(envelope, data)


def _decode_batch(data: bytes) -> Batch:
    try:
        members = _batch_decoder.decode(data)
    except LIMIT_ERRORS as exc:  # a batch has no id of its own to echo
        raise InvalidRequest(f"invalid JSON-RPC batch: {describe_decode_error(exc)}") from None
    except DECODE_ERRORS as exc:  # ValidationError is a DecodeError: any failure is a parse error
        raise ParseError(f"parse error: {describe_decode_error(exc)}") from None
    if not members:
        raise InvalidRequest("empty batch")
    batch: Batch = []
    for raw in members:
        member = bytes(raw)
        if member.lstrip()[:1] == b"[":  # refused unread: [[[[...]]]] must not recurse through decode_message
            batch.append(InvalidRequest("nested batch"))
            continue
        try:
            decoded = decode_message(member)
        except McpError as error:
            batch.append(error)
            continue
        batch.append(InvalidRequest("nested batch") if isinstance(decoded, list) else decoded)
    return batch


def _classify(envelope: _Envelope, data: bytes) -> Message:
    id_ = envelope.id
    if envelope.jsonrpc != "2.0":
        raise _with_id(InvalidRequest('"jsonrpc" must be "2.0"'), id_)
    method = envelope.method
    if method is not UNSET:
        if envelope.result is not UNSET or envelope.error is not UNSET:
            raise _with_id(InvalidRequest("a request cannot carry result or error"), id_)
        if id_ is UNSET:
            return Notification(method, envelope.params)
        if id_ is None:
            raise InvalidRequest("request id must be a string or an integer, not null")
        return Request(id_, method, envelope.params)
    if id_ is UNSET:
        raise InvalidRequest("message has neither method nor id")
    if envelope.result is not UNSET:
        if envelope.error is not UNSET:
            raise _with_id(InvalidRequest("a response cannot carry both result and error"), id_)
        if id_ is None:
            raise InvalidRequest("response id must not be null")
        return Response(id_, envelope.result)
    if envelope.error is not UNSET:
        try:
            error = _error_object_decoder.decode(envelope.error)
        except DECODE_ERRORS as exc:
            raise _with_id(InvalidRequest(f"invalid error object: {describe_decode_error(exc)}"), id_) from None
        return ErrorResponse(id_, error)
    raise _with_id(InvalidRequest("message has no method, result or error"), id_)


def _with_id(error: McpError, id_: object) -> McpError:
    if isinstance(id_, int | str) and not isinstance(id_, bool):
        error.request_id = id_
    return error


def _invalid(message: str, data: bytes) -> McpError:
    """Build -32600 for a message that failed typed decoding, recovering its id the slow way if possible.

    The envelope decoder stops at the first member of the wrong type, so the rest is checked here, by a decoder
    that skips every member but ``id`` (building nothing): malformed text after the bad member is still -32700.
    Like the envelope decoder, skipping does not check UTF-8 inside members it never reads.
    """
    try:
        peek = _id_peek_decoder.decode(data)
    except msgspec.ValidationError:  # not an object (arrays are batches): a scalar, which cannot nest
        not_an_object = InvalidRequest("a JSON-RPC message must be an object")
        try:
            msgspec.json.decode(data)
        except msgspec.ValidationError:  # a number out of range: JSON, over a limit
            return not_an_object
        except DECODE_ERRORS:
            return ParseError("parse error: invalid JSON")
        return not_an_object
    except LIMIT_ERRORS:
        return _with_id(InvalidRequest(message), _peek_prefix_id(data))
    except DECODE_ERRORS:
        return ParseError("parse error: invalid JSON")
    return _with_id(InvalidRequest(message), _read_id(peek.id))


def _over_limit(exc: BaseException, data: bytes) -> McpError:
    """-32600 for JSON we refused to read on (too deep, too large), with the id if it precedes the problem."""
    return _with_id(InvalidRequest(f"invalid JSON-RPC message: {describe_decode_error(exc)}"), _peek_prefix_id(data))


def _read_id(raw: Raw | UnsetType) -> RequestId | None:
    if raw is UNSET:
        return None
    try:
        value: RequestId = _id_decoder.decode(raw)
    except DECODE_ERRORS:  # a float, a bool, an integer too large: no id to echo
        return None
    return value


def _peek_prefix_id(data: bytes) -> RequestId | None:
    """The top-level id when only scalar members precede it, found in linear time without recursion."""
    match = _ID_PREFIX.match(data, 0, _ID_SCAN_LIMIT)
    return None if match is None else _read_id(Raw(match.group(1)))


def request_id_of(error: McpError) -> RequestId | None:
    """The id of the message an error answers, if it could be read."""
    return error.request_id


def error_response(error: McpError, request_id: RequestId | None = None) -> ErrorResponse:
    """The error response that answers ``error`` (echoing ``request_id`` or the id the decoder read)."""
    rid = request_id if request_id is not None else error.request_id
    return ErrorResponse(rid, ErrorObject(int(error.code), error.message, error.data))


def encode_message(message: object) -> bytes:
    """Encode any message struct (or a list of them, for a batch reply) to JSON bytes."""
    return _encoder.encode(message)


def encode_message_into(message: object, buffer: bytearray) -> None:
    """Append ``message`` and a newline to ``buffer``: one copy, no intermediate bytes object."""
    _encoder.encode_into(message, buffer, -1)
    buffer += b"\n"
