"""Our client against the official Python SDK's server (``mcp`` 2.3) over stdio and Streamable HTTP, in every
era our client can choose: the SDK is the reference peer most servers are written with."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from client_test_helpers import free_port, http_server_process

from mcp_trio.client import Client, ClientConfig, open_client
from mcp_trio.protocol.types import ElicitRequestParams, ElicitResult, TextContent

pytestmark = pytest.mark.slow
SERVER = str(Path(__file__).with_name("sdk_server.py"))
ERAS = ["auto", "legacy", "modern"]


def text(result: Any) -> str:
    block = result.content[0]
    assert isinstance(block, TextContent)
    return block.text


async def elicitation(params: ElicitRequestParams) -> ElicitResult:
    return ElicitResult(action="accept", content={"name": "Ada"})


async def exercise(client: Client) -> None:
    names = {tool.name for tool in await client.list_tools()}
    assert {"echo", "count", "greet"} <= names
    assert text(await client.call_tool("echo", {"text": "über"})) == "über"
    steps: list[float] = []
    assert text(await client.call_tool("count", {"steps": 3}, on_progress=lambda p, t, m: steps.append(p))) == (
        "counted 3"
    )
    assert steps == [1, 2, 3]
    if client.era == "legacy":  # the SDK's ctx.elicit needs a server-to-client request: legacy wire only
        assert text(await client.call_tool("greet")) == "hello Ada"
    assert [r.uri for r in await client.list_resources()] == ["sdk://motto"]
    assert (await client.read_resource("sdk://motto")).contents[0].text == "interop"  # type: ignore[union-attr]
    prompt = await client.get_prompt("review", {"code": "x = 1"})
    assert "x = 1" in prompt.messages[0].content.text  # type: ignore[union-attr]
    await client.ping()


def sdk_http_server() -> Any:
    port = free_port()
    return http_server_process([sys.executable, SERVER, "http", str(port)], port)


@pytest.mark.parametrize("era", ERAS)
async def test_stdio(era: str) -> None:
    config = ClientConfig(era=era)  # type: ignore[arg-type]
    async with open_client([sys.executable, SERVER, "stdio"], config=config, elicitation=elicitation) as client:
        assert client.server_info is not None
        assert client.server_info.name == "sdk-peer"
        await exercise(client)


@pytest.mark.parametrize("era", ERAS)
async def test_http(era: str) -> None:
    async with sdk_http_server() as url:
        config = ClientConfig(era=era)  # type: ignore[arg-type]
        async with open_client(url, config=config, elicitation=elicitation) as client:
            await exercise(client)
