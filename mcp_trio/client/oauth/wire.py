"""JSON and forms over ``fetch``: where transport failures and undecodable answers become ``AuthError``."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any, Final, TypeVar
from urllib.parse import quote, urlencode

import msgspec

from mcp_trio.client.fetch import Fetcher, FetchError, FetchResponse
from mcp_trio.client.oauth.errors import AuthError, OAuthErrorResponse

__all__ = [
    "send",
    "decode_json",
    "decode_as",
    "form",
    "basic_authorization",
    "raise_for_oauth_error",
    "ACCEPT_JSON",
    "FORM",
    "JSON",
]

T = TypeVar("T")

ACCEPT_JSON: Final = ("accept", "application/json")
FORM: Final = ("content-type", "application/x-www-form-urlencoded")
JSON: Final = ("content-type", "application/json")
_SNIPPET: Final = 200  # characters of an unusable body quoted in an error


class _OAuthError(msgspec.Struct):
    error: str
    error_description: str | None = None


async def send(
    fetcher: Fetcher, what: str, method: str, url: str, headers: Sequence[tuple[str, str]] = (), body: bytes = b""
) -> FetchResponse:
    """One exchange; an unreachable or misbehaving peer raises ``AuthError`` naming ``what`` was fetched."""
    try:
        return await fetcher(method, url, headers, body)
    except FetchError as error:
        raise AuthError(f"{what}: {error}") from error
    except ValueError as error:  # not an http(s) URL
        raise AuthError(f"{what}: {error}") from error


def decode_json(response: FetchResponse, what: str) -> Any:
    """The body as JSON, or an ``AuthError`` that quotes the start of what came instead."""
    try:
        return msgspec.json.decode(response.body)
    except msgspec.DecodeError:
        snippet = response.body[:_SNIPPET].decode("utf-8", "replace")
        raise AuthError(f"{what}: HTTP {response.status} with a body that is not JSON: {snippet!r}") from None


def decode_as(document: Any, kind: type[T], what: str) -> T:
    """``document`` (decoded JSON) as ``kind``; a missing or ill-typed field raises ``AuthError`` naming it."""
    if not isinstance(document, dict):
        raise AuthError(f"{what}: expected a JSON object, got {type(document).__name__}")
    try:
        return msgspec.convert(document, kind)
    except msgspec.ValidationError as error:
        raise AuthError(f"{what}: {error}") from None


def raise_for_oauth_error(response: FetchResponse, what: str) -> None:
    """An error status becomes ``OAuthErrorResponse`` if it carries an RFC 6749 error object, else ``AuthError``."""
    if 200 <= response.status < 300:
        return
    try:
        found = msgspec.json.decode(response.body, type=_OAuthError)
    except msgspec.DecodeError:
        snippet = response.body[:_SNIPPET].decode("utf-8", "replace")
        raise AuthError(f"{what}: HTTP {response.status}: {snippet!r}") from None
    raise OAuthErrorResponse(what, found.error, found.error_description, response.status)


def form(params: Mapping[str, str | None]) -> bytes:
    """An ``application/x-www-form-urlencoded`` body; ``None`` values are left out."""
    return urlencode({name: value for name, value in params.items() if value is not None}).encode("ascii")


def basic_authorization(client_id: str, secret: str) -> tuple[str, str]:
    """The ``Authorization`` header of ``client_secret_basic``: both parts form-encoded first (RFC 6749 2.3.1)."""
    pair = f"{quote(client_id, safe='')}:{quote(secret, safe='')}".encode()
    return ("authorization", "Basic " + base64.b64encode(pair).decode("ascii"))
