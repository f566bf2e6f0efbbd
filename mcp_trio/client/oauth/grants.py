"""How a token is obtained: the authorization code grant with PKCE, client credentials, and JWT assertions.

Theory of operation: a grant gets a ``GrantContext`` (the authorization server, the resource, the scope to ask
for, the token endpoint with the client's authentication) and returns ``Tokens``. The authorization code grant
is the one with a user: it builds the authorization URL (PKCE S256, ``state``, RFC 8707 ``resource``), hands it
to a *redirect handler* (a desktop application opens a browser and waits for its callback; ``fetch_redirect``
follows one redirect without a browser, for tests and automated suites), then checks the callback before the
code goes anywhere: ``iss`` by simple string comparison (RFC 9207: required when the server advertises it,
compared whenever present), then ``state``, and only then an ``error``.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Awaitable, Callable, Mapping
from typing import Final, Protocol
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

import attrs

from mcp_trio.client.fetch import Fetcher, fetch
from mcp_trio.client.oauth.discovery import ServerMetadata
from mcp_trio.client.oauth.errors import AuthError, OAuthErrorResponse
from mcp_trio.client.oauth.tokens import TokenEndpoint, Tokens
from mcp_trio.client.oauth.wire import send

__all__ = [
    "Grant",
    "GrantContext",
    "RedirectHandler",
    "AuthorizationCode",
    "ClientCredentials",
    "JwtBearer",
    "pkce_pair",
    "code_challenge",
    "authorization_url",
    "check_callback",
    "fetch_redirect",
    "JWT_BEARER_GRANT",
]

JWT_BEARER_GRANT: Final = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})

#: Gets the authorization URL, returns the query parameters of the callback (``code``, ``state``, ``iss``, or
#: ``error``...). A desktop application opens a browser and waits for its redirect URI to be called.
RedirectHandler = Callable[[str], Awaitable[Mapping[str, str]]]


@attrs.frozen
class GrantContext:
    """What a grant works with.

    Attributes:
        server: the authorization server.
        resource: the RFC 8707 resource indicator (the MCP server's).
        scope: the scopes to ask for (space-separated), or ``None`` to leave the parameter out.
        client_id: the client identifier.
        redirect_uri: where the authorization server sends the user back.
        endpoint: the token endpoint, with the client's authentication.
    """

    server: ServerMetadata
    resource: str
    scope: str | None
    client_id: str
    redirect_uri: str
    endpoint: TokenEndpoint


class Grant(Protocol):
    """One way to obtain tokens. ``interactive`` grants involve a user (and may register the client)."""

    @property
    def interactive(self) -> bool: ...

    def check(self, server: ServerMetadata) -> None:
        """Raise ``AuthError`` if ``server`` cannot run this grant (before anything is registered there)."""

    async def obtain(self, context: GrantContext) -> Tokens: ...


def pkce_pair() -> tuple[str, str]:
    """A fresh PKCE ``(code_verifier, code_challenge)``: 64 unreserved characters and their S256 (RFC 7636)."""
    verifier = secrets.token_urlsafe(48)
    return verifier, code_challenge(verifier)


def code_challenge(verifier: str) -> str:
    """The S256 ``code_challenge`` of a verifier: ``BASE64URL(SHA256(verifier))`` without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def authorization_url(endpoint: str, params: Mapping[str, str | None]) -> str:
    """``endpoint`` with ``params`` added to its query (``None`` values left out)."""
    query = urlencode({name: value for name, value in params.items() if value is not None})
    return f"{endpoint}{'&' if urlsplit(endpoint).query else '?'}{query}"


def check_callback(params: Mapping[str, str], *, state: str, issuer: str, iss_required: bool) -> str:
    """The authorization code of a callback, once it is proven to answer our request from our server.

    Raises:
        AuthError: ``iss`` missing (when required) or not exactly ``issuer``; ``state`` not ours; no code.
        OAuthErrorResponse: the server refused (``access_denied``...), after the checks above passed.
    """
    iss = params.get("iss")
    if iss is None and iss_required:
        raise AuthError("the authorization response has no iss, which the authorization server advertises")
    if iss is not None and iss != issuer:  # simple string comparison: no normalization (RFC 9207 section 2.4)
        raise AuthError(f"the authorization response comes from issuer {iss!r}, not {issuer!r}")
    if not secrets.compare_digest(params.get("state", "").encode(), state.encode()):
        raise AuthError("the authorization response carries a state we did not send")
    if "error" in params:
        raise OAuthErrorResponse("authorization", params["error"], params.get("error_description"))
    code = params.get("code")
    if not code:
        raise AuthError("the authorization response has no code")
    return code


@attrs.frozen
class AuthorizationCode:
    """The authorization code grant with PKCE (OAuth 2.1 section 4.1), for clients acting for a user.

    Attributes:
        redirect_handler: takes the user to the authorization URL and returns the callback's parameters.
    """

    redirect_handler: RedirectHandler

    @property
    def interactive(self) -> bool:
        return True

    def check(self, server: ServerMetadata) -> None:
        if server.authorization_endpoint is None:
            raise AuthError(f"{server.issuer} has no authorization_endpoint")
        if "S256" not in (server.code_challenge_methods_supported or ()):
            raise AuthError(f"{server.issuer} does not advertise PKCE with S256 (code_challenge_methods_supported)")

    async def obtain(self, context: GrantContext) -> Tokens:
        server = context.server
        self.check(server)
        assert server.authorization_endpoint is not None
        verifier, challenge = pkce_pair()
        state = secrets.token_urlsafe(32)
        scope = context.scope
        url = authorization_url(
            server.authorization_endpoint,
            {
                "response_type": "code",
                "client_id": context.client_id,
                "redirect_uri": context.redirect_uri,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
                "state": state,
                "resource": context.resource,
                "scope": scope,
                # OpenID Connect issues a refresh token for offline_access only after consent.
                "prompt": "consent" if scope and "offline_access" in scope.split() else None,
            },
        )
        params = await self.redirect_handler(url)
        code = check_callback(
            params,
            state=state,
            issuer=server.issuer,
            iss_required=server.authorization_response_iss_parameter_supported,
        )
        request = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": context.redirect_uri,
            "code_verifier": verifier,
            "resource": context.resource,
        }
        return await context.endpoint.request(request, scope)


