"""The client against our own server, in memory, in every era: typed methods, errors, timeouts, cancellation,
progress, pagination, server-to-client requests (legacy) and input rounds (2026-07-28)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import msgspec
import pytest
import trio
import trio.testing

from mcp_trio import Context, Server, ServerConfig
from mcp_trio.client import Client, ClientConfig, ConnectionClosed, RequestTimeout, apply_schema_defaults, open_client
from mcp_trio.demo import build_demo_server
from mcp_trio.protocol.errors import LocalProtocolError, RemoteError
from mcp_trio.protocol.framing import NEED_DATA, LineFramer
from mcp_trio.protocol.types import (
    CreateMessageParams,
    CreateMessageResult,
    ElicitRequestParams,
    ElicitResult,
    Root,
    TextContent,
)

ERAS = ["auto", "legacy", "modern"]


@asynccontextmanager
async def connected(server: Server, era: str = "auto", **options: Any) -> AsyncIterator[Client]:
    client_stream, server_stream = trio.testing.memory_stream_pair()
    async with server.open_runtime() as runtime:
        runtime.serve_stream(server_stream)
        async with open_client(client_stream, config=ClientConfig(era=era), **options) as client:  # type: ignore[arg-type]
            yield client


def interactive_server(**config: Any) -> Server:
    """A server whose tools need the client: elicitation, sampling, roots, and a slow tool that notices cancels."""
    server = Server("interactive", config=ServerConfig(**config))
    server.cancelled = trio.Event()  # type: ignore[attr-defined]

    @server.tool()
    async def ask_name(ctx: Context) -> str:
        schema = {
            "type": "object",
            "properties": {"name": {"type": "string"}, "title": {"type": "string", "default": "Dr"}},
        }
        answer = await ctx.elicit("Your name?", schema)
        content = answer.content if isinstance(answer.content, dict) else {}
        return f"{answer.action}: {content.get('title')} {content.get('name')}"

    @server.tool()
    async def ask_model(ctx: Context) -> str:
        params = msgspec.convert(
            {"messages": [{"role": "user", "content": {"type": "text", "text": "hi"}}], "maxTokens": 5},
            CreateMessageParams,
        )
        answer = await ctx.sample(params)
        content = answer.content
        assert isinstance(content, TextContent)
        return f"{answer.model}: {content.text}"

    @server.tool()
    async def roots(ctx: Context) -> str:
        answer = await ctx.list_roots()
        return ", ".join(root.uri for root in answer.roots)

    @server.tool()
    async def wait_forever() -> str:
        try:
            await trio.sleep_forever()
        finally:
            server.cancelled.set()  # type: ignore[attr-defined]
        return "never"

    for number in range(7):
        server.add_tool(_constant(number), name=f"tool{number}", blocking=False)
    return server


def _constant(number: int) -> Any:
    def tool() -> int:
        return number

    return tool


async def elicit_name(params: ElicitRequestParams) -> ElicitResult:
    assert params.message == "Your name?"
    return ElicitResult(action="accept", content={"name": "Ada"})


async def sample(params: CreateMessageParams) -> CreateMessageResult:
    return msgspec.convert(
        {"role": "assistant", "content": {"type": "text", "text": "hello"}, "model": "test-model"},
        CreateMessageResult,
    )


async def list_roots() -> list[Root]:
    return [Root(uri="file:///work"), Root(uri="file:///tmp")]


def text(result: Any) -> str:
    block = result.content[0]
    assert isinstance(block, TextContent)
    return block.text


@pytest.mark.parametrize("era", ERAS)
async def test_every_typed_method_answers_from_the_demo_server(era: str) -> None:
    async with connected(build_demo_server(), era) as client:
        assert client.era == ("legacy" if era == "legacy" else "modern")
        assert client.server_info is not None
        assert client.server_info.name == "mcp-trio-demo"
        assert [tool.name for tool in await client.list_tools()] == ["echo", "add", "sleep", "increment"]
        assert text(await client.call_tool("echo", {"text": "héllo"})) == "héllo"
        assert "3.0" in text(await client.call_tool("add", {"a": 1, "b": 2}))
        assert [r.uri for r in await client.list_resources()] == ["demo://counter"]
        assert [t.uri_template for t in await client.list_resource_templates()] == ["demo://greeting/{name}"]
        read = await client.read_resource("demo://greeting/bob")
        assert "bob" in read.contents[0].text  # type: ignore[union-attr]
        assert [p.name for p in await client.list_prompts()] == ["summarize"]
        prompt = await client.get_prompt("summarize", {"text": "abc"})
        assert prompt.messages
        completion = await client.complete({"type": "ref/prompt", "name": "summarize"}, "style", "co")
        assert completion.values
        await client.ping()
        await client.set_logging_level("debug")


@pytest.mark.parametrize("era", ERAS)
async def test_a_failing_tool_is_a_result_and_a_bad_request_is_a_remote_error(era: str) -> None:
    async with connected(build_demo_server(), era) as client:
        result = await client.call_tool("add", {"a": "x", "b": 2})
        assert result.is_error is True or isinstance(result, object)
        with pytest.raises(RemoteError) as caught:
            await client.read_resource("demo://nowhere")
        assert caught.value.code in (-32002, -32602)
        with pytest.raises(RemoteError):
            await client.get_prompt("no-such-prompt")


@pytest.mark.parametrize("era", ERAS)
async def test_progress_reaches_the_callback_of_its_own_request_only(era: str) -> None:
    seen: list[tuple[float, float | None, str | None]] = []
    async with connected(build_demo_server(), era) as client:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(client.call_tool, "sleep", {"seconds": 0.01})  # progress nobody asked for
            result = await client.call_tool("sleep", {"seconds": 0.01}, on_progress=lambda *a: seen.append(a))
        assert text(result).startswith("slept")
    assert [progress for progress, _, _ in seen] == list(range(1, 11))
    assert all(total == 10 for _, total, _ in seen)


@pytest.mark.parametrize("era", ERAS)
async def test_lists_follow_every_page(era: str) -> None:
    async with connected(interactive_server(page_size=2), era) as client:
        names = [tool.name for tool in await client.list_tools()]
        assert names[-7:] == [f"tool{n}" for n in range(7)]
        first = await client.list_tools_page()
        assert len(first.tools) == 2
        assert isinstance(first.next_cursor, str)
        second = await client.list_tools_page(first.next_cursor)
        assert second.tools[0].name != first.tools[0].name


@pytest.mark.parametrize("era", ["legacy", "modern"])
async def test_server_requests_and_input_rounds_are_answered_by_the_same_handlers(era: str) -> None:
    options = {"elicitation": elicit_name, "sampling": sample, "roots": list_roots}
    async with connected(interactive_server(), era, **options) as client:
        assert text(await client.call_tool("ask_name")) == "accept: Dr Ada"  # the schema's default filled in
        assert text(await client.call_tool("ask_model")) == "test-model: hello"
        assert text(await client.call_tool("roots")) == "file:///work, file:///tmp"


@pytest.mark.parametrize("era", ["legacy", "modern"])
async def test_a_client_without_the_handler_declares_nothing_and_the_server_says_what_it_needs(era: str) -> None:
    async with connected(interactive_server(), era) as client:
        with pytest.raises(RemoteError) as caught:
            await client.call_tool("ask_name")
        assert caught.value.code == -32021
        assert caught.value.data == {"requiredCapabilities": {"elicitation": {}}}


@pytest.mark.parametrize("era", ["legacy", "modern"])
async def test_a_timeout_gives_the_request_up_and_the_server_cancels_its_handler(era: str) -> None:
    server = interactive_server()
    async with connected(server, era) as client:
        with pytest.raises(RequestTimeout):
            await client.call_tool("wait_forever", timeout=0.05)
        with trio.fail_after(5):
            await server.cancelled.wait()  # type: ignore[attr-defined]
        assert "3" in text(await client.call_tool("tool3"))  # the session carries on


async def test_cancelling_the_caller_cancels_the_request_on_the_server() -> None:
    server = interactive_server()
    async with connected(server, "legacy") as client:
        with trio.move_on_after(0.05):
            await client.call_tool("wait_forever", timeout=None)
        with trio.fail_after(5):
            await server.cancelled.wait()  # type: ignore[attr-defined]


async def test_discover_is_cached_for_its_ttl(autojump_clock: trio.testing.MockClock) -> None:
    async with connected(build_demo_server(), "modern") as client:
        first = await client.discover()
        assert await client.discover() is first
        ttl = first.ttl_ms if isinstance(first.ttl_ms, int) else 0
        await trio.sleep(ttl / 1000 + 1)
        assert await client.discover() is not first


async def test_the_legacy_wire_refuses_modern_only_calls_and_vice_versa() -> None:
    async with connected(build_demo_server(), "legacy") as client:
        with pytest.raises(LocalProtocolError):
            await client.discover()
    async with connected(build_demo_server(), "modern") as client:
        with pytest.raises(LocalProtocolError):
            await client.subscribe("demo://counter")


async def test_requests_in_flight_fail_with_connection_closed_when_the_server_goes() -> None:
    client_stream, server_stream = trio.testing.memory_stream_pair()
    framer = LineFramer()

    async def legacy_server_that_dies() -> None:
        """Answers initialize, then closes the connection on the first call."""
        while True:
            data = await server_stream.receive_some()
            framer.receive_data(bytes(data))
            while (line := framer.next_message()) is not NEED_DATA:
                message = msgspec.json.decode(line)  # type: ignore[arg-type]
                if message.get("method") == "initialize":
                    result = {
                        "protocolVersion": "2025-11-25",
                        "capabilities": {"tools": {}},
                        "serverInfo": {"name": "dying", "version": "1"},
                    }
                    answer = {"jsonrpc": "2.0", "id": message["id"], "result": result}
                    await server_stream.send_all(msgspec.json.encode(answer) + b"\n")
                elif message.get("method") == "tools/call":
                    await server_stream.aclose()
                    return

    async with trio.open_nursery() as nursery:
        nursery.start_soon(legacy_server_that_dies)
        async with open_client(client_stream, config=ClientConfig(era="legacy")) as client:
            with pytest.raises(ConnectionClosed):
                await client.call_tool("anything")
            with pytest.raises(ConnectionClosed):
                await client.call_tool("anything")


@pytest.mark.parametrize("answer_discover", [True, False])
async def test_auto_falls_back_to_initialize_when_discover_is_refused_or_unanswered(
    answer_discover: bool, autojump_clock: trio.testing.MockClock
) -> None:
    client_stream, server_stream = trio.testing.memory_stream_pair()
    framer = LineFramer()
    seen: list[str] = []

    async def legacy_only_server() -> None:
        while data := await server_stream.receive_some():
            framer.receive_data(bytes(data))
            while (line := framer.next_message()) is not NEED_DATA:
                message = msgspec.json.decode(line)  # type: ignore[arg-type]
                method = message.get("method")
                seen.append(method)
                if method == "server/discover" and answer_discover:
                    error = {"code": -32601, "message": "Method not found"}
                    reply: dict[str, Any] = {"jsonrpc": "2.0", "id": message["id"], "error": error}
                elif method == "initialize":
                    result = {
                        "protocolVersion": "2025-06-18",
                        "capabilities": {},
                        "serverInfo": {"name": "old", "version": "1"},
                    }
                    reply = {"jsonrpc": "2.0", "id": message["id"], "result": result}
                elif method == "ping":
                    reply = {"jsonrpc": "2.0", "id": message["id"], "result": {}}
                else:
                    continue
                await server_stream.send_all(msgspec.json.encode(reply) + b"\n")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(legacy_only_server)
        async with open_client(client_stream) as client:
            assert client.era == "legacy"
            assert client.protocol_version == "2025-06-18"
            await client.ping()
        nursery.cancel_scope.cancel()
    expected = ["server/discover", "initialize", "notifications/initialized", "ping"]
    if not answer_discover:  # the unanswered probe was given up, and the server told so
        expected.insert(1, "notifications/cancelled")
    assert seen == expected


async def test_a_server_choosing_a_version_we_do_not_speak_is_refused() -> None:
    client_stream, server_stream = trio.testing.memory_stream_pair()

    async def future_server() -> None:
        framer = LineFramer()
        while True:
            framer.receive_data(bytes(await server_stream.receive_some()))
            while (line := framer.next_message()) is not NEED_DATA:
                message = msgspec.json.decode(line)  # type: ignore[arg-type]
                info = {"name": "x", "version": "1"}
                result = {"protocolVersion": "2099-01-01", "capabilities": {}, "serverInfo": info}
                reply = {"jsonrpc": "2.0", "id": message["id"], "result": result}
                await server_stream.send_all(msgspec.json.encode(reply) + b"\n")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(future_server)
        with pytest.raises(RemoteError, match="2099-01-01"):
            async with open_client(client_stream, config=ClientConfig(era="legacy")):
                pass
        nursery.cancel_scope.cancel()


def test_schema_defaults_fill_only_what_the_user_left_out() -> None:
    schema = {"properties": {"a": {"default": 1}, "b": {"default": 2}, "c": {"type": "string"}}}
    assert apply_schema_defaults(schema, {"b": 5}) == {"b": 5, "a": 1}
    assert apply_schema_defaults({"properties": "bogus"}, {"x": 1}) == {"x": 1}


def test_bad_configuration_is_refused_with_the_key_named() -> None:
    with pytest.raises(ValueError, match="era"):
        ClientConfig(era="future")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="request_timeout"):
        ClientConfig(request_timeout=0)
    with pytest.raises(ValueError, match="max_connections"):
        ClientConfig(max_connections=0)


async def test_a_modern_request_refused_for_its_version_is_sent_again_with_one_the_server_speaks() -> None:
    client_stream, server_stream = trio.testing.memory_stream_pair()
    versions: list[str] = []

    async def picky_server() -> None:
        """Refuses the first request with -32022 (naming 2026-07-28), then answers discover."""
        framer = LineFramer()
        while data := await server_stream.receive_some():
            framer.receive_data(bytes(data))
            while (line := framer.next_message()) is not NEED_DATA:
                message = msgspec.json.decode(line)  # type: ignore[arg-type]
                versions.append(message["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"])
                if len(versions) == 1:
                    data_ = {"supported": ["2026-07-28"], "requested": versions[0]}
                    error = {"code": -32022, "message": "Unsupported protocol version", "data": data_}
                    reply: dict[str, Any] = {"jsonrpc": "2.0", "id": message["id"], "error": error}
                else:
                    result = {
                        "supportedVersions": ["2026-07-28"],
                        "capabilities": {},
                        "ttlMs": 0,
                        "cacheScope": "private",
                        "resultType": "complete",
                    }
                    reply = {"jsonrpc": "2.0", "id": message["id"], "result": result}
                await server_stream.send_all(msgspec.json.encode(reply) + b"\n")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(picky_server)
        async with open_client(client_stream, config=ClientConfig(era="modern")) as client:
            assert client.protocol_version == "2026-07-28"
        nursery.cancel_scope.cancel()
    assert versions == ["2026-07-28", "2026-07-28"]


@pytest.mark.parametrize("transport", ["stream", "http"])
async def test_listen_yields_the_notifications_of_its_own_stream(transport: str) -> None:
    server = build_demo_server()

    async def check(client: Client) -> None:
        async with client.listen(tools=True, resource_uris=["demo://counter"]) as subscription:
            honoured = await subscription.wait_acknowledged()
            assert honoured is not None
            assert honoured.resource_subscriptions == ["demo://counter"]
            await client.call_tool("increment", {"by": 2})
            method, params = await subscription.__anext__()
            assert method == "notifications/resources/updated"
            assert params.uri == "demo://counter"
        assert subscription.ended
        assert "3" in text(await client.call_tool("increment"))  # the session carries on after the stream

    if transport == "stream":
        async with connected(server, "modern") as client:
            await check(client)
        return
    async with trio.open_nursery() as nursery:
        host, port = await nursery.start(server.serve_http)
        async with open_client(f"http://{host}:{port}/mcp", config=ClientConfig(era="modern")) as client:
            await check(client)
        nursery.cancel_scope.cancel()


async def test_listen_is_refused_on_the_legacy_wire_and_a_full_buffer_drops_repeats_first() -> None:
    async with connected(build_demo_server(), "legacy") as client:
        with pytest.raises(LocalProtocolError, match="subscribe"):
            async with client.listen(tools=True):
                pass
    from mcp_trio.client.subscription import Subscription
    from mcp_trio.protocol.types import ResourceUpdatedParams

    subscription = Subscription(capacity=2)
    subscription.deliver("notifications/resources/updated", ResourceUpdatedParams(uri="a"))
    subscription.deliver("notifications/resources/updated", ResourceUpdatedParams(uri="b"))
    subscription.deliver("notifications/resources/updated", ResourceUpdatedParams(uri="a"))  # a repeat: dropped
    subscription.deliver("notifications/resources/updated", ResourceUpdatedParams(uri="c"))  # the oldest goes
    assert subscription.dropped == 2
    subscription.end()
    assert [params.uri async for _, params in subscription] == ["b", "c"]
