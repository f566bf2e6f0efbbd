"""OAuth 2.1 for MCP over HTTP: ``OAuthClient`` is the ``HttpAuth`` that ``open_client(url, auth=...)`` takes.

Theory of operation
-------------------
The client sends no credentials until a server asks (or the application calls ``authorize`` first, which an
interactive application should: the hook runs under the deadline of the request that was refused). A 401 (or a
403 ``insufficient_scope``) reaches ``unauthorized``, which, under one lock:

1. skips everything if newer credentials exist than the ones the refused request carried (another request
   renewed them meanwhile; ``headers`` remembers per task which generation it handed out, and the HTTP outlet
   calls both for one request from the same task);
2. discovers the protected resource and its authorization server again (``oauth.discovery``), so a server that
   moved to another authorization server is followed, and credentials of the old one are never presented to
   the new one (storage is keyed by issuer);
3. chooses the scope: the challenge's, united with what was asked for before (step-up keeps earlier
   permissions), else the resource's ``scopes_supported``, else none; ``offline_access`` only if the
   authorization server lists it (added when the client wants refresh tokens), never otherwise;
4. on a 401 refreshes the token if it can (not twice in a row for a token that a refresh produced), else
   runs the grant (``oauth.grants``), after resolving the client's registration: pre-registered, stored,
   Client ID Metadata Document (if the server supports it), Dynamic Client Registration, in that order.

Tokens are refreshed before they are sent when they expire within ``refresh_margin`` seconds. A server that
keeps refusing cannot loop: each scope set may be authorized at most ``max_attempts`` times
within ``attempt_window`` seconds; past that ``AuthError`` is raised. Every failure of discovery, validation
or a grant is an ``AuthError`` that names the step (see ``oauth.errors``), raised from the request that needed
the credentials.
"""

from __future__ import annotations

import functools
import logging
import time
import weakref
from collections.abc import Callable
from typing import Final
from urllib.parse import urlsplit

import trio

from mcp_trio.client.fetch import DEFAULT_TIMEOUT, Fetcher, FetchError, FetchResponse, fetch
from mcp_trio.client.oauth.discovery import (
    ProtectedResource,
    ServerMetadata,
    discover_resource,
    discover_server,
    parse_challenge,
    plain_http_tolerated,
)
from mcp_trio.client.oauth.enterprise import IdJagExchange
from mcp_trio.client.oauth.errors import AuthError, OAuthErrorResponse
from mcp_trio.client.oauth.grants import (
    AuthorizationCode,
    ClientCredentials,
    Grant,
    GrantContext,
    JwtBearer,
    RedirectHandler,
    fetch_redirect,
)
from mcp_trio.client.oauth.registration import ClientMetadata, register
from mcp_trio.client.oauth.tokens import (
    ClientRegistration,
    InMemoryTokenStorage,
    PrivateKey,
    TokenEndpoint,
    Tokens,
    TokenStorage,
)

__all__ = [
    "OAuthClient",
    "AuthError",
    "OAuthErrorResponse",
    "TokenStorage",
    "InMemoryTokenStorage",
    "Tokens",
    "ClientRegistration",
    "ClientMetadata",
    "PrivateKey",
    "AuthorizationCode",
    "ClientCredentials",
    "JwtBearer",
    "IdJagExchange",
    "ServerMetadata",
    "RedirectHandler",
    "fetch_redirect",
    "FetchError",
    "FetchResponse",
]

logger: Final = logging.getLogger("mcp_trio.client.auth")
#: Bytes of a metadata, registration or token document accepted from a server.
DEFAULT_MAX_DOCUMENT: Final = 256 << 10


