"""The peer: the official Python SDK (``mcp``) serving the same ``echo`` tool (and an async
``sleep(seconds)`` for ``benchmarks.overload``'s storm), as PEERS.md stands it up.

``python -m benchmarks._sdk_peer http PORT`` serves Streamable HTTP (stateless, JSON responses: its fastest
path, used with 2026-07-28 requests) under uvicorn, with uvloop and httptools when they are importable (what
``uvicorn[standard]`` gives: the peer's best case). ``http-stateful`` serves classic sessions (``initialize``
and an ``Mcp-Session-Id``), for the idle-memory comparison. ``python -m benchmarks._sdk_peer stdio`` serves
one session
on stdin/stdout. Like our CLI, it freezes the start-up heap out of the collector's way once serving.
"""

from __future__ import annotations

import gc
import importlib.util
import sys


def build() -> object:
    import anyio
    from mcp.server.mcpserver import MCPServer

    app = MCPServer("peer", version="1.0.0", log_level="WARNING")

    @app.tool()
    def echo(text: str) -> str:
        """Return ``text`` unchanged."""
        return text

    @app.tool()
    async def sleep(seconds: float) -> str:
        """Sleep for ``seconds`` (the overload storm's slow call)."""
        await anyio.sleep(seconds)
        return f"slept {seconds:.1f}s"

    return app


def http_stack() -> str:
    """What uvicorn will run on here: ``uvloop+httptools`` when both are importable, else ``asyncio+h11``."""
    fast = importlib.util.find_spec("uvloop") is not None and importlib.util.find_spec("httptools") is not None
    return "uvloop+httptools" if fast else "asyncio+h11"


def main() -> None:
    app: object = build()
    if sys.argv[1] == "stdio":
        gc.freeze()
        app.run("stdio")  # type: ignore[attr-defined]
        return
    import uvicorn

    port = int(sys.argv[2])
    stateless = sys.argv[1] == "http"  # "http-stateful": sessions with Mcp-Session-Id (for idle memory)
    starlette_app = app.streamable_http_app(json_response=True, stateless_http=stateless)  # type: ignore[attr-defined]
    fast = http_stack() == "uvloop+httptools"
    config = uvicorn.Config(
        starlette_app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        loop="uvloop" if fast else "asyncio",
        http="httptools" if fast else "h11",
    )
    gc.freeze()
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
