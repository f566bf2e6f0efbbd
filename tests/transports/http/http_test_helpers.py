"""A raw HTTP/1.1 client (h11 over a Trio socket) and MCP helpers for the HTTP transport tests.

It can say anything, including what well-behaved clients never would: bytes as they are, partial heads,
oversized bodies, pipelined requests, and a vanishing client.
"""

from __future__ import annotations

import functools
from typing import Any, ClassVar

import h11
import msgspec
import trio

from mcp_trio.protocol.types import CreateMessageParams, SamplingMessage, TextContent
from mcp_trio.runtime.application import Runtime
from mcp_trio.runtime.listeners import HttpListener
from mcp_trio.server.context import Context
from mcp_trio.server.server import Server
from mcp_trio.testing import modern_meta
from mcp_trio.transports.http import HttpConfig

JSON_AND_SSE = "application/json, text/event-stream"
MODERN = "2026-07-28"
LEGACY = "2025-11-25"


class Reply:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        return msgspec.json.decode(self.body)

    def events(self) -> list[dict[str, str]]:
        return parse_sse(self.body)

    def messages(self) -> list[Any]:
        return [msgspec.json.decode(e["data"]) for e in self.events() if e.get("data")]

    def __repr__(self) -> str:
        return f"Reply({self.status}, {self.headers}, {self.body[:300]!r})"


def parse_sse(data: bytes) -> list[dict[str, str]]:
    """Complete SSE events in ``data`` (comments become ``{"comment": ...}``)."""
    events = []
    for block in data.decode().split("\n\n"):
        if not block:
            continue
        event: dict[str, str] = {}
        for line in block.split("\n"):
            if line.startswith(":"):
                event["comment"] = line[1:].strip()
                continue
            name, _, value = line.partition(":")
            event[name] = value[1:] if value.startswith(" ") else value
        events.append(event)
    return events


class RawHttp:
    """One client connection (closed by the ``close_raw_clients`` fixture at the end of each test)."""

    opened: ClassVar[list[RawHttp]] = []

    def __init__(self, stream: trio.SocketStream, host: str) -> None:
        RawHttp.opened.append(self)
        self.stream = stream
        self.host = host
        self.h11 = h11.Connection(h11.CLIENT)

    @classmethod
    async def connect(cls, port: int) -> RawHttp:
        return cls(await trio.open_tcp_stream("127.0.0.1", port), f"127.0.0.1:{port}")

    async def send_raw(self, data: bytes) -> None:
        await self.stream.send_all(data)

    def expect_raw(self) -> None:
        """After ``send_raw``: make the client's h11 expect one more response (keeping what it buffered)."""
        buffered = self.h11.trailing_data[0]
        self.h11 = h11.Connection(h11.CLIENT)
        self.h11.send(h11.Request(method="POST", target="/", headers=[("host", "x"), ("content-length", "0")]))
        self.h11.send(h11.EndOfMessage())
        if buffered:
            self.h11.receive_data(buffered)

    async def send(self, method: str, path: str, headers: dict[str, str], body: bytes | None = None) -> None:
        all_headers = {"host": self.host, **headers}
        if body is not None and "transfer-encoding" not in all_headers:
            all_headers.setdefault("content-length", str(len(body)))
        data = self.h11.send(h11.Request(method=method, target=path, headers=list(all_headers.items())))
        if body is not None:
            data += self.h11.send(h11.Data(data=body)) + self.h11.send(h11.EndOfMessage())
        elif method in ("GET", "DELETE"):
            data += self.h11.send(h11.EndOfMessage())
        await self.stream.send_all(data)

    async def _event(self) -> Any:
        while True:
            event = self.h11.next_event()
            if event is h11.NEED_DATA:
                self.h11.receive_data(bytes(await self.stream.receive_some(65536)))
                continue
            return event

    async def head(self) -> tuple[int, dict[str, str]]:
        """The next final response head (informational responses are skipped)."""
        while True:
            event = await self._event()
            if isinstance(event, h11.Response):
                return event.status_code, {k.decode(): v.decode() for k, v in event.headers}
            if isinstance(event, h11.ConnectionClosed):
                raise EOFError("connection closed before a response")

    async def chunk(self) -> bytes | None:
        """The next piece of the body, or ``None`` at its end."""
        event = await self._event()
        if isinstance(event, h11.Data):
            return bytes(event.data)
        if isinstance(event, h11.EndOfMessage):
            return None
        raise EOFError(f"unexpected {event!r}")

    async def reply(self) -> Reply:
        status, headers = await self.head()
        body = b""
        while (piece := await self.chunk()) is not None:
            body += piece
        if self.h11.our_state is h11.DONE and self.h11.their_state is h11.DONE:
            self.h11.start_next_cycle()
        return Reply(status, headers, body)

    async def request(self, method: str, path: str, headers: dict[str, str], body: bytes | None = None) -> Reply:
        await self.send(method, path, headers, body)
        return await self.reply()

    async def events_until(self, predicate: Any) -> list[dict[str, str]]:
        """Read SSE events of the current response until one satisfies ``predicate``."""
        buffer = b""
        seen: list[dict[str, str]] = []
        while True:
            piece = await self.chunk()
            if piece is None:
                raise EOFError(f"stream ended; saw {seen}")
            buffer += piece
            while b"\n\n" in buffer:
                block, buffer = buffer.split(b"\n\n", 1)
                event = parse_sse(block + b"\n\n")[0]
                seen.append(event)
                if predicate(event):
                    return seen

    async def closed(self) -> bool:
        """Whether the server closed the connection (reads until EOF)."""
        while True:
            try:
                data = await self.stream.receive_some(65536)
            except trio.BrokenResourceError:
                return True
            if not data:
                return True

    async def aclose(self) -> None:
        await self.stream.aclose()


