"""Multi round-trip requests (MRTR, 2026-07-28): ``InputRequiredResult`` and its input requests.

A modern server never sends requests. When ``tools/call``, ``prompts/get`` or ``resources/read``
needs client input, the server answers ``{"resultType": "input_required", "inputRequests": {key:
{method, params}}, "requestState"?}``; the client retries with a new id, adding
``inputResponses`` (same keys) and the echoed ``requestState``.

Input requests are a tagged union on ``method`` (:data:`InputRequest`). Input responses have no
discriminator (``ElicitResult | CreateMessageResult | ListRootsResult``), so the retry params keep
each value as ``msgspec.Raw``; :func:`decode_input_response` decodes one with the result type of
the request the server issued under that key.
"""

from typing import TypeAlias

import msgspec

from mcp_trio.protocol.errors import DECODE_ERRORS, describe_decode_error

from ._base import UNSET, Result, UnsetType, WireModel
from .elicitation import ElicitRequestParams, ElicitResult
from .roots import ListRootsParams, ListRootsResult
from .sampling import CreateMessageParams, CreateMessageResult

__all__ = [
    "CreateMessageRequest",
    "ElicitRequest",
    "ListRootsRequest",
    "InputRequest",
    "InputResponse",
    "InputRequiredResult",
    "decode_input_response",
    "encode_input_response",
]


class CreateMessageRequest(WireModel, tag_field="method", tag="sampling/createMessage", kw_only=True):
    """``sampling/createMessage`` as an input request."""

    params: CreateMessageParams


class ElicitRequest(WireModel, tag_field="method", tag="elicitation/create", kw_only=True):
    """``elicitation/create`` as an input request."""

    params: ElicitRequestParams


class ListRootsRequest(WireModel, tag_field="method", tag="roots/list", kw_only=True):
    """``roots/list`` as an input request (``params`` optional)."""

    params: ListRootsParams | UnsetType = UNSET


InputRequest: TypeAlias = CreateMessageRequest | ElicitRequest | ListRootsRequest
"""A server-to-client request embedded in an ``InputRequiredResult`` or a task."""

InputResponse: TypeAlias = CreateMessageResult | ElicitResult | ListRootsResult
"""The client's answer to one :data:`InputRequest`."""

_RESPONSE_TYPES: dict[type[WireModel], type[InputResponse]] = {
    CreateMessageRequest: CreateMessageResult,
    ElicitRequest: ElicitResult,
    ListRootsRequest: ListRootsResult,
}
_RESPONSE_DECODERS = {request: msgspec.json.Decoder(response) for request, response in _RESPONSE_TYPES.items()}
_ENCODER = msgspec.json.Encoder()


class InputRequiredResult(Result, kw_only=True):
    """``resultType: "input_required"``; at least one of the two fields must be present.

    ``request_state`` is opaque to the client and must be echoed verbatim on the retry.
    """

    input_requests: dict[str, InputRequest] | UnsetType = UNSET
    request_state: str | UnsetType = UNSET


def decode_input_response(request: InputRequest, raw: msgspec.Raw | bytes) -> InputResponse:
    """Decode the client's response to ``request`` from a retry's ``inputResponses`` value.

    Raises:
        msgspec.ValidationError: the value does not match the expected result type.
        msgspec.DecodeError: the value is not JSON, or JSON we refuse (nested too deeply, too large): every
            failure of the peer's bytes is a msgspec error, so callers need catch nothing else.
    """
    try:
        decoded: InputResponse = _RESPONSE_DECODERS[type(request)].decode(raw)
    except msgspec.DecodeError:
        raise
    except DECODE_ERRORS as exc:
        raise msgspec.DecodeError(describe_decode_error(exc)) from None
    return decoded


def encode_input_response(response: InputResponse) -> msgspec.Raw:
    """Wrap a result for a retry's ``inputResponses`` map."""
    return msgspec.Raw(_ENCODER.encode(response))
