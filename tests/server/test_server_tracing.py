"""OpenTelemetry tracing (``ServerConfig.tracing``, ``mcp_trio/server/tracing.py``) over real connections, with
the SDK's in-memory exporter: a span per request, its attributes and status, its parent from ``_meta``, the
handler's own spans as its children, nothing when tracing is off, and a clear refusal without the API."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing
from opentelemetry import propagate, trace
from opentelemetry.propagators.textmap import TextMapPropagator
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from server_test_helpers import call, error_of, legacy_client, modern, result_of

from mcp_trio.client import ClientConfig
from mcp_trio.client import open_client as open_mcp_client
from mcp_trio.config import ConfigError, load_config
from mcp_trio.runtime.config import RuntimeConfig
from mcp_trio.runtime.listeners import HttpListener, StdioListener, TcpListener, UnixListener, WebSocketListener
from mcp_trio.server.config import ServerConfig
from mcp_trio.server.server import Server
from mcp_trio.server.tools import ToolError
from mcp_trio.testing import RawClient, open_client

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"
TRACESTATE = "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"

_exporter = InMemorySpanExporter()


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """The finished spans of this test (the global provider can be set only once per process: shared)."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    if not getattr(provider, "_mcp_trio_test_exporter", False):
        provider.add_span_processor(SimpleSpanProcessor(_exporter))
        provider._mcp_trio_test_exporter = True  # type: ignore[attr-defined]
    _exporter.clear()
    yield _exporter
    _exporter.clear()


def build_server(*, tracing: bool = True, max_in_flight: int = 10_000) -> tuple[Server, dict[str, trio.Event]]:
    config = ServerConfig(tracing=tracing, runtime=RuntimeConfig(max_in_flight=max_in_flight))
    server = Server("traced", config=config)
    events = {"release": trio.Event(), "started": trio.Event()}
    tracer = trace.get_tracer("the-application")

    @server.tool(blocking=False)
    def add(a: int, b: int) -> int:
        with tracer.start_as_current_span("inline work"):
            return a + b

    @server.tool()
    async def fetch(key: str) -> str:
        with tracer.start_as_current_span("async work"):
            await trio.lowlevel.checkpoint()
        return key

    @server.tool()
    def blocking_lookup(key: str) -> str:  # runs in a worker thread
        with tracer.start_as_current_span("thread work"):
            return key

    @server.tool()
    async def wait() -> str:
        events["started"].set()
        await events["release"].wait()
        return "released"

    @server.tool(blocking=False)
    def refuse() -> str:
        raise ToolError("no such thing")

    @server.resource("notes://broken")
    async def broken() -> str:
        raise RuntimeError("a bug")

    @server.prompt()
    def greeting(name: str) -> str:
        return f"hello {name}"

    @server.resource("notes://today")
    def today() -> str:
        return "nothing"

    return server, events


def only(exporter: InMemorySpanExporter, name: str) -> ReadableSpan:
    (span,) = [span for span in exporter.get_finished_spans() if span.name == name]
    return span


