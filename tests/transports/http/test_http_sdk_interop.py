"""The official Python SDK client (``mcp`` 2.3.0, on anyio, so on Trio) against our HTTP server, in every mode."""

from __future__ import annotations

import pytest
import trio
from http_test_helpers import build_server, start
from mcp import Client

# The SDK's HTTP stack (httpx2/httpcore2) leaves its SSE async generators for the GC when its GET stream is
# cancelled at client exit; under Trio that is a ResourceWarning in *their* code, which our settings make an error.
pytestmark = [
    pytest.mark.filterwarnings("ignore:Async generator 'httpx2:ResourceWarning"),
    pytest.mark.filterwarnings("ignore:Async generator 'httpcore2:ResourceWarning"),
]


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28", "auto"])
async def test_the_official_client_lists_calls_and_reads(nursery: trio.Nursery, mode: str) -> None:
    port = await start(nursery, build_server())
    with trio.fail_after(20):
        async with Client(f"http://127.0.0.1:{port}/mcp", mode=mode) as client:
            assert client.protocol_version == ("2025-11-25" if mode == "legacy" else "2026-07-28")
            tools = await client.list_tools()
            assert [t.name for t in tools.tools][:3] == ["echo", "regional", "progress"]
            echoed = await client.call_tool("echo", {"text": "hello"})
            assert echoed.content[0].text == "hello"  # type: ignore[union-attr]
            streamed = await client.call_tool("progress", {})
            assert streamed.content[0].text == "progressed"  # type: ignore[union-attr]
            resource = await client.read_resource("test://static-text")
            assert resource.contents[0].text == "static text"  # type: ignore[union-attr]


async def test_the_official_client_answers_sampling_mid_call_on_the_legacy_wire(nursery: trio.Nursery) -> None:
    import mcp_types

    asked: list[object] = []

    async def sampling(context: object, params: object) -> mcp_types.CreateMessageResult:
        asked.append(params)
        return mcp_types.CreateMessageResult(
            role="assistant", content=mcp_types.TextContent(type="text", text="7"), model="m", stop_reason="endTurn"
        )

    port = await start(nursery, build_server())
    with trio.fail_after(20):
        async with Client(f"http://127.0.0.1:{port}/mcp", mode="legacy", sampling_callback=sampling) as client:
            result = await client.call_tool("sample", {})
    assert result.content[0].text == "model said 7"  # type: ignore[union-attr]
    assert len(asked) == 1
    assert asked[0].messages[0].content.text == "hi?"  # type: ignore[attr-defined]
