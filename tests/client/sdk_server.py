"""The official Python SDK's server, as a user of it would write one: the peer our client must talk to.

``python tests/client/sdk_server.py stdio`` serves one session on stdin/stdout; ``... http PORT`` serves
Streamable HTTP (stateful sessions, SSE answers) under uvicorn on 127.0.0.1.
"""

from __future__ import annotations

import sys

import anyio
import anyio.lowlevel
from mcp.server.mcpserver import Context, MCPServer
from pydantic import BaseModel


class Name(BaseModel):
    name: str


def build() -> MCPServer:
    app = MCPServer("sdk-peer", version="2.3.0")

    @app.tool()
    def echo(text: str) -> str:
        """Return ``text`` unchanged."""
        return text

    @app.tool()
    async def count(steps: int, ctx: Context) -> str:
        """Report progress ``steps`` times."""
        for step in range(1, steps + 1):
            await ctx.report_progress(step, steps, f"step {step}")
            await anyio.lowlevel.checkpoint()
        return f"counted {steps}"

    @app.tool()
    async def greet(ctx: Context) -> str:
        """Ask the user's name (elicitation)."""
        answer = await ctx.elicit("Your name?", Name)
        return f"hello {answer.data.name}" if answer.action == "accept" and answer.data else answer.action

    @app.resource("sdk://motto")
    def motto() -> str:
        return "interop"

    @app.prompt()
    def review(code: str) -> str:
        return f"Review this: {code}"

    return app


def main() -> None:
    app = build()
    if sys.argv[1] == "stdio":
        app.run("stdio")
        return
    import uvicorn

    starlette_app = app.streamable_http_app()
    uvicorn.run(starlette_app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")


if __name__ == "__main__":
    main()
