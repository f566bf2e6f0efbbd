"""The same scenarios on every transport: one session driver behind every framing, so one behaviour.

Each test runs on each wire of ``wires.WIRES`` (memory, TCP, Unix socket and stdio pipes with newline-delimited
JSON; Streamable HTTP with a legacy session and stateless) against a server whose handlers fail in every way a
handler can, and checks that the client sees the same answer everywhere and that the session keeps serving.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trio
from wires import WIRES, Wire, open_wire

from mcp_trio.protocol.errors import McpError
from mcp_trio.protocol.types import CallToolResult, TextContent
from mcp_trio.server.context import Context
from mcp_trio.server.server import Server


class LibraryAbort(BaseException):
    """What some libraries raise: a BaseException that is neither an Exception nor cancellation."""


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("this exception cannot be printed")


def build_server() -> Server:
    server = Server("behaviour", "1.0")

    @server.tool(blocking=False)
    def echo(text: str) -> str:
        """Return the text."""
        return text

    @server.tool(blocking=False)
    def abort() -> str:
        """Raise a BaseException subclass."""
        raise LibraryAbort("the library gave up")

    @server.tool(blocking=False)
    def group() -> str:
        """Raise an exception group."""
        raise ExceptionGroup("several things failed", [ValueError("one"), KeyError("two")])

    @server.tool()
    def unprintable() -> str:
        """Raise an exception whose str() fails (in a worker thread: the default for sync tools)."""
        raise Unprintable

    @server.tool(blocking=False)
    def surrogate() -> CallToolResult:
        """Return text no encoder can serialise (a lone surrogate)."""
        return CallToolResult(content=[TextContent(text="\ud800")])

    @server.tool()
    async def progress(ctx: Context) -> str:
        """Report progress twice."""
        await ctx.report_progress(1, 2)
        await ctx.report_progress(2, 2)
        return "progressed"

    @server.tool()
    async def abort_async() -> str:
        """Raise a BaseException subclass from a coroutine (a request task)."""
        await trio.lowlevel.checkpoint()
        raise LibraryAbort("async")

    @server.resource("behaviour://abort", blocking=False)
    def abort_resource() -> str:
        """Raise a BaseException subclass from a resource (a protocol error, not a tool error)."""
        raise LibraryAbort("no resource for you")

    @server.resource("behaviour://ask")
    async def ask(ctx: Context) -> str:
        """Ask the user; on the legacy wire the client answers with an error."""
        answer = await ctx.elicit("Proceed?", {"type": "object", "properties": {"ok": {"type": "boolean"}}})
        return answer.action

    return server


@pytest.fixture(params=WIRES)
async def wire(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    async with open_wire(request.param, build_server(), tmp_path) as opened:
        with trio.fail_after(20):
            yield opened


def _text(result: dict[str, Any]) -> str:
    (block,) = result["content"]
    text: str = block["text"]
    return text


async def _still_serving(wire: Wire) -> None:
    answer = await wire.request("tools/call", {"name": "echo", "arguments": {"text": "still here"}})
    assert _text(answer.result) == "still here"


async def test_a_tool_call_is_answered_the_same_everywhere(wire: Wire) -> None:
    answer = await wire.request("tools/call", {"name": "echo", "arguments": {"text": "hi"}})
    assert answer.result["content"] == [{"type": "text", "text": "hi"}]
    assert answer.status in (None, 200)


@pytest.mark.parametrize(
    ("tool", "shown"),
    [
        ("abort", "LibraryAbort: the library gave up"),
        ("abort_async", "LibraryAbort: async"),
        ("group", "ExceptionGroup: several things failed (2 sub-exceptions)"),
        ("unprintable", "Unprintable: <the exception's str() failed>"),
    ],
)
async def test_whatever_a_tool_raises_is_a_tool_error_and_the_session_goes_on(
    wire: Wire, tool: str, shown: str
) -> None:
    answer = await wire.request("tools/call", {"name": tool, "arguments": {}})
    assert answer.result["isError"] is True
    assert _text(answer.result) == f"tool {tool} failed: {shown}"
    await _still_serving(wire)


async def test_a_result_that_cannot_be_serialised_is_32603(wire: Wire) -> None:
    answer = await wire.request("tools/call", {"name": "surrogate", "arguments": {}})
    assert answer.error["code"] == -32603
    assert answer.error["message"] == "the result could not be serialised"
    await _still_serving(wire)


async def test_a_resource_raising_a_base_exception_is_32603(wire: Wire) -> None:
    answer = await wire.request("resources/read", {"uri": "behaviour://abort"})
    assert answer.error == {"code": -32603, "message": "internal error"}
    await _still_serving(wire)


async def test_progress_reaches_the_client(wire: Wire) -> None:
    params: dict[str, Any] = {"name": "progress", "arguments": {}, "_meta": {"progressToken": "p1"}}
    if wire.era == "modern":  # the wire adds its own _meta; the progress token goes beside it
        answer = await _modern_with_progress(wire, params)
    else:
        answer = await wire.request("tools/call", params)
    assert _text(answer.result) == "progressed"
    progress = [n["params"]["progress"] for n in wire.notifications if n["method"] == "notifications/progress"]
    assert progress == [1, 2]


async def _modern_with_progress(wire: Wire, params: dict[str, Any]) -> Any:
    original = wire._params

    def with_token(method: str, sent: dict[str, Any] | None) -> dict[str, Any] | None:
        merged = original(method, sent)
        assert merged is not None
        merged["_meta"] = {**merged["_meta"], "progressToken": "p1"}
        return merged

    wire._params = with_token  # type: ignore[method-assign]
    try:
        return await wire.request("tools/call", {k: v for k, v in params.items() if k != "_meta"})
    finally:
        wire._params = original  # type: ignore[method-assign]


HOSTILE = [
    pytest.param(b"[" * 4000, id="nested-arrays"),
    pytest.param(b'{"a":' * 3000, id="nested-objects"),
    pytest.param(
        b'{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"text":'
        + b"[" * 3000
        + b"]" * 3000
        + b"}}}",
        id="nested-arguments",
    ),
    pytest.param(b'{"jsonrpc":"2.0","id":' + b"9" * 5000 + b',"method":"ping"}', id="huge-id"),
    pytest.param(
        b'{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"echo","arguments":{"text":"\\ud800"}}}',
        id="lone-surrogate",
    ),
    pytest.param(
        b'{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"echo","arguments":{"text":"\xff\xfe"}}}',
        id="invalid-utf8",
    ),
]


@pytest.mark.parametrize("data", HOSTILE)
async def test_hostile_json_gets_a_json_rpc_error_and_the_session_keeps_serving(wire: Wire, data: bytes) -> None:
    if wire.name.startswith("ws-") and b"\xff" in data:
        pytest.skip("a WebSocket text frame cannot carry invalid UTF-8: it is Close 1007 (tests/transports)")
    answer = await wire.send_raw(data)
    assert answer.message is not None
    code = answer.error["code"]
    assert code in (-32700, -32600, -32602)
    if answer.status is not None:
        # Bytes that are not a message are 400; a params error of a live legacy session is an ordinary 200
        # (a legacy client reads a 4xx as the session's end), and 400 on the stateless wire.
        assert answer.status == (200 if code == -32602 and wire.era == "legacy" else 400)
    await _still_serving(wire)


async def test_an_elicitation_answered_with_an_error_fails_the_request_with_32603(wire: Wire) -> None:
    if wire.era == "modern":
        pytest.skip("the 2026-07-28 wire asks through InputRequiredResult, never a server-to-client request")

    async def refuse(message: dict[str, Any]) -> dict[str, Any]:
        assert message["method"] == "elicitation/create"
        raise McpError("this client cannot elicit", code=-32601)

    wire.on_request = refuse
    answer = await wire.request("resources/read", {"uri": "behaviour://ask"})
    assert answer.error["code"] == -32603
    assert "this client cannot elicit" in answer.error["message"]
    await _still_serving(wire)
