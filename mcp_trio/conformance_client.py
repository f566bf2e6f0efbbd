"""The conformance suite's client entry point: ``python -m mcp_trio.conformance_client SERVER_URL``.

The official suite (npm ``@modelcontextprotocol/conformance client``) starts a mock server per scenario and runs
this program with the server's URL, naming the scenario in ``MCP_CONFORMANCE_SCENARIO`` (credentials, when a
scenario has them, in ``MCP_CONFORMANCE_CONTEXT``; the wire revision under test in
``MCP_CONFORMANCE_PROTOCOL_VERSION``). Each scenario does what an application would: connect, list, call.
Nothing here is special-cased for the suite beyond choosing what to call; the client does the protocol work.
It exits 0 on success, 1 with the error on stderr otherwise.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any, Final

import trio
from msgspec import UNSET

from mcp_trio.client import Client, ClientConfig, open_client
from mcp_trio.client.auth import (
    AuthorizationCode,
    ClientCredentials,
    ClientMetadata,
    ClientRegistration,
    IdJagExchange,
    JwtBearer,
    OAuthClient,
    PrivateKey,
    ServerMetadata,
    fetch_redirect,
)
from mcp_trio.protocol.types import ElicitRequestParams, ElicitResult
from mcp_trio.protocol.versions import MODERN_VERSIONS

__all__ = ["main", "SCENARIOS"]

logger: Final = logging.getLogger("mcp_trio.conformance_client")
Scenario = Callable[[Client, dict[str, Any]], Awaitable[None]]
SCENARIOS: dict[str, Scenario] = {}


def scenario(*names: str) -> Callable[[Scenario], Scenario]:
    def register(fn: Scenario) -> Scenario:
        for name in names:
            SCENARIOS[name] = fn
        return fn

    return register


async def accept_with_defaults(params: ElicitRequestParams) -> ElicitResult:
    """An elicitation answered "accept" with nothing typed in: the client fills in the schema's defaults."""
    return ElicitResult(action="accept", content={})


@scenario("initialize")
async def _initialize(client: Client, context: dict[str, Any]) -> None:
    if _offers_tools(client):
        await client.list_tools()


@scenario("tools_call")
async def _tools_call(client: Client, context: dict[str, Any]) -> None:
    await client.list_tools()
    await client.call_tool("add_numbers", {"a": 5, "b": 3})


@scenario("sse-retry")
async def _sse_retry(client: Client, context: dict[str, Any]) -> None:
    await client.list_tools()
    await client.call_tool("test_reconnection", {})


@scenario("elicitation-sep1034-client-defaults")
async def _elicitation_defaults(client: Client, context: dict[str, Any]) -> None:
    await client.list_tools()
    await client.call_tool("test_client_elicitation_defaults", {})


@scenario("json-schema-2020-12-preservation")
async def _schema_preservation(client: Client, context: dict[str, Any]) -> None:
    tools = await client.list_tools()
    focal = next(tool for tool in tools if "properties" in tool.input_schema and tool.input_schema.get("$defs"))
    echo = next(tool for tool in tools if tool.name != focal.name)
    await client.call_tool(echo.name, {"schema": focal.input_schema})


@scenario("http-standard-headers")
async def _standard_headers(client: Client, context: dict[str, Any]) -> None:
    """One request of each kind that carries routing headers."""
    tools = await client.list_tools()
    for call in context.get("toolCalls", []) or [{"name": tool.name, "arguments": {}} for tool in tools[:1]]:
        await client.call_tool(call["name"], call.get("arguments", {}))
    resources = await client.list_resources()
    if resources:
        await client.read_resource(resources[0].uri)
    prompts = await client.list_prompts()
    if prompts:
        await client.get_prompt(prompts[0].name)


@scenario(
    "request-metadata",
    "http-custom-headers",
    "http-invalid-tool-headers",
    "sep-2322-client-request-state",
    "json-schema-ref-no-deref",
)
async def _call_what_is_offered(client: Client, context: dict[str, Any]) -> None:
    """List the tools, then make the calls the scenario names, else call every tool listed (without arguments).
    A server without tools gets a fresh ``server/discover`` instead: any request shows the per-request metadata."""
    if not _offers_tools(client):
        await client.discover(refresh=True)
        return
    tools = await client.list_tools()
    calls = context.get("toolCalls")
    if not calls:
        calls = [{"name": tool.name, "arguments": {}} for tool in tools]
    async with trio.open_nursery() as nursery:
        for call in calls:
            nursery.start_soon(_call_quietly, client, call["name"], call.get("arguments", {}))


