"""Credentials and where they are kept: tokens, client registrations, ``TokenStorage``, and the token endpoint.

Everything is keyed by the authorization server's ``issuer`` (tokens also by the resource they are for): the MCP
specification forbids presenting one server's client credentials or tokens to another. The token endpoint
request authenticates the client the way the registration and the server's metadata agree on
(``client_secret_basic``, ``client_secret_post``, ``private_key_jwt`` or ``none``) and validates what comes back
before anything of it is used in a header.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from typing import Any, Final, Protocol

import attrs
import msgspec
import trio

from mcp_trio.client.fetch import Fetcher
from mcp_trio.client.oauth.discovery import ServerMetadata
from mcp_trio.client.oauth.errors import AuthError
from mcp_trio.client.oauth.wire import (
    ACCEPT_JSON,
    FORM,
    basic_authorization,
    decode_as,
    decode_json,
    form,
    raise_for_oauth_error,
    send,
)

__all__ = [
    "Tokens",
    "ClientRegistration",
    "PrivateKey",
    "TokenStorage",
    "InMemoryTokenStorage",
    "TokenEndpoint",
    "choose_auth_method",
]

JWT_BEARER_ASSERTION: Final = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
_ASSERTION_LIFETIME: Final = 300  # seconds a private_key_jwt client assertion is valid
_SECRET_METHODS: Final = ("client_secret_basic", "client_secret_post")


class Tokens(msgspec.Struct, frozen=True):
    """What the token endpoint granted (a ``msgspec`` struct, so storage can persist it as JSON).

    Attributes:
        access_token: the bearer token sent to the MCP server.
        refresh_token: for a new access token without the user, if the server issued one.
        expires_at: when the access token expires, in seconds since the epoch (``None``: not said).
        scope: the scopes that were asked for (the base of the next step-up).
        granted_scope: the scopes the server says it granted, if it said.
    """

    access_token: str
    refresh_token: str | None = None
    expires_at: float | None = None
    scope: str | None = None
    granted_scope: str | None = None


class ClientRegistration(msgspec.Struct, frozen=True):
    """Who this client is to one authorization server.

    Attributes:
        client_id: the client identifier (a URL for a Client ID Metadata Document).
        client_secret: for a confidential client.
        token_endpoint_auth_method: how to authenticate at the token endpoint; ``None``: chosen from the server's
            metadata.
        issuer: the authorization server these credentials belong to; ``None`` for pre-registered credentials
            not yet bound (they are bound to the first server they are used with, and refused for any other).
        client_secret_expires_at: when the secret expires, in seconds since the epoch (0 or ``None``: never).
    """

    client_id: str
    client_secret: str | None = None
    token_endpoint_auth_method: str | None = None
    issuer: str | None = None
    client_secret_expires_at: float | None = None


@attrs.frozen
class PrivateKey:
    """A key for ``private_key_jwt`` client authentication (RFC 7523); signing needs PyJWT with cryptography.

    Attributes:
        pem: the private key, PEM-encoded.
        algorithm: the JWS algorithm (``ES256``, ``RS256``...).
        key_id: the ``kid`` header, if the server needs it to pick the key.
    """

    pem: str = attrs.field(repr=False)
    algorithm: str = "ES256"
    key_id: str | None = None


class TokenStorage(Protocol):
    """Where credentials live between requests (and, for a persistent implementation, between runs).

    Tokens are keyed by issuer and resource, registrations by issuer. ``None`` deletes.
    """

    async def get_tokens(self, issuer: str, resource: str) -> Tokens | None: ...

    async def set_tokens(self, issuer: str, resource: str, tokens: Tokens | None) -> None: ...

    async def get_client(self, issuer: str) -> ClientRegistration | None: ...

    async def set_client(self, issuer: str, client: ClientRegistration | None) -> None: ...


class InMemoryTokenStorage:
    """The default ``TokenStorage``: a dictionary, gone with the process."""

    def __init__(self) -> None:
        self.tokens: dict[tuple[str, str], Tokens] = {}
        self.clients: dict[str, ClientRegistration] = {}

    async def get_tokens(self, issuer: str, resource: str) -> Tokens | None:
        await trio.lowlevel.checkpoint()
        return self.tokens.get((issuer, resource))

    async def set_tokens(self, issuer: str, resource: str, tokens: Tokens | None) -> None:
        await trio.lowlevel.checkpoint()
        if tokens is None:
            self.tokens.pop((issuer, resource), None)
        else:
            self.tokens[(issuer, resource)] = tokens

    async def get_client(self, issuer: str) -> ClientRegistration | None:
        await trio.lowlevel.checkpoint()
        return self.clients.get(issuer)

    async def set_client(self, issuer: str, client: ClientRegistration | None) -> None:
        await trio.lowlevel.checkpoint()
        if client is None:
            self.clients.pop(issuer, None)
        else:
            self.clients[issuer] = client


def choose_auth_method(client: ClientRegistration, server: ServerMetadata, private_key: PrivateKey | None) -> str:
    """The token endpoint authentication method: the registration's, else one the server supports
    (RFC 8414's default is ``client_secret_basic``) that the client's credentials allow.

    Raises:
        AuthError: the server supports no method the client can use.
    """
    if client.token_endpoint_auth_method is not None:
        return client.token_endpoint_auth_method
    supported = server.token_endpoint_auth_methods_supported or ["client_secret_basic"]
    if private_key is not None and "private_key_jwt" in supported:
        return "private_key_jwt"
    if client.client_secret is not None:
        for method in _SECRET_METHODS:
            if method in supported:
                return method
    if "none" in supported or client.client_secret is None:
        return "none"
    raise AuthError(f"{server.issuer} supports none of our token endpoint authentication methods: {supported}")


class _TokenResponse(msgspec.Struct):
    access_token: str
    token_type: str
    expires_in: float | str | None = None  # a number; some servers send it as a string
    refresh_token: str | None = None
    scope: str | None = None


@attrs.frozen
class TokenEndpoint:
    """Requests to one authorization server's token endpoint on behalf of one client.

    Attributes:
        fetcher: the HTTP exchange.
        server: the authorization server's metadata.
        client: the client's registration there.
        private_key: for ``private_key_jwt``.
        clock: wall-clock seconds since the epoch (for ``expires_at`` and assertion times).
    """

    fetcher: Fetcher
    server: ServerMetadata
    client: ClientRegistration
    private_key: PrivateKey | None
    clock: Callable[[], float]

    async def request(self, params: Mapping[str, str | None], scope: str | None) -> Tokens:
        """POST a token request (``params`` plus client authentication); ``scope`` is recorded as asked for.

        Raises:
            OAuthErrorResponse: the server refused (``invalid_grant``...).
            AuthError: an unusable answer (not JSON, no ``access_token``, not a Bearer token...).
        """
        what = f"token request to {self.server.token_endpoint}"
        body: dict[str, str | None] = dict(params)
        headers = [ACCEPT_JSON, FORM]
        method = choose_auth_method(self.client, self.server, self.private_key)
        client_id, secret = self.client.client_id, self.client.client_secret
        if method == "client_secret_basic":
            if secret is None:
                raise AuthError(f"{what}: client_secret_basic needs a client secret")
            headers.append(basic_authorization(client_id, secret))
        elif method == "client_secret_post":
            if secret is None:
                raise AuthError(f"{what}: client_secret_post needs a client secret")
            body.update(client_id=client_id, client_secret=secret)
        elif method == "private_key_jwt":
            if self.private_key is None:
                raise AuthError(f"{what}: private_key_jwt needs a private key")
            body.update(
                client_id=client_id,
                client_assertion_type=JWT_BEARER_ASSERTION,
                client_assertion=sign_assertion(self.private_key, client_id, self.server.issuer, self.clock()),
            )
        elif method == "none":
            body["client_id"] = client_id
        else:
            raise AuthError(f"{what}: unsupported token endpoint authentication method {method!r}")
        response = await send(self.fetcher, what, "POST", self.server.token_endpoint, headers, form(body))
        raise_for_oauth_error(response, what)
        granted = decode_as(decode_json(response, what), _TokenResponse, what)
        if granted.token_type.lower() != "bearer":
            raise AuthError(f"{what}: token_type {granted.token_type!r} is not supported (only Bearer)")
        if not granted.access_token or not all(0x21 <= ord(c) <= 0x7E for c in granted.access_token):
            raise AuthError(f"{what}: the access_token is empty or not printable ASCII")
        lifetime = _lifetime(granted.expires_in, what)
        expires_at = None if lifetime is None else self.clock() + lifetime
        return Tokens(granted.access_token, granted.refresh_token, expires_at, scope, granted.scope)


def _lifetime(expires_in: float | str | None, what: str) -> float | None:
    if expires_in is None:
        return None
    try:
        seconds = float(expires_in)
    except ValueError:
        raise AuthError(f"{what}: expires_in {expires_in!r} is not a number") from None
    if not 0 <= seconds < float("inf"):
        raise AuthError(f"{what}: expires_in {expires_in!r} is out of range")
    return seconds


def sign_assertion(key: PrivateKey, client_id: str, audience: str, now: float) -> str:
    """A ``private_key_jwt`` client assertion (RFC 7523 section 3): issued by and about the client, for the
    authorization server's issuer, valid for a few minutes, with a unique ``jti``."""
    try:
        import jwt  # PyJWT: optional, only this method needs it
    except ImportError as error:
        raise AuthError("private_key_jwt needs PyJWT with cryptography: pip install 'pyjwt[crypto]'") from error
    claims: dict[str, Any] = {
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "iat": int(now),
        "exp": int(now) + _ASSERTION_LIFETIME,
        "jti": secrets.token_urlsafe(16),
    }
    headers = {"kid": key.key_id} if key.key_id is not None else None
    try:
        return jwt.encode(claims, key.pem, algorithm=key.algorithm, headers=headers)
    except (jwt.PyJWTError, ValueError, TypeError, NotImplementedError) as error:
        raise AuthError(f"cannot sign a client assertion with {key.algorithm}: {error}") from error
