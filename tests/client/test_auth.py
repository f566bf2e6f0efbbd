"""The OAuth client: discovery order, PKCE, state and iss checks, registration choices, refresh, step-up, the retry
limit, bad authorization server answers, the one-shot fetch, and a whole flow against our own protected server.

Most tests drive the ``HttpAuth`` hook directly against an authorization server that lives in memory (``Web`` is
the client's ``Fetcher``); ``fetch`` itself is tested on real sockets, and one test runs ``open_client`` against
our HTTP server with bearer authentication on.
"""

from __future__ import annotations

import base64
import functools
import re
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import msgspec
import pytest
import trio
from hypothesis import given
from hypothesis import strategies as st

from mcp_trio import Server
from mcp_trio.client import open_client
from mcp_trio.client.auth import (
    AuthError,
    AuthorizationCode,
    ClientCredentials,
    ClientMetadata,
    ClientRegistration,
    OAuthClient,
    OAuthErrorResponse,
    PrivateKey,
    fetch_redirect,
)
from mcp_trio.client.fetch import FetchError, FetchResponse, fetch
from mcp_trio.client.oauth.discovery import (
    discover_resource,
    discover_server,
    parse_challenge,
    resource_covers,
    server_metadata_urls,
)
from mcp_trio.client.oauth.grants import check_callback, code_challenge, pkce_pair
from mcp_trio.transports.http import AccessToken, AuthSettings, HttpConfig

AS = "https://as.example"
MCP = "https://mcp.example/mcp"
PRM = "https://mcp.example/.well-known/oauth-protected-resource/mcp"
REDIRECT = "http://localhost:3000/callback"
CHALLENGE = {"www-authenticate": f'Bearer resource_metadata="{PRM}", scope="mcp:read"'}


def reply(status: int, document: Any = None, *, body: bytes | None = None, **headers: str) -> FetchResponse:
    data = body if body is not None else (b"" if document is None else msgspec.json.encode(document))
    return FetchResponse(status, {name.replace("_", "-"): value for name, value in headers.items()}, data)


class Request:
    def __init__(self, method: str, url: str, headers: dict[str, str], body: bytes) -> None:
        self.method, self.url, self.headers, self.body = method, url, headers, body
        self.query = dict(parse_qsl(urlsplit(url).query))
        self.form = dict(parse_qsl(body.decode())) if headers.get("content-type", "").endswith("urlencoded") else {}


Handler = Callable[[Request], FetchResponse]


