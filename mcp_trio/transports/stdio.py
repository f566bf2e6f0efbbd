"""stdio: one session on this process's stdin/stdout. stdout carries only MCP messages; logs go to stderr."""

from __future__ import annotations

import os
import sys

import trio

from mcp_trio.transports.stream import StreamHandler

__all__ = ["serve_stdio", "open_stdio_stream"]


def open_stdio_stream() -> trio.StapledStream[trio.lowlevel.FdStream, trio.lowlevel.FdStream]:
    """stdin and stdout as one Trio stream (duplicated descriptors, so closing it leaves the process's own)."""
    stdout = trio.lowlevel.FdStream(os.dup(sys.stdout.fileno()))
    stdin = trio.lowlevel.FdStream(os.dup(sys.stdin.fileno()))
    return trio.StapledStream(stdout, stdin)


async def serve_stdio(handler: StreamHandler, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    """Serve one connection on stdio; returns when the client closes stdin and its requests are answered."""
    async with trio.open_nursery() as nursery:
        task_status.started()
        await handler.serve(open_stdio_stream(), nursery)
