"""Finding the authorization server of an MCP server: RFC 9728, RFC 8414 and OpenID Connect discovery.

Theory of operation
-------------------
1. **Protected resource metadata** (RFC 9728): the ``resource_metadata`` URL of the ``WWW-Authenticate``
   challenge if there is one, then the well-known URIs, path-inserted (``/.well-known/oauth-protected-resource/mcp``)
   before root, in the order the MCP specification gives. A 4xx moves on to the next; anything else that is not
   a usable document stops with ``AuthError``. The document's ``resource`` must name the MCP server (the same
   origin, and a path that is the server's or a parent of it), else it is refused: a server must not be able
   to send the client's tokens to someone else's resource.
2. **No metadata at all** is a 2025-03-26 server: its origin is the authorization server, and tokens are asked
   for the server's canonical URI.
3. **Authorization server metadata**: for an issuer with a path, RFC 8414 path insertion, then OpenID Connect
   path insertion, then OpenID Connect path appending; without a path, RFC 8414 then OpenID Connect. The
   document's ``issuer`` must be identical to the issuer we asked about (RFC 8414 section 3.3), else it is not
   used. A 2025-03-26 server named no issuer, only its origin: its document may name any issuer on that origin,
   and a server without any metadata gets the default ``/authorize``, ``/token``, ``/register``.
"""

from __future__ import annotations

import ipaddress
from typing import Final
from urllib.parse import urlsplit, urlunsplit

import attrs
import msgspec

from mcp_trio.client.fetch import Fetcher
from mcp_trio.client.oauth.errors import AuthError
from mcp_trio.client.oauth.wire import ACCEPT_JSON, decode_as, decode_json, send

__all__ = [
    "BearerChallenge",
    "ProtectedResource",
    "ServerMetadata",
    "parse_challenge",
    "resource_metadata_urls",
    "server_metadata_urls",
    "resource_covers",
    "canonical_uri",
    "plain_http_tolerated",
    "discover_resource",
    "discover_server",
]

_PRM: Final = "/.well-known/oauth-protected-resource"
_OAUTH: Final = "/.well-known/oauth-authorization-server"
_OIDC: Final = "/.well-known/openid-configuration"
_TOKEN_CHARS: Final = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


# ---------------------------------------------------------------------- WWW-Authenticate (RFC 9110 section 11.6.1)


@attrs.frozen
class BearerChallenge:
    """What a ``Bearer`` challenge says (absent parameters are ``None``)."""

    error: str | None = None
    scope: str | None = None
    resource_metadata: str | None = None
    error_description: str | None = None

    @property
    def scopes(self) -> list[str]:
        return self.scope.split() if self.scope else []


def parse_challenge(value: str) -> BearerChallenge:
    """The ``Bearer`` challenge among those of a ``WWW-Authenticate`` value; malformed parts are skipped, never
    raised (the header comes from a server we do not trust yet)."""
    params: dict[str, str] | None = None
    for scheme, found in _challenges(value):
        if scheme.lower() == "bearer":
            params = found
            break
    if params is None:
        return BearerChallenge()
    return BearerChallenge(
        error=params.get("error"),
        scope=params.get("scope"),
        resource_metadata=params.get("resource_metadata"),
        error_description=params.get("error_description"),
    )