class Web:
    """Every URL the client fetches, answered from memory (404 for the rest); ``log`` keeps what was asked."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Handler] = {}
        self.log: list[str] = []

    def route(self, method: str, url: str, handler: Handler) -> None:
        self.routes[(method, url)] = handler

    def document(self, url: str, document: Any) -> None:
        self.route("GET", url, lambda request: reply(200, document))

    async def __call__(self, method: str, url: str, headers: Any, body: bytes) -> FetchResponse:
        await trio.lowlevel.checkpoint()
        self.log.append(f"{method} {url.split('?')[0]}")
        handler = self.routes.get((method, url.split("?")[0]))
        request = Request(method, url, {k.lower(): v for k, v in headers}, body)
        return reply(404, {"error": "not_found"}) if handler is None else handler(request)


class WallClock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class FakeAuthorizationServer:
    """A compliant authorization server (DCR, PKCE, RFC 9207 ``iss``, refresh tokens) that also verifies the
    tokens it issued, for our resource server."""

    def __init__(self, web: Web, issuer: str = AS, clock: WallClock | None = None, **metadata: Any) -> None:
        self.web, self.issuer, self.clock = web, issuer, clock or WallClock()
        self.metadata: dict[str, Any] = {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/authorize",
            "token_endpoint": f"{issuer}/token",
            "registration_endpoint": f"{issuer}/register",
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none", "client_secret_basic"],
            "authorization_response_iss_parameter_supported": True,
            **metadata,
        }
        self.expires_in = 3600
        self.authorizations: list[dict[str, str]] = []
        self.token_requests: list[Request] = []
        self.registrations: list[dict[str, Any]] = []
        self.issued: dict[str, AccessToken] = {}
        self.refresh_tokens: dict[str, tuple[str, str]] = {}
        self.codes: dict[str, dict[str, str]] = {}
        web.route(
            "GET",
            f"{urlsplit(issuer).scheme}://{urlsplit(issuer).netloc}/.well-known/oauth-authorization-server"
            + urlsplit(issuer).path,
            lambda request: reply(200, self.metadata),
        )
        web.route("GET", f"{issuer}/authorize", self.authorize)
        web.route("POST", f"{issuer}/token", self.token)
        web.route("POST", f"{issuer}/register", self.register)

    def authorize(self, request: Request) -> FetchResponse:
        params = request.query
        self.authorizations.append(params)
        code = secrets.token_urlsafe(8)
        self.codes[code] = params
        back = {"code": code, "state": params["state"], "iss": self.issuer}
        return reply(302, location=f"{params['redirect_uri']}?{urlencode(back)}")

    def token(self, request: Request) -> FetchResponse:
        self.token_requests.append(request)
        form = request.form
        if form["grant_type"] == "authorization_code":
            asked = self.codes.pop(form["code"])
            assert code_challenge(form["code_verifier"]) == asked["code_challenge"]
            assert form["resource"] == asked["resource"]
            scope = asked.get("scope", "")
        elif form["grant_type"] == "refresh_token":
            if form["refresh_token"] not in self.refresh_tokens:
                return reply(400, {"error": "invalid_grant", "error_description": "unknown refresh token"})
            scope, _ = self.refresh_tokens.pop(form["refresh_token"])
        else:
            scope = form.get("scope", "")
        access, refresh = f"at-{secrets.token_hex(4)}", f"rt-{secrets.token_hex(4)}"
        expires = self.clock.now + self.expires_in
        self.issued[access] = AccessToken("client", frozenset(scope.split()), (form.get("resource", ""),), expires)
        self.refresh_tokens[refresh] = (scope, access)
        document = {"access_token": access, "token_type": "Bearer", "expires_in": self.expires_in, "scope": scope}
        return reply(200, {**document, "refresh_token": refresh})

    def register(self, request: Request) -> FetchResponse:
        body = msgspec.json.decode(request.body)
        self.registrations.append(body)
        return reply(201, {"client_id": f"dcr-{len(self.registrations)}", **body})

    async def verify(self, token: str) -> AccessToken | None:
        await trio.lowlevel.checkpoint()
        return self.issued.get(token)


def protected(web: Web, *, scopes: list[str] | None = None, servers: tuple[str, ...] = (AS,)) -> None:
    document: dict[str, Any] = {"resource": MCP, "authorization_servers": list(servers)}
    if scopes is not None:
        document["scopes_supported"] = scopes
    web.document(PRM, document)


def oauth(web: Web, **options: Any) -> OAuthClient:
    metadata = options.pop("client_metadata", ClientMetadata(redirect_uris=(REDIRECT,)))
    fetcher = options.pop("fetcher", web)
    redirect = functools.partial(fetch_redirect, fetcher=fetcher)
    return OAuthClient(AuthorizationCode(redirect), client_metadata=metadata, fetcher=fetcher, **options)


async def bearer(client: OAuthClient) -> str:
    (name, value), *_ = await client.headers()
    assert name == b"authorization"
    return value.decode().removeprefix("Bearer ")


# ---------------------------------------------------------------------- discovery


def test_the_bearer_challenge_is_found_among_others() -> None:
    value = 'Basic realm="x", Bearer error="insufficient_scope", scope="a b", resource_metadata="https://r/x\\"y"'
    challenge = parse_challenge(value)
    assert challenge.error == "insufficient_scope"
    assert challenge.scopes == ["a", "b"]
    assert challenge.resource_metadata == 'https://r/x"y'
    assert parse_challenge("Negotiate abc==, Bearer scope=s1") == parse_challenge("Bearer scope=s1")
    assert parse_challenge("").scope is None


@given(st.text())
def test_any_challenge_text_parses_without_raising(value: str) -> None:
    parse_challenge(value)


@given(st.dictionaries(st.sampled_from(["scope", "error", "resource_metadata"]), st.text()))
def test_quoted_challenge_parameters_round_trip(params: dict[str, str]) -> None:
    quoted = ", ".join(
        f'{name}="{value.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for name, value in params.items()
    )
    challenge = parse_challenge(f"Bearer {quoted}")
    assert challenge.scope == params.get("scope")
    assert challenge.error == params.get("error")
    assert challenge.resource_metadata == params.get("resource_metadata")


async def test_resource_metadata_comes_from_the_challenge_then_path_then_root() -> None:
    web = Web()
    found = await discover_resource(web, "https://mcp.example/a/mcp", "https://mcp.example/custom.json")
    assert web.log == [
        "GET https://mcp.example/custom.json",
        "GET https://mcp.example/.well-known/oauth-protected-resource/a/mcp",
        "GET https://mcp.example/.well-known/oauth-protected-resource",
    ]
    web.log.clear()
    await discover_resource(web, "https://mcp.example/a/mcp", "file:///etc/passwd")  # not a URL to fetch
    assert len(web.log) == 2
    # None found: a 2025-03-26 server, whose origin is its authorization server.
    assert (found.resource, found.authorization_servers, found.metadata_url) == (
        "https://mcp.example/a/mcp",
        ("https://mcp.example",),
        None,
    )


async def test_authorization_server_metadata_urls_follow_the_specification_order() -> None:
    assert server_metadata_urls("https://as.example/tenant1/") == [
        "https://as.example/.well-known/oauth-authorization-server/tenant1",
        "https://as.example/.well-known/openid-configuration/tenant1",
        "https://as.example/tenant1/.well-known/openid-configuration",
    ]
    assert server_metadata_urls("https://as.example") == [
        "https://as.example/.well-known/oauth-authorization-server",
        "https://as.example/.well-known/openid-configuration",
    ]
    web = Web()
    issuer = "https://as.example/tenant1"
    web.document(
        "https://as.example/tenant1/.well-known/openid-configuration", {"issuer": issuer, "token_endpoint": AS}
    )
    assert (await discover_server(web, issuer)).issuer == issuer
    assert [line.split()[1] for line in web.log] == server_metadata_urls(issuer)


async def test_metadata_for_another_issuer_is_refused() -> None:
    web = Web()
    web.document(
        f"{AS}/.well-known/oauth-authorization-server", {"issuer": "https://evil.example", "token_endpoint": AS}
    )
    with pytest.raises(AuthError, match=re.escape("is not 'https://as.example'")):
        await discover_server(web, AS)


def test_a_resource_names_its_own_path_or_a_parent() -> None:
    assert resource_covers("https://mcp.example/mcp", "https://MCP.example:443/mcp/")
    assert resource_covers("https://mcp.example", "https://mcp.example/mcp")
    assert not resource_covers("https://mcp.example/mc", "https://mcp.example/mcp")
    assert not resource_covers("https://evil.example/mcp", "https://mcp.example/mcp")
    assert not resource_covers("http://mcp.example/mcp", "https://mcp.example/mcp")


async def test_a_resource_that_is_not_this_server_stops_before_any_authorization() -> None:
    web = Web()
    fake = FakeAuthorizationServer(web)
    web.document(PRM, {"resource": "https://evil.example/mcp", "authorization_servers": [AS]})
    with pytest.raises(AuthError, match=re.escape("evil.example")):
        await oauth(web).unauthorized(401, CHALLENGE, MCP)
    assert fake.authorizations == []


async def test_a_2025_03_26_server_without_metadata_uses_the_default_endpoints() -> None:
    web = Web()
    fake = FakeAuthorizationServer(web, "https://mcp.example")
    web.routes.pop(("GET", "https://mcp.example/.well-known/oauth-authorization-server"))
    client = oauth(web)
    assert await client.unauthorized(401, {}, MCP)
    assert fake.authorizations[0]["resource"] == MCP
    assert "POST https://mcp.example/register" in web.log


# ---------------------------------------------------------------------- PKCE, state, iss


def test_pkce_uses_s256_as_in_rfc_7636() -> None:
    assert (
        code_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    )
    verifier, challenge = pkce_pair()
    assert 43 <= len(verifier) <= 128
    assert set(verifier) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
    assert challenge == code_challenge(verifier) != pkce_pair()[1]


@pytest.mark.parametrize(
    ("params", "iss_required", "outcome"),
    [
        ({"code": "c", "state": "s", "iss": AS}, True, "c"),
        ({"code": "c", "state": "s"}, False, "c"),
        ({"code": "c", "state": "s"}, True, "has no iss"),
        ({"code": "c", "state": "s", "iss": "https://evil.example"}, False, "not 'https://as.example'"),
        ({"code": "c", "state": "s", "iss": AS + "/"}, True, "not 'https://as.example'"),  # no normalization
        ({"error": "access_denied", "state": "s", "iss": "https://evil.example"}, True, "not 'https://as.example'"),
        ({"code": "c", "state": "other", "iss": AS}, True, "state we did not send"),
        ({"state": "s", "iss": AS}, True, "no code"),
    ],
)
def test_the_callback_is_checked_before_its_code_is_used(
    params: dict[str, str], iss_required: bool, outcome: str
) -> None:
    if outcome == "c":
        assert check_callback(params, state="s", issuer=AS, iss_required=iss_required) == "c"
    else:
        with pytest.raises(AuthError, match=outcome):
            check_callback(params, state="s", issuer=AS, iss_required=iss_required)


def test_an_authorization_error_is_reported_once_the_response_is_authentic() -> None:
    with pytest.raises(OAuthErrorResponse) as caught:
        check_callback({"error": "access_denied", "state": "s", "iss": AS}, state="s", issuer=AS, iss_required=True)
    assert caught.value.error == "access_denied"


# ---------------------------------------------------------------------- the flow


async def test_a_401_runs_registration_and_the_authorization_code_flow() -> None:
    web = Web()
    fake = FakeAuthorizationServer(web)
    protected(web, scopes=["mcp:all"])
    client = oauth(web)
    assert await client.headers() == []
    assert await client.unauthorized(401, CHALLENGE, MCP)
    token = await bearer(client)
    assert fake.issued[token].scopes == {"mcp:read"}  # the challenge's scope wins over scopes_supported
    (asked,) = fake.authorizations
    assert asked["client_id"] == "dcr-1"
    assert (asked["code_challenge_method"], asked["response_type"], asked["resource"]) == ("S256", "code", MCP)
    assert asked["redirect_uri"] == REDIRECT
    assert fake.registrations[0]["application_type"] == "native"
    assert fake.registrations[0]["grant_types"] == ["authorization_code", "refresh_token"]


async def test_authorize_obtains_credentials_ahead_of_any_request() -> None:
    web = Web()
    fake = FakeAuthorizationServer(web)
    protected(web, scopes=["mcp:read"])
    client = oauth(web)
    await client.authorize(MCP)
    await client.authorize(MCP)  # valid ones are at hand: nothing more
    assert len(fake.authorizations) == 1
    assert await bearer(client) in fake.issued
    with pytest.raises(ValueError, match="https:// with a path"):
        oauth(web, client_metadata_url="http://app.example/client.json")


async def test_scope_falls_back_to_scopes_supported_and_is_omitted_without_them() -> None:
    for scopes, expected in ((["a", "b"], "a b"), (None, None)):
        web = Web()
        fake = FakeAuthorizationServer(web)
        protected(web, scopes=scopes)
        assert await oauth(web).unauthorized(401, {}, MCP)
        assert fake.authorizations[0].get("scope") == expected


async def test_offline_access_is_asked_for_only_where_the_server_lists_it() -> None:
    web = Web()
    fake = FakeAuthorizationServer(web, scopes_supported=["mcp:read", "offline_access"])
    protected(web)
    assert await oauth(web).unauthorized(401, CHALLENGE, MCP)
    assert (fake.authorizations[0]["scope"], fake.authorizations[0]["prompt"]) == ("mcp:read offline_access", "consent")
    web = Web()
    fake = FakeAuthorizationServer(web, scopes_supported=["mcp:read"])
    protected(web)
    challenge = {"www-authenticate": 'Bearer scope="mcp:read offline_access"'}
    assert await oauth(web).unauthorized(401, challenge, MCP)
    assert fake.authorizations[0]["scope"] == "mcp:read"


async def test_a_client_id_metadata_document_is_preferred_to_registration() -> None:
    web = Web()
    fake = FakeAuthorizationServer(web, client_id_metadata_document_supported=True)
    protected(web)
    url = "https://app.example/client.json"
    assert await oauth(web, client_metadata_url=url).unauthorized(401, CHALLENGE, MCP)
    assert fake.authorizations[0]["client_id"] == url
    assert fake.registrations == []
    assert fake.token_requests[0].form["client_id"] == url


async def test_pre_registered_credentials_come_first_and_stay_with_their_server() -> None:
    web = Web()
    fake = FakeAuthorizationServer(web)
    protected(web)
    client = oauth(web, client=ClientRegistration("pre", "secret"))
    assert await client.unauthorized(401, CHALLENGE, MCP)
    assert fake.registrations == []
    basic = fake.token_requests[0].headers["authorization"]
    assert base64.b64decode(basic.removeprefix("Basic ")) == b"pre:secret"
    FakeAuthorizationServer(web, "https://other.example")
    protected(web, servers=("https://other.example",))
    with pytest.raises(AuthError, match=re.escape("pre-registered client is for 'https://as.example'")):
        await client.unauthorized(401, CHALLENGE, MCP)


async def test_a_new_authorization_server_gets_a_new_registration_and_no_old_credentials() -> None:
    web = Web()
    first = FakeAuthorizationServer(web)
    protected(web)
    client = oauth(web)
    assert await client.unauthorized(401, CHALLENGE, MCP)
    second = FakeAuthorizationServer(web, "https://as2.example")
    second.registrations = [{}, {}]  # its client ids differ from the first server's
    protected(web, servers=("https://as2.example",))
    assert await client.unauthorized(401, CHALLENGE, MCP)
    assert second.authorizations[0]["client_id"] == "dcr-3" != first.authorizations[0]["client_id"]
    assert await bearer(client) in second.issued


async def test_step_up_asks_for_the_union_of_earlier_and_challenged_scopes() -> None:
    web = Web()
    fake = FakeAuthorizationServer(web)
    protected(web)
    client = oauth(web)
    assert await client.unauthorized(401, CHALLENGE, MCP)
    await client.headers()
    step_up = {"www-authenticate": f'Bearer error="insufficient_scope", scope="mcp:write", resource_metadata="{PRM}"'}
    assert await client.unauthorized(403, step_up, MCP)
    assert [a["scope"] for a in fake.authorizations] == ["mcp:read", "mcp:read mcp:write"]
    assert fake.issued[await bearer(client)].scopes == {"mcp:read", "mcp:write"}


async def test_a_403_for_another_reason_is_not_retried() -> None:
    web = Web()
    client = oauth(web)
    assert not await client.unauthorized(403, {"www-authenticate": 'Bearer error="invalid_request"'}, MCP)
    assert not await client.unauthorized(403, {}, MCP)
    assert web.log == []


async def test_a_server_that_keeps_refusing_is_given_up_on(autojump_clock: trio.testing.MockClock) -> None:
    web = Web()
    fake = FakeAuthorizationServer(web)
    protected(web)
    client = oauth(web, max_attempts=2, attempt_window=60)
    refusal = {"www-authenticate": 'Bearer error="insufficient_scope", scope="mcp:admin"'}
    for _ in range(2):
        await client.headers()
        assert await client.unauthorized(403, refusal, MCP)
    await client.headers()
    with pytest.raises(AuthError, match="after 2 authorizations for scope 'mcp:admin'"):
        await client.unauthorized(403, refusal, MCP)
    assert len(fake.authorizations) == 2
    await trio.sleep(60)  # the window has passed: one more try is allowed
    assert await client.unauthorized(403, refusal, MCP)


async def test_a_401_uses_the_refresh_token_before_authorizing_again() -> None:
    web = Web()
    fake = FakeAuthorizationServer(web)
    protected(web)
    client = oauth(web)
    assert await client.unauthorized(401, CHALLENGE, MCP)
    first = await bearer(client)
    assert await client.unauthorized(401, CHALLENGE, MCP)
    second = await bearer(client)
    assert second != first
    assert [r.form["grant_type"] for r in fake.token_requests] == ["authorization_code", "refresh_token"]
    assert fake.token_requests[1].form["resource"] == MCP
    # A token a refresh produced and the server refused again: authorize, do not refresh in a loop.
    assert await client.unauthorized(401, CHALLENGE, MCP)
    assert [r.form["grant_type"] for r in fake.token_requests][-1] == "authorization_code"
    assert len(fake.authorizations) == 2


async def test_a_refused_refresh_token_falls_back_to_authorization() -> None:
    web = Web()
    fake = FakeAuthorizationServer(web)
    protected(web)
    client = oauth(web)
    assert await client.unauthorized(401, CHALLENGE, MCP)
    await client.headers()
    fake.refresh_tokens.clear()
    assert await client.unauthorized(401, CHALLENGE, MCP)
    assert len(fake.authorizations) == 2
    assert await bearer(client) in fake.issued


async def test_an_expiring_token_is_refreshed_before_it_is_sent() -> None:
    web, clock = Web(), WallClock()
    fake = FakeAuthorizationServer(web, clock=clock)
    fake.expires_in = 100
    protected(web)
    client = oauth(web, clock=clock, refresh_margin=30)
    assert await client.unauthorized(401, CHALLENGE, MCP)
    first = await bearer(client)
    clock.now += 69
    assert await bearer(client) == first
    clock.now += 2
    assert await bearer(client) != first
    assert len(fake.authorizations) == 1


async def test_concurrent_refusals_authorize_once() -> None:
    web = Web()
    fake = FakeAuthorizationServer(web)
    protected(web)
    client = oauth(web)

    async def request() -> None:
        await client.headers()
        assert await client.unauthorized(401, CHALLENGE, MCP)

    async with trio.open_nursery() as nursery:
        for _ in range(5):
            nursery.start_soon(request)
    assert len(fake.authorizations) == 1


async def test_client_credentials_with_a_secret_or_a_signed_assertion() -> None:
    jwt = pytest.importorskip("jwt")
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    web = Web()
    fake = FakeAuthorizationServer(
        web, token_endpoint_auth_methods_supported=["client_secret_basic", "private_key_jwt"]
    )
    protected(web, scopes=["mcp:read"])
    client = OAuthClient(ClientCredentials(), client=ClientRegistration("svc", "s3cret"), fetcher=web)
    assert await client.unauthorized(401, {}, MCP)
    form = fake.token_requests[-1].form
    assert (form["grant_type"], form["scope"], form["resource"]) == ("client_credentials", "mcp:read", MCP)
    assert fake.token_requests[-1].headers["authorization"].startswith("Basic ")

    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    signed = OAuthClient(
        ClientCredentials(), client=ClientRegistration("svc"), private_key=PrivateKey(pem.decode()), fetcher=web
    )
    assert await signed.unauthorized(401, {}, MCP)
    form = fake.token_requests[-1].form
    assert form["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    claims = jwt.decode(form["client_assertion"], key.public_key(), algorithms=["ES256"], audience=AS)
    assert (claims["iss"], claims["sub"]) == ("svc", "svc")


# ---------------------------------------------------------------------- what a bad authorization server gets


def _metadata(document: Any) -> Callable[[Web, FakeAuthorizationServer], None]:
    def apply(web: Web, fake: FakeAuthorizationServer) -> None:
        web.route("GET", f"{AS}/.well-known/oauth-authorization-server", lambda r: reply(200, document))

    return apply


def _endpoint(method: str, path: str, answer: FetchResponse) -> Callable[[Web, FakeAuthorizationServer], None]:
    def apply(web: Web, fake: FakeAuthorizationServer) -> None:
        web.route(method, f"{AS}{path}", lambda r: answer)

    return apply


TOKEN = {"access_token": "a", "token_type": "bearer"}
BASE = {
    "issuer": AS,
    "token_endpoint": f"{AS}/token",
    "authorization_endpoint": f"{AS}/authorize",
    "registration_endpoint": f"{AS}/register",
}


@pytest.mark.parametrize(
    ("breakage", "error"),
    [
        (_endpoint("GET", "/.well-known/oauth-authorization-server", reply(200, body=b"<html>")), "not JSON: '<html>'"),
        (_metadata(["a list"]), "expected a JSON object, got list"),
        (_metadata({"issuer": AS}), "missing required field `token_endpoint`"),
        (_metadata({**BASE, "code_challenge_methods_supported": "S256"}), r"Expected `array \| null`"),
        (_metadata({**BASE, "token_endpoint": "ftp://as.example/t"}), "is not an http"),
        (_metadata({**BASE, "token_endpoint": "http://as.example/t"}), "plain HTTP"),
        (_metadata({**BASE, "code_challenge_methods_supported": ["plain"]}), "PKCE with S256"),
        (_endpoint("GET", "/.well-known/oauth-authorization-server", reply(503)), "HTTP 503"),
        (_endpoint("GET", "/authorize", reply(200, body=b"login form")), "without a redirect"),
        (_endpoint("POST", "/register", reply(201, {"client_secret": "x"})), "missing required field `client_id`"),
        (_endpoint("POST", "/token", reply(200, {"token_type": "Bearer"})), "`access_token`"),
        (_endpoint("POST", "/token", reply(200, {"access_token": "a", "token_type": "DPoP"})), "only Bearer"),
        (_endpoint("POST", "/token", reply(200, {"access_token": "a\r\nX: y", "token_type": "Bearer"})), "printable"),
        (_endpoint("POST", "/token", reply(500, body=b"Internal Server Error")), "HTTP 500"),
        (_endpoint("POST", "/token", reply(200, {**TOKEN, "expires_in": "soon"})), "'soon' is not a number"),
        (_endpoint("POST", "/token", reply(200, {**TOKEN, "expires_in": -1})), "out of range"),
    ],
)
async def test_unusable_answers_become_auth_errors(breakage: Callable[[Web, Any], None], error: str) -> None:
    web = Web()
    fake = FakeAuthorizationServer(web, registration_endpoint=f"{AS}/register")
    protected(web)
    breakage(web, fake)
    with pytest.raises(AuthError, match=error):
        await oauth(web).unauthorized(401, CHALLENGE, MCP)


async def test_an_oauth_error_keeps_its_code() -> None:
    web = Web()
    FakeAuthorizationServer(web)
    protected(web)
    answer = reply(400, {"error": "invalid_client", "error_description": "who are you"})
    web.route("POST", f"{AS}/token", lambda r: answer)
    with pytest.raises(OAuthErrorResponse, match="invalid_client: who are you") as caught:
        await oauth(web).unauthorized(401, CHALLENGE, MCP)
    assert (caught.value.error, caught.value.status) == ("invalid_client", 400)


async def test_an_unreachable_authorization_server_is_an_auth_error() -> None:
    async def down(method: str, url: str, headers: Any, body: bytes) -> FetchResponse:
        await trio.lowlevel.checkpoint()
        raise FetchError("connection refused")

    with pytest.raises(AuthError, match="connection refused"):
        await oauth(Web(), fetcher=down).unauthorized(401, CHALLENGE, MCP)


# ---------------------------------------------------------------------- fetch, on real sockets


async def _raw_server(nursery: trio.Nursery, answer: bytes | None) -> int:
    async def handle(stream: trio.SocketStream) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = await stream.receive_some(4096)
            if not chunk:
                return
            data += chunk
        if answer is None:
            await trio.sleep_forever()
        await stream.send_all(answer)
        await stream.aclose()

    listeners = await nursery.start(functools.partial(trio.serve_tcp, handle, 0, host="127.0.0.1"))
    return int(listeners[0].socket.getsockname()[1])


async def test_fetch_returns_a_redirect_without_following_it(nursery: trio.Nursery) -> None:
    port = await _raw_server(nursery, b"HTTP/1.1 302 Found\r\nLocation: /next?code=1\r\nContent-Length: 2\r\n\r\nok")
    response = await fetch("GET", f"http://127.0.0.1:{port}/authorize?x=1")
    assert (response.status, response.headers["location"], response.body) == (302, "/next?code=1", b"ok")


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 100, "over 10 bytes"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort", "RemoteProtocolError|closed"),
        (b"NOT HTTP AT ALL\r\n\r\n", "RemoteProtocolError"),
        (b"HTTP/1.1 200 OK\r\nX: " + b"h" * 5000, "RemoteProtocolError"),  # a head that never ends
    ],
)
async def test_fetch_refuses_what_it_cannot_bound_or_parse(nursery: trio.Nursery, answer: bytes, error: str) -> None:
    port = await _raw_server(nursery, answer)
    with pytest.raises(FetchError, match=error):
        await fetch("GET", f"http://127.0.0.1:{port}/", max_body=10, max_head=1024)


async def test_fetch_gives_up_on_a_silent_server(nursery: trio.Nursery, autojump_clock: trio.testing.MockClock) -> None:
    port = await _raw_server(nursery, None)
    with pytest.raises(FetchError, match="within 5 s"):
        await fetch("GET", f"http://127.0.0.1:{port}/", timeout=5)
    assert trio.current_time() == pytest.approx(5, abs=0.01)


async def test_fetch_of_a_closed_port_is_a_fetch_error() -> None:
    listener = (await trio.open_tcp_listeners(0, host="127.0.0.1"))[0]
    port = listener.socket.getsockname()[1]
    await listener.aclose()
    with pytest.raises(FetchError):
        await fetch("GET", f"http://127.0.0.1:{port}/")


# ---------------------------------------------------------------------- the whole flow against our server


@asynccontextmanager
async def protected_server(fake: FakeAuthorizationServer, clock: WallClock) -> AsyncIterator[str]:
    server = Server("protected")

    @server.tool()
    async def whoami() -> str:
        return "you"

    settings = AuthSettings(verifier=fake, authorization_servers=(AS,), required_scopes=("mcp:read",), clock=clock)
    async with trio.open_nursery() as nursery:
        host, port = await nursery.start(functools.partial(server.serve_http, config=HttpConfig(auth=settings)))
        yield f"http://{host}:{port}/mcp"
        nursery.cancel_scope.cancel()


async def test_open_client_authorizes_and_refreshes_against_our_server() -> None:
    web, clock = Web(), WallClock()
    fake = FakeAuthorizationServer(web, clock=clock)
    fake.expires_in = 100

    async def route(method: str, url: str, headers: Any, body: bytes) -> FetchResponse:
        if url.startswith(AS):
            return await web(method, url, headers, body)
        return await fetch(method, url, headers, body)

    redirect = functools.partial(fetch_redirect, fetcher=route)
    metadata = ClientMetadata(redirect_uris=(REDIRECT,))
    auth = OAuthClient(AuthorizationCode(redirect), client_metadata=metadata, fetcher=route, clock=clock)
    async with protected_server(fake, clock) as url, open_client(url, auth=auth) as client:
        assert (await client.call_tool("whoami")).content
        (asked,) = fake.authorizations
        assert (asked["resource"], asked["scope"]) == (url, "mcp:read")  # from our server's metadata and challenge
        clock.now += 200  # expired for the server too: the client refreshes before sending
        assert (await client.call_tool("whoami")).content
    assert [r.form["grant_type"] for r in fake.token_requests] == ["authorization_code", "refresh_token"]