@attrs.frozen
class ClientCredentials:
    """The client credentials grant (OAuth 2.1 section 4.2), for a client acting for itself; needs
    pre-registered credentials (a secret, or a ``PrivateKey`` for ``private_key_jwt``)."""

    @property
    def interactive(self) -> bool:
        return False

    def check(self, server: ServerMetadata) -> None:
        pass

    async def obtain(self, context: GrantContext) -> Tokens:
        request = {"grant_type": "client_credentials", "scope": context.scope, "resource": context.resource}
        return await context.endpoint.request(request, context.scope)


@attrs.frozen
class JwtBearer:
    """A JWT authorization grant (RFC 7523 section 2.1): enterprise-managed authorization (an ID-JAG from the
    enterprise identity provider), workload identity federation.

    Attributes:
        assertion: returns a fresh assertion for the authorization server and resource it is given.
    """

    assertion: Callable[[ServerMetadata, str], Awaitable[str]]

    @property
    def interactive(self) -> bool:
        return False

    def check(self, server: ServerMetadata) -> None:
        pass

    async def obtain(self, context: GrantContext) -> Tokens:
        assertion = await self.assertion(context.server, context.resource)
        request = {
            "grant_type": JWT_BEARER_GRANT,
            "assertion": assertion,
            "scope": context.scope,
            "resource": context.resource,
        }
        return await context.endpoint.request(request, context.scope)


async def fetch_redirect(authorization_url: str, fetcher: Fetcher = fetch) -> dict[str, str]:
    """A redirect handler without a browser: GET the authorization URL, do not follow its redirect, and return
    the query parameters of the ``Location`` (for authorization servers that approve without a user, such as
    test servers).

    Raises:
        AuthError: the authorization endpoint did not answer with a redirect.
    """
    what = "the authorization endpoint"
    response = await send(fetcher, what, "GET", authorization_url)
    location = response.headers.get("location")
    if response.status not in _REDIRECTS or not location:
        raise AuthError(f"{what} answered HTTP {response.status} without a redirect")
    return dict(parse_qsl(urlsplit(urljoin(authorization_url, location)).query, keep_blank_values=True))
