"""Sealed ``requestState`` for the modern wire's multi-round-trip requests (MRTR).

The server hands the client an opaque ``requestState`` with an ``InputRequiredResult`` and must get it back
unchanged. The spec requires integrity protection bound to the principal, a TTL and the request, so the token
is ``base64url(payload) "." base64url(expiry) "." base64url(HMAC-SHA256(key, binding, expiry, payload))``.
The payload is not encrypted: it must not hold secrets. Time is passed in (sans-IO).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
from typing import Final

from mcp_trio.protocol.errors import DECODE_ERRORS, InvalidParams

__all__ = ["RequestStateSealer", "request_binding"]

_MAC_SIZE: Final = 32


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def request_binding(method: str, name: str, principal: str = "") -> bytes:
    """What a sealed state is bound to: the method, the tool/prompt/resource name and the principal."""
    return f"{method}\0{name}\0{principal}".encode()


class RequestStateSealer:
    """Seal and open ``requestState`` tokens with HMAC-SHA256.

    Args:
        key: the server's secret (random per process by default, so states do not survive a restart; give a
            fixed key to share states across worker processes).
        ttl: seconds a sealed state stays valid.
    """

    __slots__ = ("_key", "ttl")

    def __init__(self, key: bytes | None = None, *, ttl: float = 600.0) -> None:
        if key is not None and len(key) < 16:
            raise ValueError("request-state key must be at least 16 bytes")
        self._key = key if key is not None else secrets.token_bytes(32)
        self.ttl = ttl

    def _mac(self, binding: bytes, expiry: bytes, payload: bytes) -> bytes:
        mac = hmac.new(self._key, digestmod=hashlib.sha256)
        for part in (binding, expiry, payload):
            mac.update(struct.pack(">I", len(part)))
            mac.update(part)
        return mac.digest()

    def seal(self, payload: bytes, *, binding: bytes, now: float) -> str:
        """Return a token carrying ``payload`` that ``open`` accepts until ``now + ttl`` for ``binding``."""
        expiry = struct.pack(">d", now + self.ttl)
        return ".".join(_b64(p) for p in (payload, expiry, self._mac(binding, expiry, payload)))

    def open(self, token: str, *, binding: bytes, now: float) -> bytes:
        """Return the payload of a token sealed by this key for ``binding``.

        Raises:
            InvalidParams: the token is malformed, tampered with, bound to another request, or expired.
        """
        if not isinstance(token, str):  # the peer's echo: only a str can be a token we sealed
            raise InvalidParams("invalid requestState")
        try:
            payload_b64, expiry_b64, mac_b64 = token.split(".")
            payload, expiry, mac = _unb64(payload_b64), _unb64(expiry_b64), _unb64(mac_b64)
        except DECODE_ERRORS:  # wrong part count, bad padding (binascii.Error), non-ASCII (UnicodeEncodeError)
            raise InvalidParams("invalid requestState") from None
        if len(mac) != _MAC_SIZE or len(expiry) != 8:
            raise InvalidParams("invalid requestState")
        if not hmac.compare_digest(mac, self._mac(binding, expiry, payload)):
            raise InvalidParams("requestState failed verification")
        if struct.unpack(">d", expiry)[0] < now:
            raise InvalidParams("requestState expired")
        return payload