def request_spans(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    return [span for span in exporter.get_finished_spans() if span.kind is SpanKind.SERVER]


def attributes(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def is_child(child: ReadableSpan, parent: ReadableSpan) -> bool:
    assert child.parent is not None
    assert parent.context is not None
    assert child.context is not None
    return bool(child.parent.span_id == parent.context.span_id and child.context.trace_id == parent.context.trace_id)


async def test_an_inline_tool_call_is_a_server_span_and_the_tools_own_span_its_child(
    spans: InMemorySpanExporter,
) -> None:
    server, _ = build_server()
    async with legacy_client(server) as client:
        assert result_of(await client.request("tools/call", call("add", {"a": 1, "b": 2})))["structuredContent"] == {
            "result": 3
        }
    request = only(spans, "tools/call add")
    assert request.kind is SpanKind.SERVER
    assert request.status.status_code is StatusCode.UNSET
    assert attributes(request) == {
        "mcp.method.name": "tools/call",
        "jsonrpc.request.id": "2",
        "mcp.protocol.version": "2025-11-25",
        "gen_ai.tool.name": "add",
        "gen_ai.operation.name": "execute_tool",
    }
    assert request.parent is None  # no traceparent: a root
    assert is_child(only(spans, "inline work"), request)


async def test_handlers_in_tasks_and_threads_run_inside_their_request_span(spans: InMemorySpanExporter) -> None:
    server, _ = build_server()
    async with legacy_client(server) as client:
        assert result_of(await client.request("tools/call", call("fetch", {"key": "k"})))["content"]
        assert result_of(await client.request("tools/call", call("blocking_lookup", {"key": "k"})))["content"]
    fetch = only(spans, "tools/call fetch")
    assert fetch.status.status_code is StatusCode.UNSET
    assert is_child(only(spans, "async work"), fetch)
    assert is_child(only(spans, "thread work"), only(spans, "tools/call blocking_lookup"))
    assert fetch.end_time is not None
    assert only(spans, "async work").end_time <= fetch.end_time  # type: ignore[operator]


async def test_the_parent_is_the_trace_context_in_meta(spans: InMemorySpanExporter) -> None:
    server, _ = build_server()
    meta = {"traceparent": TRACEPARENT, "tracestate": TRACESTATE}
    async with legacy_client(server) as client:
        assert result_of(await client.request("tools/call", call("fetch", {"key": "k"}, _meta=meta)))
    async with open_client(server) as client:
        # The 2026-07-28 wire: the same keys sit beside the protocol's own in every request's _meta.
        assert result_of(
            await client.request(
                "tools/call", modern(call("add", {"a": 1, "b": 1}), traceparent=TRACEPARENT, tracestate=TRACESTATE)
            )
        )
    for name, child in (("tools/call fetch", "async work"), ("tools/call add", "inline work")):
        request = only(spans, name)
        assert request.parent is not None
        assert request.parent.is_remote
        assert format(request.parent.span_id, "016x") == PARENT_ID
        assert format(request.context.trace_id, "032x") == TRACE_ID
        assert request.parent.trace_state.to_header() == TRACESTATE
        assert is_child(only(spans, child), request)
    assert attributes(only(spans, "tools/call add"))["mcp.protocol.version"] == "2026-07-28"


async def test_the_configured_propagators_decide_what_meta_carries(spans: InMemorySpanExporter) -> None:
    server, _ = build_server()
    default = propagate.get_global_textmap()
    meta = {"uber-trace-id": f"{TRACE_ID}:{PARENT_ID}"}
    try:
        async with legacy_client(server) as client:
            assert result_of(await client.request("tools/call", call("add", {"a": 1, "b": 1}, _meta=meta)))
            propagate.set_global_textmap(_JaegerLike())  # as OTEL_PROPAGATORS=jaeger would
            assert result_of(await client.request("tools/call", call("fetch", {"key": "k"}, _meta=meta)))
    finally:
        propagate.set_global_textmap(default)
    assert only(spans, "tools/call add").parent is None  # W3C trace context only: not a key it reads
    parent = only(spans, "tools/call fetch").parent
    assert parent is not None
    assert format(parent.span_id, "016x") == PARENT_ID
    carrier: dict[str, str] = {}
    _JaegerLike().inject(carrier, _JaegerLike().extract(meta))  # the stand-in propagator is a whole one
    assert carrier == meta


class _JaegerLike(TextMapPropagator):
    """Reads ``uber-trace-id: TRACE:SPAN`` (a header of its own, as Jaeger's or B3's propagators do)."""

    def extract(self, carrier: Any, context: Any = None, getter: Any = None) -> Any:
        trace_id, span_id = carrier["uber-trace-id"].split(":")
        parent = trace.SpanContext(int(trace_id, 16), int(span_id, 16), is_remote=True, trace_flags=trace.TraceFlags(1))
        return trace.set_span_in_context(trace.NonRecordingSpan(parent), context)

    def inject(self, carrier: Any, context: Any = None, setter: Any = None) -> None:
        span = trace.get_current_span(context).get_span_context()
        carrier["uber-trace-id"] = f"{span.trace_id:032x}:{span.span_id:016x}"

    @property
    def fields(self) -> set[str]:
        return {"uber-trace-id"}


async def test_a_malformed_traceparent_makes_a_root_span_and_the_request_is_answered(
    spans: InMemorySpanExporter,
) -> None:
    server, _ = build_server()
    async with legacy_client(server) as client:
        for bad in ("00-not-a-trace-01", 42, {"nested": True}):
            params = call("add", {"a": 1, "b": 1}, _meta={"traceparent": bad})
            assert result_of(await client.request("tools/call", params))
    adds = [span for span in request_spans(spans) if span.name == "tools/call add"]
    assert len(adds) == 3
    assert all(span.parent is None for span in adds)


async def test_an_error_answer_sets_the_error_code_and_status(spans: InMemorySpanExporter) -> None:
    server, _ = build_server()
    async with legacy_client(server) as client:
        assert error_of(await client.request("tools/call", call("missing")))["code"] == -32602
        assert error_of(await client.request("resources/read", {"uri": "notes://broken"}))["code"] == -32603
    (unknown,) = [span for span in request_spans(spans) if attributes(span).get("gen_ai.tool.name") == "missing"]
    assert unknown.name == "tools/call"  # a name the client made up stays out of the span name
    assert attributes(unknown)["error.type"] == "-32602"
    assert attributes(unknown)["rpc.response.status_code"] == "-32602"
    assert unknown.status.status_code is StatusCode.ERROR
    assert unknown.status.description == "unknown tool: missing"
    assert not unknown.events
    crash = only(spans, "resources/read")
    assert attributes(crash)["error.type"] == "-32603"
    assert crash.status.status_code is StatusCode.ERROR
    (event,) = crash.events  # an unexpected exception keeps its traceback on the span
    assert event.name == "exception"
    assert (event.attributes or {})["exception.type"] == "RuntimeError"


async def test_an_is_error_tool_result_is_a_tool_error(spans: InMemorySpanExporter) -> None:
    server, _ = build_server()
    async with legacy_client(server) as client:
        assert result_of(await client.request("tools/call", call("refuse")))["isError"] is True
    span = only(spans, "tools/call refuse")
    assert attributes(span)["error.type"] == "tool_error"
    assert "rpc.response.status_code" not in attributes(span)
    assert span.status.status_code is StatusCode.ERROR


async def test_prompts_and_resources_are_named_after_the_conventions(spans: InMemorySpanExporter) -> None:
    server, _ = build_server()
    async with legacy_client(server) as client:
        assert result_of(await client.request("prompts/get", {"name": "greeting", "arguments": {"name": "x"}}))
        assert result_of(await client.request("resources/read", {"uri": "notes://today"}))
        assert result_of(await client.request("tools/list"))
    assert attributes(only(spans, "prompts/get greeting"))["gen_ai.prompt.name"] == "greeting"
    read = only(spans, "resources/read")  # a URI is never part of the name: too many distinct values
    assert attributes(read)["mcp.resource.uri"] == "notes://today"
    assert "gen_ai.operation.name" not in attributes(only(spans, "tools/list"))


async def test_a_cancelled_request_ends_its_span_without_an_error(spans: InMemorySpanExporter) -> None:
    server, events = build_server()
    async with legacy_client(server) as client:
        await client.send({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": call("wait")})
        await events["started"].wait()
        await client.notify("notifications/cancelled", {"requestId": 7})
        await trio.testing.wait_all_tasks_blocked()
        assert result_of(await client.request("ping")) == {}
    span = only(spans, "tools/call wait")
    assert [event.name for event in span.events] == ["cancelled"]
    assert span.status.status_code is StatusCode.UNSET
    assert "error.type" not in attributes(span)


async def test_a_request_refused_before_it_ran_ends_its_span_as_refused(spans: InMemorySpanExporter) -> None:
    server, events = build_server(max_in_flight=1)
    async with legacy_client(server) as client:
        await client.send({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": call("wait")})
        await events["started"].wait()
        refused = error_of(await client.request("tools/call", call("fetch", {"key": "k"})))
        assert refused["data"]["reason"] == "in_flight"
        events["release"].set()
        assert result_of(await client.response_to(7))
    span = only(spans, "tools/call fetch")
    assert attributes(span)["error.type"] == "-32000"
    assert span.status.status_code is StatusCode.ERROR
    assert not [span for span in spans.get_finished_spans() if span.name == "async work"]  # it never ran
    assert only(spans, "tools/call wait").status.status_code is StatusCode.UNSET


async def test_nothing_is_traced_when_tracing_is_off(spans: InMemorySpanExporter) -> None:
    server, _ = build_server(tracing=False)
    async with legacy_client(server) as client:
        params = call("add", {"a": 1, "b": 2}, _meta={"traceparent": TRACEPARENT})
        assert result_of(await client.request("tools/call", params))
        assert result_of(await client.request("tools/call", call("fetch", {"key": "k"})))
    assert not request_spans(spans)
    assert {span.name for span in spans.get_finished_spans()} == {"inline work", "async work"}


@pytest.mark.parametrize(
    ("transport", "expected"),
    [
        ("tcp", {"network.transport": "tcp"}),
        ("unix", {"network.transport": "unix"}),
        ("ws", {"network.transport": "tcp", "network.protocol.name": "websocket"}),
        ("http", {"network.transport": "tcp", "network.protocol.name": "http"}),
    ],
)
async def test_spans_name_the_transport(
    spans: InMemorySpanExporter, transport: str, expected: dict[str, str], tmp_path: Path
) -> None:
    server, _ = build_server()
    async with server.open_runtime() as runtime:
        if transport == "unix":
            path = str(tmp_path / "mcp.sock")
            await runtime.add_listener(UnixListener(path))
            target = f"unix:{path}"
        else:
            listener = {"tcp": TcpListener, "ws": WebSocketListener, "http": HttpListener}[transport]
            _, port = await runtime.add_listener(listener("127.0.0.1", 0))  # type: ignore[operator]
            target = f"tcp://127.0.0.1:{port}" if transport == "tcp" else f"{transport}://127.0.0.1:{port}/mcp"
        async with open_mcp_client(target, config=ClientConfig(era="legacy")) as client:
            await client.call_tool("add", {"a": 1, "b": 2})
    found = attributes(only(spans, "tools/call add"))
    assert {key: found[key] for key in found if key.startswith("network.")} == expected
    # Only a legacy HTTP session is an MCP session with an id; a connection's number is not one.
    assert ("mcp.session.id" in found) is (transport == "http")


async def test_stdio_is_a_pipe(spans: InMemorySpanExporter) -> None:
    server, _ = build_server()
    server_in, client_out = os.pipe()
    client_in, server_out = os.pipe()
    async with server.open_runtime() as runtime:
        await runtime.add_listener(StdioListener(stdin=server_in, stdout=server_out))
        os.close(server_in)  # the listener serves duplicates
        os.close(server_out)
        stream = trio.StapledStream(trio.lowlevel.FdStream(client_out), trio.lowlevel.FdStream(client_in))
        client = RawClient(stream)
        await client.initialize()
        assert result_of(await client.request("tools/call", call("add", {"a": 1, "b": 2})))
        await stream.aclose()
    assert attributes(only(spans, "tools/call add"))["network.transport"] == "pipe"


async def test_legacy_http_sessions_carry_their_session_id(spans: InMemorySpanExporter) -> None:
    server, _ = build_server()
    async with server.open_runtime() as runtime:
        _, port = await runtime.add_listener(HttpListener("127.0.0.1", 0))
        config = ClientConfig(era="legacy")
        async with open_mcp_client(f"http://127.0.0.1:{port}/mcp", config=config) as client:
            await client.call_tool("fetch", {"key": "k"})
            await client.call_tool("add", {"a": 1, "b": 2})
    fetch, add = attributes(only(spans, "tools/call fetch")), attributes(only(spans, "tools/call add"))
    assert isinstance(fetch["mcp.session.id"], str)
    assert len(fetch["mcp.session.id"]) > 8
    assert fetch["mcp.session.id"] == add["mcp.session.id"]  # one session


def test_tracing_without_the_opentelemetry_api_is_refused_at_startup(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry.trace", None)  # what an absent package looks like to import
    with pytest.raises(ValueError, match=r"tracing needs the OpenTelemetry API.*mcp-trio\[otel\]"):
        ServerConfig(tracing=True)
    ServerConfig()  # off: nothing is imported, nothing refused
    with pytest.raises(ConfigError, match=r"\[server\] tracing needs the OpenTelemetry API"):
        load_config(environ={"MCP_TRIO_SERVER_TRACING": "true"})

    from mcp_trio.cli import main

    monkeypatch.setenv("MCP_TRIO_SERVER_TRACING", "true")
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--tcp", "127.0.0.1:0"])
    assert exited.value.code == 2
    assert "mcp-trio: error: [server] tracing needs the OpenTelemetry API" in capsys.readouterr().err


def test_tracing_is_a_server_config_key() -> None:
    assert "tracing = false  # default" in load_config(environ={}).show()
    assert load_config(environ={"MCP_TRIO_SERVER_TRACING": "true"}).server.tracing is True


async def test_in_memory_connections_have_no_network_attributes(spans: InMemorySpanExporter) -> None:
    server, _ = build_server()
    async with open_client(server) as client:
        await client.initialize()
        assert result_of(await client.request("tools/call", call("add", {"a": 1, "b": 2})))
    assert not {"network.transport", "network.protocol.name"} & set(attributes(only(spans, "tools/call add")))


async def test_requests_the_session_answers_itself_get_spans_too(spans: InMemorySpanExporter) -> None:
    server, _ = build_server()
    async with legacy_client(server) as client:
        assert result_of(await client.request("ping")) == {}
        await client.send({"jsonrpc": "2.0", "id": 9, "method": "initialize", "params": {}})  # again: an error
        assert error_of(await client.response_to(9))["code"] == -32600
    initialize = [span for span in request_spans(spans) if span.name == "initialize"]
    assert len(initialize) == 2
    assert initialize[0].status.status_code is StatusCode.UNSET
    assert attributes(initialize[1])["error.type"] == "-32600"
    ping = only(spans, "ping")
    assert attributes(ping)["mcp.method.name"] == "ping"
    assert attributes(ping)["mcp.protocol.version"] == "2025-11-25"
