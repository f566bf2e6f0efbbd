"""DNS-rebinding protection (Host, Origin) and bearer-token authentication as an OAuth resource server."""

from __future__ import annotations

import pytest
import trio
from http_test_helpers import RawHttp, build_server, modern_headers, modern_request, start

from mcp_trio.transports.http import AccessToken, AuthSettings, HttpConfig, StaticTokenVerifier
from mcp_trio.transports.http.headers import accepts, decode_header_value
from mcp_trio.transports.http.security import OriginPolicy

DISCOVER = modern_request("server/discover")


async def _discover(port: int, **headers: str):  # type: ignore[no-untyped-def]
    client = await RawHttp.connect(port)
    return await client.request("POST", "/mcp", {**modern_headers("server/discover"), **headers}, DISCOVER)


async def test_foreign_host_is_421_and_foreign_origin_is_403(nursery: trio.Nursery) -> None:
    port = await start(nursery, build_server())
    assert (await _discover(port, host="evil.example.com", origin="http://evil.example.com")).status == 421
    assert (await _discover(port, origin="http://evil.example.com")).status == 403
    assert (await _discover(port, origin="null")).status == 403


@pytest.mark.parametrize("name", ["127.0.0.1", "localhost", "[::1]"])
async def test_loopback_names_with_the_bound_port_are_accepted(nursery: trio.Nursery, name: str) -> None:
    port = await start(nursery, build_server())
    reply = await _discover(port, host=f"{name}:{port}", origin=f"http://{name}:{port}")
    assert reply.status == 200
    assert (await _discover(port, host=f"{name}:{port + 1}")).status == 421


async def test_the_allow_lists_are_configurable(nursery: trio.Nursery) -> None:
    config = HttpConfig(allowed_hosts=("mcp.example.com",), allowed_origins=("https://app.example.com",))
    port = await start(nursery, build_server(), config)
    assert (await _discover(port, host="mcp.example.com:8443", origin="https://app.example.com")).status == 200
    assert (await _discover(port)).status == 421
    assert (await _discover(port, host="mcp.example.com", origin="https://mcp.example.com")).status == 403


async def test_origin_policy_defaults_follow_the_allowed_hosts() -> None:
    policy = OriginPolicy("127.0.0.1", 8000)
    assert policy.origin_allowed("http://localhost:8000")
    assert policy.origin_allowed(None)
    assert not policy.origin_allowed("http://localhost:8001")
    assert not policy.host_allowed(None)


async def test_accept_and_base64_helpers() -> None:
    assert accepts(None, "text/event-stream")
    assert accepts("text/*", "text/event-stream")
    assert not accepts("text/event-stream;q=0, application/json", "text/event-stream")
    assert decode_header_value(" =?base64?w6k=?= ") == "é"
    assert decode_header_value("=?base64??=") == ""


# ---------------------------------------------------------------------- auth

RESOURCE = "https://mcp.example.com/mcp"
METADATA = "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"


def _auth(clock: float = 1000.0) -> HttpConfig:
    tokens = {
        "good": AccessToken("c1", frozenset({"mcp:read", "mcp:write"}), (RESOURCE,), expires_at=2000.0),
        "narrow": AccessToken("c2", frozenset({"mcp:read"}), (RESOURCE,)),
        "foreign": AccessToken("c3", frozenset({"mcp:read", "mcp:write"}), ("https://other.example.com/mcp",)),
        "expired": AccessToken("c4", frozenset({"mcp:read", "mcp:write"}), (RESOURCE,), expires_at=999.0),
    }
    settings = AuthSettings(
        verifier=StaticTokenVerifier(tokens),
        authorization_servers=("https://auth.example.com",),
        resource=RESOURCE,
        required_scopes=("mcp:read", "mcp:write"),
        clock=lambda: clock,
    )
    return HttpConfig(auth=settings)


async def test_no_token_is_401_with_a_discovery_challenge(nursery: trio.Nursery) -> None:
    reply = await _discover(await start(nursery, build_server(), _auth()))
    assert reply.status == 401
    assert reply.headers["www-authenticate"] == f'Bearer scope="mcp:read mcp:write", resource_metadata="{METADATA}"'


@pytest.mark.parametrize("token", ["wrong", "foreign", "expired"])
async def test_invalid_foreign_or_expired_tokens_are_401_invalid_token(nursery: trio.Nursery, token: str) -> None:
    reply = await _discover(await start(nursery, build_server(), _auth()), authorization=f"Bearer {token}")
    assert reply.status == 401
    assert reply.headers["www-authenticate"].startswith('Bearer error="invalid_token", ')


async def test_missing_scope_is_403_insufficient_scope(nursery: trio.Nursery) -> None:
    reply = await _discover(await start(nursery, build_server(), _auth()), authorization="Bearer narrow")
    assert reply.status == 403
    challenge = reply.headers["www-authenticate"]
    assert challenge == (
        f'Bearer error="insufficient_scope", scope="mcp:read mcp:write", resource_metadata="{METADATA}"'
    )


async def test_a_valid_token_is_served(nursery: trio.Nursery) -> None:
    reply = await _discover(await start(nursery, build_server(), _auth()), authorization="Bearer good")
    assert reply.status == 200
    assert reply.json()["result"]["supportedVersions"] == ["2026-07-28"]


@pytest.mark.parametrize("path", ["/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp"])
async def test_protected_resource_metadata_is_public(nursery: trio.Nursery, path: str) -> None:
    client = await RawHttp.connect(await start(nursery, build_server(), _auth()))
    reply = await client.request("GET", path, {})
    assert reply.status == 200
    assert reply.json() == {
        "resource": RESOURCE,
        "authorization_servers": ["https://auth.example.com"],
        "bearer_methods_supported": ["header"],
        "scopes_supported": ["mcp:read", "mcp:write"],
    }


async def test_metadata_is_not_served_without_auth(nursery: trio.Nursery) -> None:
    client = await RawHttp.connect(await start(nursery, build_server()))
    assert (await client.request("GET", "/.well-known/oauth-protected-resource", {})).status == 404