def _challenges(value: str) -> list[tuple[str, dict[str, str]]]:
    """``[(scheme, {param: value})]``: a token not followed by ``=`` opens a challenge, ``name=value`` (a token or
    a quoted string with backslash escapes) adds to the current one."""
    found: list[tuple[str, dict[str, str]]] = []
    n = len(value)
    i = 0
    while i < n:
        if value[i] in " \t,":
            i += 1
            continue
        start = i
        while i < n and value[i] in _TOKEN_CHARS:
            i += 1
        name = value[start:i]
        if not name:
            i += 1  # a stray character: skip it
            continue
        j = i
        while j < n and value[j] in " \t":
            j += 1
        if j < n and value[j] == "=" and found:
            i = j + 1
            while i < n and value[i] in " \t":
                i += 1
            if i < n and value[i] == '"':
                i += 1
                chars: list[str] = []
                while i < n and value[i] != '"':
                    if value[i] == "\\" and i + 1 < n:
                        i += 1
                    chars.append(value[i])
                    i += 1
                i += 1  # the closing quote (or the end)
                text = "".join(chars)
            else:
                start = i
                while i < n and value[i] not in " \t,":
                    i += 1
                text = value[start:i]
            found[-1][1].setdefault(name.lower(), text)
        else:
            found.append((name, {}))
            if j < n and value[j] == "=":  # a token68 (or "=" before any scheme): skip it
                i = j
                while i < n and value[i] not in " \t,":
                    i += 1
    return found


# ---------------------------------------------------------------------- URLs


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), "", "", ""))


def canonical_uri(url: str) -> str:
    """RFC 8707 form of an MCP endpoint URL: lower-case scheme and host, no fragment, no trailing slash."""
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, parts.query, ""))


def resource_metadata_urls(url: str) -> list[str]:
    """The RFC 9728 well-known URIs for an MCP endpoint, in the order to try them."""
    parts = urlsplit(url)
    origin = _origin(url)
    path = parts.path.rstrip("/")
    return [f"{origin}{_PRM}{path}", f"{origin}{_PRM}"] if path else [f"{origin}{_PRM}"]


def server_metadata_urls(issuer: str) -> list[str]:
    """The RFC 8414 and OpenID Connect discovery URLs for an issuer, in the order the MCP specification gives."""
    origin = _origin(issuer)
    path = urlsplit(issuer).path.rstrip("/")
    if not path:
        return [f"{origin}{_OAUTH}", f"{origin}{_OIDC}"]
    return [f"{origin}{_OAUTH}{path}", f"{origin}{_OIDC}{path}", f"{origin}{path}{_OIDC}"]


def resource_covers(resource: str, url: str) -> bool:
    """Whether a protected resource identifier names the MCP endpoint ``url``: the same origin, and the
    resource's path is the endpoint's or one of its parents (compared without trailing slashes)."""
    r, u = urlsplit(resource), urlsplit(url)
    try:
        same_origin = (
            r.scheme.lower() == u.scheme.lower()
            and r.hostname == u.hostname
            and (r.port or _default_port(r.scheme)) == (u.port or _default_port(u.scheme))
        )
    except ValueError:  # a port that is not a number
        return False
    if not same_origin or r.fragment:
        return False
    rp, up = r.path.rstrip("/"), u.path.rstrip("/")
    return up == rp or up.startswith(rp + "/")


