"""The built-in demo server: what ``mcp-trio serve`` runs without a target, and a tour of the API."""

from __future__ import annotations

import trio

from mcp_trio.protocol.types import ToolAnnotations
from mcp_trio.server.config import ServerConfig
from mcp_trio.server.context import Context
from mcp_trio.server.server import Server

__all__ = ["build_demo_server"]

COUNTER_URI = "demo://counter"


def build_demo_server(config: ServerConfig | None = None) -> Server:
    """A server with a few useful tools, a resource that changes, a template and a prompt (under ``config``'s
    limits, when given)."""
    server = Server(
        "mcp-trio-demo",
        "0.1.0",
        instructions="A demo server: echo and add, a counter resource you can increment, and a summary prompt.",
        config=config,
    )
    counter = [0]

    # Pure, quick functions: they run on the event loop (blocking=False), with no worker-thread hop.
    @server.tool(annotations=ToolAnnotations(read_only_hint=True, idempotent_hint=True), blocking=False)
    def echo(text: str) -> str:
        """Return ``text`` unchanged."""
        return text

    @server.tool(annotations=ToolAnnotations(read_only_hint=True, idempotent_hint=True), blocking=False)
    def add(a: float, b: float) -> float:
        """Add two numbers."""
        return a + b

    @server.tool(annotations=ToolAnnotations(read_only_hint=True))
    async def sleep(seconds: float, ctx: Context) -> str:
        """Sleep for ``seconds`` (at most 60), reporting progress every tenth of the way."""
        seconds = max(0.0, min(seconds, 60.0))
        for step in range(1, 11):
            await trio.sleep(seconds / 10)
            await ctx.report_progress(step, 10, f"slept {seconds * step / 10:.1f}s of {seconds:.1f}s")
        return f"slept {seconds:.1f}s"

    @server.tool(blocking=False)
    def increment(by: int = 1) -> int:
        """Add ``by`` to the counter resource; subscribers are told it changed."""
        counter[0] += by
        server.notify_resource_updated(COUNTER_URI)
        return counter[0]

    @server.resource(COUNTER_URI, name="counter", mime_type="text/plain", blocking=False)
    def read_counter() -> str:
        """The counter's current value."""
        return str(counter[0])

    @server.resource_template("demo://greeting/{name}", name="greeting", mime_type="text/plain", blocking=False)
    def greeting(name: str) -> str:
        """A greeting for ``name``."""
        return f"Hello, {name}!"

    @server.prompt(blocking=False)
    def summarize(text: str, style: str = "concise") -> str:
        """Ask the model to summarise ``text`` in a given style."""
        return f"Summarise the following text in a {style} style:\n\n{text}"

    @server.completion(argument="style", prompt="summarize", blocking=False)
    def complete_style(value: str, context: dict[str, str]) -> list[str]:
        return [s for s in ("concise", "detailed", "bullet points", "eli5") if s.startswith(value)]

    return server