#: The runtime serving each port started by ``start`` (tests look at what it holds).
RUNTIMES: dict[int, Runtime] = {}


async def _run_runtime(server: Server, *, task_status: trio.TaskStatus[Runtime]) -> None:
    async with server.open_runtime() as runtime:
        task_status.started(runtime)
        await trio.sleep_forever()


async def start(nursery: trio.Nursery, server: Server, config: HttpConfig | None = None, path: str = "/mcp") -> int:
    """Serve ``server`` under its supervision tree on a free loopback port; returns the port."""
    runtime: Runtime = await nursery.start(functools.partial(_run_runtime, server))
    _, port = await runtime.add_listener(HttpListener("127.0.0.1", 0, path, config))
    RUNTIMES[int(port)] = runtime
    return int(port)


def live_work(port: int) -> int:
    """Connections and running requests the runtime serving ``port`` still holds."""
    runtime = RUNTIMES[port]
    return sum(len(shard.connection_table) + len(shard.requests) for shard in runtime.shards)


def encode(message: Any) -> bytes:
    return msgspec.json.encode(message)


def post_headers(**extra: str) -> dict[str, str]:
    return {"content-type": "application/json", "accept": JSON_AND_SSE, **extra}


def modern_headers(method: str, name: str | None = None, **extra: str) -> dict[str, str]:
    headers = post_headers(**{"mcp-protocol-version": MODERN, "mcp-method": method})
    if name is not None:
        headers["mcp-name"] = name
    headers.update(extra)
    return headers


def modern_request(method: str, params: dict[str, Any] | None = None, request_id: int | str = 1, **meta: Any) -> bytes:
    body = dict(params or {})
    body["_meta"] = modern_meta(**meta)
    return encode({"jsonrpc": "2.0", "id": request_id, "method": method, "params": body})


def initialize_body(version: str = LEGACY, capabilities: dict[str, Any] | None = None) -> bytes:
    params = {
        "protocolVersion": version,
        "capabilities": capabilities or {},
        "clientInfo": {"name": "t", "version": "1"},
    }
    return encode({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": params})


async def open_session(
    client: RawHttp, capabilities: dict[str, Any] | None = None, version: str = LEGACY
) -> dict[str, str]:
    """Initialize a legacy session; returns the headers later requests need."""
    reply = await client.request("POST", "/mcp", post_headers(), initialize_body(version, capabilities))
    assert reply.status == 200, reply
    headers = post_headers(**{"mcp-session-id": reply.headers["mcp-session-id"], "mcp-protocol-version": version})
    note = encode({"jsonrpc": "2.0", "method": "notifications/initialized"})
    assert (await client.request("POST", "/mcp", headers, note)).status == 202
    return headers


def call(name: str, arguments: dict[str, Any] | None = None, request_id: int = 1, **params: Any) -> bytes:
    body = {"name": name, "arguments": arguments or {}, **params}
    return encode({"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": body})


class Probe:
    """Hooks the test server's tools use to let tests see and steer them."""

    def __init__(self) -> None:
        self.release = trio.Event()
        self.cancelled = trio.Event()
        self.started = trio.Event()
        self.finished = trio.Event()


def build_server(probe: Probe | None = None) -> Server:
    """A small server with one tool per behaviour the transport must carry."""
    probe = probe if probe is not None else Probe()
    server = Server("http-test", "1.0")

    @server.tool()
    def echo(text: str) -> str:
        """Echo the text."""
        return text

    def regional(region: str = "<none>", count: int = 0) -> str:
        return f"region={region} count={count}"

    server.add_tool(
        regional,
        description="Arguments mirrored in Mcp-Param headers.",
        input_schema={
            "type": "object",
            "properties": {
                "region": {"type": "string", "x-mcp-header": "Region"},
                "count": {"type": "integer", "x-mcp-header": "Count"},
            },
        },
    )

    @server.tool()
    async def progress(ctx: Context) -> str:
        """Reports progress twice."""
        await ctx.report_progress(1, 2)
        await ctx.report_progress(2, 2)
        return "progressed"

    @server.tool()
    async def hang(ctx: Context) -> str:
        """Reports progress, then waits for the test; records cancellation."""
        probe.started.set()
        try:
            await ctx.report_progress(1)
            await probe.release.wait()
        except trio.Cancelled:
            probe.cancelled.set()
            raise
        probe.finished.set()
        return "released"

    @server.tool()
    async def sample(ctx: Context) -> str:
        """Asks the client's model."""
        message = SamplingMessage(role="user", content=TextContent(text="hi?"))
        answer = await ctx.sample(CreateMessageParams(messages=[message], max_tokens=10))
        content = answer.content
        return f"model said {getattr(content, 'text', content)}"

    @server.tool()
    async def reconnect(ctx: Context) -> str:
        """Closes its stream mid-call; the result must still reach the client."""
        await ctx.info("before")
        closed = await ctx.close_stream(10)
        await probe.release.wait()
        await ctx.info("after")
        return f"reconnected closed={closed}"

    @server.resource("test://static-text", mime_type="text/plain")
    def static() -> str:
        """A static text."""
        return "static text"

    return server
