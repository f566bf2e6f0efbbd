"""Method-specific decoding of ``params`` and ``result``, with decoders built once per type.

The envelope leaves ``params``/``result`` as ``msgspec.Raw``; these functions turn them into the method's
struct and map every failure to -32602 with msgspec's precise path (``... at $.arguments.text``). Every failure
is every exception in ``DECODE_ERRORS``: params nested too deeply to decode are a -32602 like any other, never
an exception that escapes to the transport.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec
from msgspec import UNSET

from mcp_trio.protocol.errors import DECODE_ERRORS, InvalidParams, describe_decode_error
from mcp_trio.protocol.types import MethodSpec

__all__ = ["decode_params", "decode_result", "decoder_for"]

_decoders: Final[dict[type, msgspec.json.Decoder[Any]]] = {}
_EMPTY: Final = b"{}"


def decoder_for(kind: type) -> msgspec.json.Decoder[Any]:
    """The shared JSON decoder for ``kind`` (built on first use, then reused)."""
    decoder = _decoders.get(kind)
    if decoder is None:
        decoder = _decoders[kind] = msgspec.json.Decoder(kind)
    return decoder


def decode_params(spec: MethodSpec, params: Any) -> Any:
    """Decode a message's ``params`` into ``spec.params`` (absent params decode as ``{}``).

    Raises:
        InvalidParams: the params do not fit the method.
    """
    kind = spec.params
    if kind is None:
        return None
    if isinstance(params, msgspec.Raw):
        raw: bytes | msgspec.Raw = params
    elif params is UNSET or params is None:
        raw = _EMPTY
    else:  # already-decoded params (in-memory transports): validate by conversion
        try:
            return msgspec.convert(params, kind)
        except DECODE_ERRORS as exc:
            raise InvalidParams(f"invalid params for {spec.name}: {describe_decode_error(exc)}") from None
    try:
        return decoder_for(kind).decode(raw)
    except DECODE_ERRORS as exc:
        raise InvalidParams(f"invalid params for {spec.name}: {describe_decode_error(exc)}") from None


def decode_result(spec: MethodSpec, result: Any) -> Any:
    """Decode a response's ``result`` into ``spec.result``.

    Raises:
        InvalidParams: the result does not fit the method (reported to the waiting caller, not the peer).
    """
    kind = spec.result
    if kind is None:
        return result
    try:
        if isinstance(result, msgspec.Raw):
            return decoder_for(kind).decode(result)
        return msgspec.convert(result, kind)
    except DECODE_ERRORS as exc:
        raise InvalidParams(f"invalid result for {spec.name}: {describe_decode_error(exc)}") from None