def plain_http_tolerated(url: str, server_url: str) -> bool:
    """Whether credentials may travel to ``url``: over TLS, to a loopback host, or over plain HTTP to the origin
    the application itself chose to reach that way (its MCP server's)."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        return True
    host = parts.hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        if ipaddress.ip_address(host).is_loopback:
            return True
    except ValueError:
        pass
    return _origin(url) == _origin(server_url)


def _default_port(scheme: str) -> int:
    return 443 if scheme.lower() == "https" else 80


# ---------------------------------------------------------------------- documents


class _ResourceDocument(msgspec.Struct):
    resource: str
    authorization_servers: list[str] = []
    scopes_supported: list[str] | None = None


class ServerMetadata(msgspec.Struct, frozen=True):
    """The fields of RFC 8414 / OpenID Connect provider metadata this client uses."""

    issuer: str
    token_endpoint: str
    authorization_endpoint: str | None = None
    registration_endpoint: str | None = None
    scopes_supported: list[str] | None = None
    grant_types_supported: list[str] | None = None
    token_endpoint_auth_methods_supported: list[str] | None = None
    token_endpoint_auth_signing_alg_values_supported: list[str] | None = None
    code_challenge_methods_supported: list[str] | None = None
    client_id_metadata_document_supported: bool = False
    authorization_response_iss_parameter_supported: bool = False


@attrs.frozen
class ProtectedResource:
    """What the MCP server said about itself.

    Attributes:
        resource: the RFC 8707 resource indicator tokens are requested for.
        authorization_servers: issuers that grant tokens for it (the first one is used).
        scopes_supported: the scopes to ask for when a challenge names none.
        metadata_url: where the document was found; ``None`` for a 2025-03-26 server (no document).
    """

    resource: str
    authorization_servers: tuple[str, ...]
    scopes_supported: tuple[str, ...] | None = None
    metadata_url: str | None = None


async def discover_resource(fetcher: Fetcher, url: str, hint: str | None) -> ProtectedResource:
    """The protected resource metadata of the MCP endpoint ``url`` (``hint``: the challenge's
    ``resource_metadata``), or the 2025-03-26 defaults if the server publishes none.

    Raises:
        AuthError: a document that cannot be used, or whose ``resource`` is not this server.
    """
    candidates = resource_metadata_urls(url)
    if hint and _is_http_url(hint):  # anything else in the header is ignored, as if it were absent
        candidates = [hint, *(c for c in candidates if c != hint)]
    for candidate in candidates:
        what = f"protected resource metadata at {candidate}"
        response = await send(fetcher, what, "GET", candidate, [ACCEPT_JSON])
        if 400 <= response.status < 500:
            continue
        if response.status != 200:
            raise AuthError(f"{what}: HTTP {response.status}")
        document = decode_as(decode_json(response, what), _ResourceDocument, what)
        if not resource_covers(document.resource, url):
            raise AuthError(f"{what}: names the resource {document.resource!r}, which is not the server {url!r}")
        servers = tuple(server for server in document.authorization_servers if _is_http_url(server))
        if not servers:
            raise AuthError(f"{what}: lists no usable authorization server")
        scopes = tuple(document.scopes_supported) if document.scopes_supported is not None else None
        return ProtectedResource(document.resource, servers, scopes, candidate)
    return ProtectedResource(canonical_uri(url), (_origin(url),))


async def discover_server(fetcher: Fetcher, issuer: str, *, legacy: bool = False) -> ServerMetadata:
    """The metadata of the authorization server ``issuer``.

    Args:
        legacy: a 2025-03-26 server (no protected resource metadata): ``issuer`` is its origin, the document
            may name any issuer on that origin, and a server without metadata gets the defaults.

    Raises:
        AuthError: no metadata (and not ``legacy``), a document that cannot be used, or one for another issuer.
    """
    for candidate in server_metadata_urls(issuer):
        what = f"authorization server metadata at {candidate}"
        response = await send(fetcher, what, "GET", candidate, [ACCEPT_JSON])
        if 400 <= response.status < 500:
            continue
        if response.status != 200:
            raise AuthError(f"{what}: HTTP {response.status}")
        metadata = decode_as(decode_json(response, what), ServerMetadata, what)
        # A 2025-03-26 server named no issuer, only its origin: any issuer on that origin is its own.
        matches = _origin(metadata.issuer) == issuer if legacy else metadata.issuer == issuer
        if not matches:
            raise AuthError(f"{what}: its issuer {metadata.issuer!r} is not {issuer!r} (RFC 8414 section 3.3)")
        for endpoint in (metadata.token_endpoint, metadata.authorization_endpoint, metadata.registration_endpoint):
            if endpoint is not None and not _is_http_url(endpoint):
                raise AuthError(f"{what}: {endpoint!r} is not an http(s) URL")
        return metadata
    if legacy:
        return ServerMetadata(
            issuer=issuer,
            authorization_endpoint=f"{issuer}/authorize",
            token_endpoint=f"{issuer}/token",
            registration_endpoint=f"{issuer}/register",
            code_challenge_methods_supported=["S256"],
        )
    raise AuthError(f"the authorization server {issuer!r} publishes no metadata (RFC 8414 or OpenID Connect)")


def _is_http_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)
