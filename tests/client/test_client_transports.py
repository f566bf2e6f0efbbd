"""The client over every transport it has, against our server on real sockets and a real subprocess, both eras;
and over HTTP the wire details: session ids, DELETE on close, SSE answers, server requests mid-call, routing
headers, bounded reads, a session the server ended."""

from __future__ import annotations

import functools
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio

from mcp_trio import Context, Server
from mcp_trio.client import Client, ClientConfig, ConnectionClosed, open_client
from mcp_trio.demo import build_demo_server
from mcp_trio.protocol.errors import RemoteError
from mcp_trio.protocol.types import ElicitRequestParams, ElicitResult, TextContent

ERAS = ["auto", "legacy"]


def text(result: Any) -> str:
    block = result.content[0]
    assert isinstance(block, TextContent)
    return block.text


async def exercise(client: Client) -> None:
    """What every transport must carry: a listing, calls, progress, a prompt and a resource."""
    assert "echo" in [tool.name for tool in await client.list_tools()]
    assert text(await client.call_tool("echo", {"text": "über"})) == "über"
    steps: list[float] = []
    await client.call_tool("sleep", {"seconds": 0.01}, on_progress=lambda p, t, m: steps.append(p))
    assert steps == list(range(1, 11))
    assert (await client.get_prompt("summarize", {"text": "x"})).messages
    assert (await client.read_resource("demo://counter")).contents
    await client.ping()


@asynccontextmanager
async def serving(server: Server, method: str, *args: Any) -> AsyncIterator[Any]:
    async with trio.open_nursery() as nursery:
        bound = await nursery.start(getattr(server, method), *args)
        yield bound
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize("era", ERAS)
async def test_tcp(era: str) -> None:
    async with serving(build_demo_server(), "serve_tcp", "127.0.0.1", 0) as (host, port):
        config = ClientConfig(era=era)  # type: ignore[arg-type]
        async with open_client(f"tcp://{host}:{port}", config=config) as client:
            assert client.era == ("modern" if era == "auto" else "legacy")
            await exercise(client)


@pytest.mark.parametrize("era", ERAS)
async def test_unix(era: str, tmp_path: Path) -> None:
    path = str(tmp_path / "mcp.sock")
    config = ClientConfig(era=era)  # type: ignore[arg-type]
    async with serving(build_demo_server(), "serve_unix", path), open_client(f"unix:{path}", config=config) as client:
        await exercise(client)


@pytest.mark.parametrize("era", ERAS)
async def test_http(era: str) -> None:
    async with serving(build_demo_server(), "serve_http") as (host, port):
        url = f"http://{host}:{port}/mcp"
        async with open_client(url, config=ClientConfig(era=era)) as client:  # type: ignore[arg-type]
            await exercise(client)


@pytest.mark.slow
@pytest.mark.parametrize("era", ERAS)
async def test_stdio_subprocess_is_spawned_and_reaped(era: str) -> None:
    command = [sys.executable, "-m", "mcp_trio", "serve", "--stdio"]
    async with open_client(command, config=ClientConfig(era=era)) as client:  # type: ignore[arg-type]
        await exercise(client)
        driver = client.driver
    assert driver.closed


async def test_a_stdio_server_that_ignores_eof_is_terminated() -> None:
    script = "import sys, time\nfor line in sys.stdin: print(line, end='', flush=True)\ntime.sleep(60)"
    config = ClientConfig(era="legacy", terminate_timeout=0.2, request_timeout=2)
    # It echoes initialize back (a request, not an answer), so the handshake times out; closing must still reap it.
    with trio.fail_after(20), pytest.raises(RemoteError):
        async with open_client([sys.executable, "-c", script], config=config):
            pass