class OAuthClient:
    """Credentials for one MCP server, obtained and renewed the OAuth 2.1 way (see the module docstring).

    Args:
        grant: how tokens are obtained: ``AuthorizationCode(redirect_handler)`` for a user,
            ``ClientCredentials()`` or ``JwtBearer(...)`` for a client acting for itself (these need ``client``).
        client_metadata: what the client says about itself (redirect URIs, name...); needed by
            ``AuthorizationCode`` unless ``client`` and the redirect URI say it all.
        client: pre-registered credentials (used first, and only with the server they were registered with).
        client_metadata_url: the HTTPS URL of this client's Client ID Metadata Document, used as the
            ``client_id`` with servers that advertise ``client_id_metadata_document_supported``.
        private_key: for ``private_key_jwt`` client authentication.
        storage: where tokens and registrations live (default: in memory).
        fetcher: the HTTP exchange with metadata, authorization and token endpoints (default: ``fetch`` with
            ``timeout`` and ``max_document``).
        timeout: seconds for each exchange with an authorization server or metadata endpoint.
        max_document: bytes accepted in one such answer.
        max_attempts: authorizations of the same scope set within ``attempt_window`` seconds before giving up.
        attempt_window: seconds over which ``max_attempts`` counts.
        refresh_margin: seconds before expiry at which a token is refreshed before it is sent.
        allow_plain_http: let codes, secrets and tokens travel to authorization server endpoints over plain
            HTTP. Without it only TLS, loopback hosts and the MCP server's own origin are accepted.
        clock: wall-clock seconds since the epoch (token expiry); injectable for tests.
    """

    def __init__(
        self,
        grant: Grant,
        *,
        client_metadata: ClientMetadata | None = None,
        client: ClientRegistration | None = None,
        client_metadata_url: str | None = None,
        private_key: PrivateKey | None = None,
        storage: TokenStorage | None = None,
        fetcher: Fetcher | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_document: int = DEFAULT_MAX_DOCUMENT,
        max_attempts: int = 3,
        attempt_window: float = 300.0,
        refresh_margin: float = 30.0,
        allow_plain_http: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if grant.interactive and client_metadata is None:
            raise ValueError("an interactive grant needs client_metadata (at least the redirect URIs)")
        if not grant.interactive and client is None:
            raise ValueError("a grant without a user needs pre-registered client credentials (client=...)")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if client_metadata_url is not None:
            parts = urlsplit(client_metadata_url)
            if parts.scheme != "https" or parts.path in ("", "/"):
                raise ValueError("a Client ID Metadata Document URL must be https:// with a path")
        self.grant = grant
        self.client_metadata = client_metadata
        self.client_metadata_url = client_metadata_url
        self.private_key = private_key
        self.storage: TokenStorage = storage if storage is not None else InMemoryTokenStorage()
        self.fetcher: Fetcher = (
            fetcher if fetcher is not None else functools.partial(fetch, timeout=timeout, max_body=max_document)
        )
        self.max_attempts = max_attempts
        self.attempt_window = attempt_window
        self.refresh_margin = refresh_margin
        self.allow_plain_http = allow_plain_http
        self.clock = clock
        self._preregistered = client
        self._lock = trio.Lock()
        self._sent: weakref.WeakKeyDictionary[trio.lowlevel.Task, int] = weakref.WeakKeyDictionary()
        self._generation = 0  # bumped whenever the tokens change
        self._tokens: Tokens | None = None
        self._refreshed = -1  # the generation a refresh produced (not refreshed again if refused)
        self._key: tuple[str, str] | None = None  # (issuer, resource) the tokens are for
        self._servers: dict[str, ServerMetadata] = {}  # by the issuer named in the resource metadata
        self._current: ServerMetadata | None = None  # the server the tokens come from
        self._requested: list[str] = []  # every scope asked for so far (the base of a step-up)
        self._attempts: dict[frozenset[str], list[float]] = {}

    @property
    def tokens(self) -> Tokens | None:
        """The current tokens, if any."""
        return self._tokens

    async def authorize(self, url: str) -> None:
        """Obtain credentials for the MCP endpoint ``url`` now, unless valid ones are at hand.

        The hook runs inside a request, under its deadline (and, with ``era="auto"``, under the short
        ``server/discover`` probe's); an interactive login can take minutes, so an application with a user should
        call this before ``open_client``.

        Raises:
            AuthError: discovery, registration or the grant failed.
        """
        tokens = self._tokens
        if tokens is not None and not self._expiring(tokens):
            await trio.lowlevel.checkpoint()
            return
        self._sent.pop(trio.lowlevel.current_task(), None)
        await self.unauthorized(401, {}, url)

    # ------------------------------------------------------------------ the HttpAuth hook

    async def headers(self) -> list[tuple[bytes, bytes]]:
        """``Authorization: Bearer`` for one request (refreshed first if about to expire), or nothing yet."""
        tokens = self._tokens
        if tokens is not None and tokens.refresh_token is not None and self._expiring(tokens):
            async with self._lock:
                if self._tokens is tokens and self._current is not None:
                    try:
                        await self._refresh(self._current)
                    except AuthError as error:
                        logger.info("refreshing the access token before it expires failed: %s", error)
        else:
            await trio.lowlevel.checkpoint()
        self._sent[trio.lowlevel.current_task()] = self._generation
        tokens = self._tokens
        if tokens is None:
            return []
        return [(b"authorization", b"Bearer " + tokens.access_token.encode("ascii"))]

    async def unauthorized(self, status: int, headers: dict[str, str], url: str) -> bool:
        """Obtain better credentials after a 401 or a 403 ``insufficient_scope``; True once they are ready.

        Raises:
            AuthError: discovery, registration or the grant failed, or the server keeps refusing.
        """
        used = self._sent.pop(trio.lowlevel.current_task(), self._generation)
        challenge = parse_challenge(headers.get("www-authenticate", ""))
        if status == 403 and challenge.error != "insufficient_scope":
            await trio.lowlevel.checkpoint()
            return False  # forbidden for a reason new scopes would not change
        async with self._lock:
            if self._tokens is not None and used != self._generation:
                return True  # another request renewed the credentials meanwhile
            resource = await discover_resource(self.fetcher, url, challenge.resource_metadata)
            issuer = resource.authorization_servers[0]
            server = await self._server(issuer, url, legacy=resource.metadata_url is None)
            self._current = server
            await self._switch((server.issuer, resource.resource))
            if self._tokens is not None and used != self._generation:
                return True  # stored credentials for this server, not the refused ones
            tokens = self._tokens
            if status == 401 and tokens is not None and tokens.refresh_token is not None and used != self._refreshed:
                try:
                    await self._refresh(server)
                    return True
                except OAuthErrorResponse as error:
                    logger.info("the refresh token was refused (%s); authorizing again", error.error)
            scope = self._scope(challenge.scopes, resource, server)
            self._count_attempt(scope)
            self.grant.check(server)
            client = await self._registration(server)
            context = GrantContext(
                server=server,
                resource=resource.resource,
                scope=scope,
                client_id=client.client_id,
                redirect_uri=self.client_metadata.redirect_uris[0] if self.client_metadata is not None else "",
                endpoint=TokenEndpoint(self.fetcher, server, client, self.private_key, self.clock),
            )
            tokens = await self.grant.obtain(context)
            self._requested = [s for s in (scope or "").split() if s != "offline_access"]
            await self._set(tokens)
            return True

    # ------------------------------------------------------------------ steps

    def _expiring(self, tokens: Tokens) -> bool:
        return tokens.expires_at is not None and tokens.expires_at - self.refresh_margin <= self.clock()

    async def _server(self, issuer: str, url: str, *, legacy: bool) -> ServerMetadata:
        """The metadata of ``issuer`` (cached), refused if its endpoints would carry credentials in the clear."""
        server = self._servers.get(issuer)
        if server is not None:
            await trio.lowlevel.checkpoint()
            return server
        server = await discover_server(self.fetcher, issuer, legacy=legacy)
        endpoints = (server.authorization_endpoint, server.token_endpoint, server.registration_endpoint)
        for endpoint in endpoints:
            if endpoint is not None and not self.allow_plain_http and not plain_http_tolerated(endpoint, url):
                raise AuthError(f"{issuer}: {endpoint} is plain HTTP (see OAuthClient's allow_plain_http)")
        self._servers[issuer] = server
        return server

    async def _switch(self, key: tuple[str, str]) -> None:
        """Take the tokens stored for ``(issuer, resource)`` when that is not what the current ones are for."""
        if key == self._key:
            return
        if self._key is not None:
            logger.info("credentials now come from %s for %s (were %s for %s)", *key, *self._key)
        self._key = key
        self._tokens = await self.storage.get_tokens(*key)
        self._generation += 1

    async def _set(self, tokens: Tokens | None) -> None:
        assert self._key is not None
        await self.storage.set_tokens(*self._key, tokens)
        self._tokens = tokens
        self._generation += 1

    async def _refresh(self, server: ServerMetadata) -> None:
        """Exchange the refresh token (RFC 6749 section 6); a refused one is forgotten."""
        tokens = self._tokens
        assert tokens is not None
        assert tokens.refresh_token is not None
        assert self._key is not None
        client = await self._registration(server)
        endpoint = TokenEndpoint(self.fetcher, server, client, self.private_key, self.clock)
        request = {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token, "resource": self._key[1]}
        try:
            fresh = await endpoint.request(request, tokens.scope)
        except OAuthErrorResponse:
            await self._set(None)
            raise
        if fresh.refresh_token is None:  # the old one stays valid unless the server rotates it
            fresh = Tokens(fresh.access_token, tokens.refresh_token, fresh.expires_at, fresh.scope, fresh.granted_scope)
        await self._set(fresh)
        self._refreshed = self._generation

    def _scope(self, challenged: list[str], resource: ProtectedResource, server: ServerMetadata) -> str | None:
        """The scope to ask for (see the module docstring, step 3)."""
        wanted = list(self._requested)
        if challenged:
            wanted += [s for s in challenged if s not in wanted]
        elif not wanted and resource.scopes_supported:
            wanted = list(dict.fromkeys(resource.scopes_supported))
        offered = server.scopes_supported or ()
        wants_refresh = self.client_metadata is not None and self.client_metadata.wants_refresh_tokens
        keep_offline = "offline_access" in offered and (wants_refresh or "offline_access" in wanted)
        wanted = [s for s in wanted if s != "offline_access"]
        if keep_offline and self.grant.interactive:
            wanted.append("offline_access")
        return " ".join(wanted) or None

    def _count_attempt(self, scope: str | None) -> None:
        now = trio.current_time()
        key = frozenset((scope or "").split())
        recent = [t for t in self._attempts.get(key, []) if now - t < self.attempt_window]
        if len(recent) >= self.max_attempts:
            raise AuthError(f"gave up: the server still refuses after {len(recent)} authorizations for scope {scope!r}")
        recent.append(now)
        self._attempts[key] = recent

    async def _registration(self, server: ServerMetadata) -> ClientRegistration:
        """This client's identity at ``server``: pre-registered, stored, a CIMD URL, or a new registration."""
        issuer = server.issuer
        pre = self._preregistered
        if pre is not None:
            if pre.issuer is None:
                pre = self._preregistered = ClientRegistration(
                    pre.client_id,
                    pre.client_secret,
                    pre.token_endpoint_auth_method,
                    issuer,
                    pre.client_secret_expires_at,
                )
            if pre.issuer != issuer:
                raise AuthError(f"the pre-registered client is for {pre.issuer!r}; the server now names {issuer!r}")
            await trio.lowlevel.checkpoint()
            return pre
        stored = await self.storage.get_client(issuer)
        if stored is not None and not _secret_expired(stored, self.clock()):
            return stored
        metadata = self.client_metadata
        if metadata is None or not self.grant.interactive:
            raise AuthError(f"no client registration for {issuer!r}")
        if self.client_metadata_url is not None and server.client_id_metadata_document_supported:
            method = "private_key_jwt" if self.private_key is not None else "none"
            return ClientRegistration(self.client_metadata_url, token_endpoint_auth_method=method, issuer=issuer)
        if server.registration_endpoint is None:
            raise AuthError(
                f"{issuer!r} supports neither Client ID Metadata Documents (or none was configured) nor dynamic "
                "registration: pass pre-registered credentials (client=ClientRegistration(...))"
            )
        registered = await register(self.fetcher, server, metadata)
        await self.storage.set_client(issuer, registered)
        return registered


def _secret_expired(client: ClientRegistration, now: float) -> bool:
    expires = client.client_secret_expires_at
    return client.client_secret is not None and expires is not None and expires != 0 and expires <= now
