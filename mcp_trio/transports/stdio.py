"""stdio: one session on this process's stdin/stdout. stdout carries only MCP messages; logs go to stderr."""

from __future__ import annotations

import os
import sys

import trio

__all__ = ["open_stdio_stream"]


def open_stdio_stream(
    stdin: int | None = None, stdout: int | None = None
) -> trio.StapledStream[trio.lowlevel.FdStream, trio.lowlevel.FdStream]:
    """stdin and stdout (or the given descriptors) as one Trio stream.

    The descriptors are duplicated, so closing the stream leaves the process's own (or the caller's) open.
    """
    write = trio.lowlevel.FdStream(os.dup(sys.stdout.fileno() if stdout is None else stdout))
    read = trio.lowlevel.FdStream(os.dup(sys.stdin.fileno() if stdin is None else stdin))
    return trio.StapledStream(write, read)