async def test_http_legacy_session_id_is_kept_and_deleted_on_close() -> None:
    server = build_demo_server()
    async with serving(server, "serve_http") as (host, port):
        async with open_client(f"http://{host}:{port}/mcp", config=ClientConfig(era="legacy")) as client:
            outlet: Any = client.driver.outlet
            session_id = outlet.session_id
            assert isinstance(session_id, str)
            await client.ping()
            assert outlet.session_id == session_id
        # DELETE ended it: the same id is now unknown to the server (404).
        async with open_client(f"http://{host}:{port}/mcp", config=ClientConfig(era="legacy")) as other:
            other_outlet: Any = other.driver.outlet
            other_outlet.session_id = session_id
            with pytest.raises(RemoteError, match="expired session"):
                await other.ping()
            with pytest.raises(ConnectionClosed):  # the session is over: nothing more is sent
                await other.ping()


async def test_http_legacy_server_request_mid_call_is_answered_on_its_own_post() -> None:
    server = Server("asks")

    @server.tool()
    async def ask(ctx: Context) -> str:
        answer = await ctx.elicit("color?", {"type": "object", "properties": {"color": {"type": "string"}}})
        return str(answer.content["color"])

    async def elicitation(params: ElicitRequestParams) -> ElicitResult:
        return ElicitResult(action="accept", content={"color": "green"})

    async with serving(server, "serve_http") as (host, port):
        for era in ("legacy", "modern"):
            config = ClientConfig(era=era)  # type: ignore[arg-type]
            async with open_client(f"http://{host}:{port}/mcp", config=config, elicitation=elicitation) as client:
                assert text(await client.call_tool("ask")) == "green"


async def test_http_routing_headers_carry_tool_arguments_marked_for_headers() -> None:
    server = Server("headers")

    schema = {"type": "object", "properties": {"region": {"type": "string", "x-mcp-header": "Region"}}}

    @server.tool(input_schema=schema)
    def where(region: str) -> str:
        return region

    async with serving(server, "serve_http") as (host, port):
        url = f"http://{host}:{port}/mcp"
        async with open_client(url, config=ClientConfig(era="modern")) as client:
            await client.list_tools()
            outlet: Any = client.driver.outlet
            assert outlet.header_arguments == {"where": {"region": "Region"}}
            assert text(await client.call_tool("where", {"region": "eu-wést"})) == "eu-wést"


async def test_http_answer_larger_than_the_limit_fails_the_request_not_the_client() -> None:
    async with serving(build_demo_server(), "serve_http") as (host, port):
        config = ClientConfig(era="modern", max_message_size=2048)
        async with open_client(f"http://{host}:{port}/mcp", config=config) as client:
            with pytest.raises(ConnectionError, match="over 2048 bytes"):
                await client.call_tool("echo", {"text": "x" * 4000})
            assert text(await client.call_tool("echo", {"text": "small"})) == "small"


async def test_http_error_status_answers_the_request_with_its_json_rpc_error_or_one_naming_the_status() -> None:
    async with serving(build_demo_server(), "serve_http") as (host, port):
        with pytest.raises(RemoteError, match="no MCP endpoint at '/elsewhere'"):
            async with open_client(f"http://{host}:{port}/elsewhere", config=ClientConfig(era="modern")):
                pass

    async def proxy(stream: trio.SocketStream) -> None:
        await stream.receive_some()
        body = b"upstream down"
        head = b"HTTP/1.1 502 Bad Gateway\r\ncontent-type: text/plain\r\ncontent-length: %d\r\n\r\n" % len(body)
        await stream.send_all(head + body)
        await stream.aclose()

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(functools.partial(trio.serve_tcp, proxy, 0, host="127.0.0.1"))
        port = listeners[0].socket.getsockname()[1]
        with pytest.raises(RemoteError, match="HTTP 502"):
            async with open_client(f"http://127.0.0.1:{port}/mcp", config=ClientConfig(era="modern")):
                pass
        nursery.cancel_scope.cancel()


async def test_unknown_targets_get_a_clear_error() -> None:
    with pytest.raises(ValueError, match="HOST:PORT"):
        async with open_client("tcp://nowhere"):
            pass
    with pytest.raises(ValueError, match="empty command"):
        async with open_client(""):
            pass
    with pytest.raises(OSError, match="connect"):
        async with open_client("tcp://127.0.0.1:1"):
            pass
