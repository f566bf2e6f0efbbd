"""Bearer-token authentication as an OAuth 2.1 resource server (MCP authorization, RFC 9728, RFC 6750).

Theory of operation: the server never issues tokens; it checks them. A pluggable ``TokenVerifier`` turns the
bearer token into an ``AccessToken`` (or ``None``); the transport then enforces expiry, the audience (the token
must have been issued for this server's canonical resource URI, RFC 8707: no token passthrough) and the
required scopes. Failures carry ``WWW-Authenticate`` challenges naming the RFC 9728 protected-resource metadata
document, which this module also renders, so clients can discover the authorization server.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import attrs

from mcp_trio.transports.http.headers import Headers

__all__ = [
    "AccessToken",
    "TokenVerifier",
    "StaticTokenVerifier",
    "AuthSettings",
    "AuthFailure",
    "authenticate",
    "metadata_document",
    "WELL_KNOWN_PREFIX",
]

WELL_KNOWN_PREFIX = "/.well-known/oauth-protected-resource"


@attrs.frozen
class AccessToken:
    """What a verified token grants.

    Attributes:
        client_id: the OAuth client the token was issued to.
        scopes: granted scopes.
        audience: the resource URIs the token is valid for (``aud``); must include this server's.
        expires_at: expiry as a Unix timestamp in seconds (``exp``), or ``None`` for no expiry.
    """

    client_id: str
    scopes: frozenset[str] = frozenset()
    audience: tuple[str, ...] = ()
    expires_at: float | None = None


class TokenVerifier(Protocol):
    """Checks a bearer token (signature, revocation, introspection...): any async implementation plugs in."""

    async def verify(self, token: str) -> AccessToken | None:
        """The grant behind ``token``, or ``None`` if it is not a valid token."""


class StaticTokenVerifier:
    """A fixed table of tokens, for development, tests and service-to-service secrets.

    Args:
        tokens: token string -> the grant it carries.
    """

    __slots__ = ("_tokens",)

    def __init__(self, tokens: Mapping[str, AccessToken]) -> None:
        self._tokens = [(token.encode(), grant) for token, grant in tokens.items()]

    async def verify(self, token: str) -> AccessToken | None:
        presented = token.encode()
        found = None
        for candidate, grant in self._tokens:  # compare against every entry: timing does not reveal which
            if hmac.compare_digest(candidate, presented):
                found = grant
        return found


def _now() -> float:
    return time.time()


@attrs.frozen
class AuthSettings:
    """Authentication of one endpoint.

    Attributes:
        verifier: checks bearer tokens.
        authorization_servers: issuer URLs listed in the protected-resource metadata (at least one).
        resource: this server's canonical URI (the audience tokens must name); ``None``: ``http://host:port/path``
            of the bound address.
        required_scopes: scopes every request needs (missing: 403 ``insufficient_scope``).
        scopes_supported: advertised in the metadata; defaults to ``required_scopes``.
        resource_name: optional human-readable name in the metadata.
        clock: wall clock for ``expires_at`` (seconds since the epoch); injectable for tests.
    """

    verifier: TokenVerifier
    authorization_servers: tuple[str, ...]
    resource: str | None = None
    required_scopes: tuple[str, ...] = ()
    scopes_supported: tuple[str, ...] | None = None
    resource_name: str | None = None
    clock: Callable[[], float] = _now

    def __attrs_post_init__(self) -> None:
        if not self.authorization_servers:
            raise ValueError("authorization_servers needs at least one issuer (RFC 9728)")


@attrs.frozen
class AuthFailure:
    """A refused request: the status (401 or 403) and its ``WWW-Authenticate`` challenge."""

    status: int
    challenge: str
    message: str


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _challenge(settings: AuthSettings, metadata_url: str, error: str | None) -> str:
    parts = []
    if error is not None:
        parts.append(f"error={_quote(error)}")
    if settings.required_scopes:
        parts.append(f"scope={_quote(' '.join(settings.required_scopes))}")
    parts.append(f"resource_metadata={_quote(metadata_url)}")
    return "Bearer " + ", ".join(parts)


async def authenticate(
    settings: AuthSettings, headers: Headers, resource: str, metadata_url: str
) -> AccessToken | AuthFailure:
    """Check the request's ``Authorization`` header.

    Returns:
        The grant, or the failure to answer with (401: no token or an invalid, expired or foreign one;
        403: a valid token without the required scopes).
    """
    value = headers.get("authorization")
    scheme, _, token = (value or "").partition(" ")
    token = token.strip()
    if value is None or scheme.lower() != "bearer" or not token:
        return AuthFailure(401, _challenge(settings, metadata_url, None), "authentication required")
    grant = await settings.verifier.verify(token)
    if grant is None:
        return AuthFailure(401, _challenge(settings, metadata_url, "invalid_token"), "invalid token")
    if grant.expires_at is not None and grant.expires_at <= settings.clock():
        return AuthFailure(401, _challenge(settings, metadata_url, "invalid_token"), "token expired")
    if resource not in grant.audience:
        return AuthFailure(401, _challenge(settings, metadata_url, "invalid_token"), "token not issued for this server")
    missing = [scope for scope in settings.required_scopes if scope not in grant.scopes]
    if missing:
        return AuthFailure(
            403, _challenge(settings, metadata_url, "insufficient_scope"), f"missing scope: {' '.join(missing)}"
        )
    return grant


def metadata_document(settings: AuthSettings, resource: str) -> dict[str, Any]:
    """The RFC 9728 protected-resource metadata for this server."""
    scopes = settings.scopes_supported if settings.scopes_supported is not None else settings.required_scopes
    document: dict[str, Any] = {
        "resource": resource,
        "authorization_servers": list(settings.authorization_servers),
        "bearer_methods_supported": ["header"],
    }
    if scopes:
        document["scopes_supported"] = list(scopes)
    if settings.resource_name is not None:
        document["resource_name"] = settings.resource_name
    return document