async def _call_quietly(client: Client, name: str, arguments: dict[str, Any]) -> None:
    """A call whose refusal is part of the scenario (an invalid tool): logged, not fatal."""
    try:
        await client.call_tool(name, arguments)
    except Exception:
        logger.exception("tools/call %s failed", name)


def _offers_tools(client: Client) -> bool:
    capabilities = client.server_capabilities
    return capabilities is not None and capabilities.tools is not UNSET


def _config() -> ClientConfig:
    version = os.environ.get("MCP_CONFORMANCE_PROTOCOL_VERSION")
    if version is None:
        return ClientConfig()
    return ClientConfig(era="modern" if version in MODERN_VERSIONS else "legacy")


def _context() -> dict[str, Any]:
    raw = os.environ.get("MCP_CONFORMANCE_CONTEXT")
    if not raw:
        return {}
    context = json.loads(raw)
    return context if isinstance(context, dict) else {}


async def run(url: str, name: str) -> None:
    context = _context()
    auth = None
    if name.startswith("auth/"):
        auth = await conformance_auth(name, context, url)
        chosen: Scenario = SCENARIOS.get(name, _initialize_and_call)
    else:
        known = SCENARIOS.get(name)
        if known is None:
            raise SystemExit(f"unknown scenario {name!r}")
        chosen = known
    async with open_client(url, config=_config(), elicitation=accept_with_defaults, auth=auth) as client:
        await chosen(client, context)


async def _initialize_and_call(client: Client, context: dict[str, Any]) -> None:
    """The authorization scenarios: any authenticated traffic will do; list the tools and call the first."""
    tools = await client.list_tools()
    if tools:
        await client.call_tool(tools[0].name, {})


# ---------------------------------------------------------------------- authorization scenarios

#: The suite's Client ID Metadata Document URL (its authorization servers accept it without fetching it) and
#: the redirect URI its authorization endpoint sends the code to (nothing listens there: we read the redirect).
CIMD_URL: Final = "https://conformance-test.local/client-metadata.json"
REDIRECT_URI: Final = "http://localhost:3000/callback"


async def conformance_auth(name: str, context: dict[str, Any], url: str) -> OAuthClient:
    """The ``OAuthClient`` an application would build for the scenario: client credentials where the suite
    hands out a client acting for itself, else the authorization code grant with a redirect handler that reads
    the authorization server's redirect instead of opening a browser (pre-registered credentials if given)."""
    await trio.lowlevel.checkpoint()
    client_id, secret = context.get("client_id"), context.get("client_secret")
    client = ClientRegistration(client_id, secret) if isinstance(client_id, str) else None
    if name.startswith("auth/client-credentials-"):
        if client is None:
            raise SystemExit(f"{name}: the suite gave no client_id")
        pem = context.get("private_key_pem")
        key = PrivateKey(pem, context.get("signing_algorithm") or "ES256") if isinstance(pem, str) else None
        return OAuthClient(ClientCredentials(), client=client, private_key=key)
    if client is not None and "idp_token_endpoint" in context:  # enterprise-managed authorization (ID-JAG)
        exchange = IdJagExchange(context["idp_token_endpoint"], context["idp_id_token"], context["idp_client_id"])
        return OAuthClient(JwtBearer(exchange), client=client)
    if client is not None and "valid_jwt" in context:  # workload identity federation: the workload's own JWT
        workload_jwt: str = context["valid_jwt"]
        return OAuthClient(JwtBearer(functools.partial(_fixed, workload_jwt)), client=client)
    metadata = ClientMetadata(redirect_uris=(REDIRECT_URI,), client_name="mcp-trio-conformance")
    return OAuthClient(
        AuthorizationCode(fetch_redirect), client_metadata=metadata, client=client, client_metadata_url=CIMD_URL
    )


async def _fixed(assertion: str, server: ServerMetadata, resource: str) -> str:
    """An assertion handed in from outside (a workload's identity token)."""
    await trio.lowlevel.checkpoint()
    return assertion


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    if len(argv) != 1:
        print("usage: python -m mcp_trio.conformance_client SERVER_URL", file=sys.stderr)
        return 2
    name = os.environ.get("MCP_CONFORMANCE_SCENARIO", "")
    try:
        trio.run(run, argv[0], name)
    except Exception as error:
        logger.exception("scenario %s failed: %s", name, error)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
