"""Per-request validation for the modern, stateless wire (2026-07-28).

Every modern request carries in ``_meta`` what a legacy session would have remembered: the protocol version,
the client's capabilities (and optionally its identity and a log level). This module checks those keys in the
spec's order and returns a validated ``ModernMeta``; each failure is the exact error the spec names.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec
from msgspec import UNSET

from mcp_trio.protocol.errors import DECODE_ERRORS, InvalidParams, UnsupportedProtocolVersion, describe_decode_error
from mcp_trio.protocol.events import ModernMeta
from mcp_trio.protocol.types import LOGGING_LEVELS, ClientCapabilities, Implementation
from mcp_trio.protocol.types import meta as meta_keys
from mcp_trio.protocol.versions import MODERN_VERSIONS

__all__ = [
    "META_PROTOCOL_VERSION",
    "META_CLIENT_CAPABILITIES",
    "META_CLIENT_INFO",
    "META_LOG_LEVEL",
    "META_SERVER_INFO",
    "META_SUBSCRIPTION_ID",
    "LOG_LEVELS",
    "is_modern_meta",
    "read_modern_meta",
]

META_PROTOCOL_VERSION: Final = meta_keys.PROTOCOL_VERSION
META_CLIENT_CAPABILITIES: Final = meta_keys.CLIENT_CAPABILITIES
META_CLIENT_INFO: Final = meta_keys.CLIENT_INFO
META_LOG_LEVEL: Final = meta_keys.LOG_LEVEL
META_SERVER_INFO: Final = meta_keys.SERVER_INFO
META_SUBSCRIPTION_ID: Final = meta_keys.SUBSCRIPTION_ID

#: RFC 5424 severities, least severe first: a level admits itself and everything after it.
LOG_LEVELS: Final = tuple(LOGGING_LEVELS)
_CONTAINERS: Final = (list, dict)  # a tuple: ``list | dict`` would build a union object on every call


def _convert(raw: Any, kind: type, last: list[Any]) -> Any:
    """``msgspec.convert(raw, kind)``, remembering in ``last`` the last dict converted: a client sends the same
    capabilities and identity with every request."""
    if type(raw) is dict:
        last_raw, value = last  # unpacked at once: a consistent pair
        try:
            if raw == last_raw:
                return value
        except RecursionError:  # nested too deeply to compare: convert() says what is wrong with it
            pass
        value = msgspec.convert(raw, kind)
        last[:] = raw, value
        return value
    return msgspec.convert(raw, kind)


_last_capabilities: Final[list[Any]] = [None, None]
_last_client_info: Final[list[Any]] = [None, None]


def is_modern_meta(meta: object) -> bool:
    """Whether a request's ``_meta`` says it speaks the modern wire (it names a protocol version)."""
    return isinstance(meta, dict) and META_PROTOCOL_VERSION in meta


def read_modern_meta(meta: Any, supported: tuple[str, ...] = MODERN_VERSIONS) -> ModernMeta:
    """Validate a modern request's ``_meta`` and return what it declares.

    ``_meta`` is a peer's free-form dict, so every value may be hostile (a list nested hundreds deep): only
    scalars are ever formatted with ``repr`` or echoed, and converting a value can only fail as ``InvalidParams``.

    Raises:
        InvalidParams: ``_meta``, the protocol version or the client capabilities are missing or malformed.
        UnsupportedProtocolVersion: the version is not one we speak (-32022, with ``supported``/``requested``).
    """
    if meta is UNSET or not isinstance(meta, dict):
        raise InvalidParams(f"missing _meta: modern requests must carry {META_PROTOCOL_VERSION}")
    version = meta.get(META_PROTOCOL_VERSION)
    if version is None:
        raise InvalidParams(f"missing _meta[{META_PROTOCOL_VERSION!r}]")
    if isinstance(version, _CONTAINERS):  # a scalar is echoed in -32022; a container may be too deep to repr
        raise InvalidParams(f"invalid _meta[{META_PROTOCOL_VERSION!r}]: expected a string")
    if version not in supported:
        raise UnsupportedProtocolVersion(version, list(supported))
    raw_caps = meta.get(META_CLIENT_CAPABILITIES)
    if raw_caps is None:
        raise InvalidParams(f"missing _meta[{META_CLIENT_CAPABILITIES!r}]")
    try:
        capabilities = _convert(raw_caps, ClientCapabilities, _last_capabilities)
        raw_info = meta.get(META_CLIENT_INFO)
        info = None if raw_info is None else _convert(raw_info, Implementation, _last_client_info)
    except DECODE_ERRORS as exc:
        raise InvalidParams(f"invalid _meta: {describe_decode_error(exc)}") from None
    level = meta.get(META_LOG_LEVEL)
    if level is not None and (not isinstance(level, str) or level not in LOG_LEVELS):
        shown = repr(level) if isinstance(level, str) else "not a string"
        raise InvalidParams(f"invalid _meta[{META_LOG_LEVEL!r}]: {shown}; expected one of {', '.join(LOG_LEVELS)}")
    return ModernMeta(protocol_version=version, client_capabilities=capabilities, client_info=info, log_level=level)
