"""TCP and Unix-socket listeners for newline-delimited JSON: accept loops, nothing else.

Each accepted connection becomes one task in the listener's nursery, which also holds the connections'
request tasks. ``trio.serve_listeners`` backs off on EMFILE, so hitting the file limit slows accepting
instead of crashing the server.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from typing import Protocol

import trio

from mcp_trio.transports.lean_socket import LeanSocketStream

__all__ = ["StreamHandler", "serve_listeners", "serve_tcp", "serve_unix"]


class StreamHandler(Protocol):
    """What a stream transport drives (implemented by ``mcp_trio.server.connection.ConnectionHandler``)."""

    async def serve(self, stream: trio.abc.Stream, nursery: trio.Nursery) -> None: ...


async def serve_listeners(
    handler: StreamHandler,
    listeners: list[trio.SocketListener],
    *,
    task_status: trio.TaskStatus[list[trio.SocketListener]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Accept on ``listeners`` forever, serving each connection with ``handler``."""
    async with trio.open_nursery() as nursery:

        async def serve_one(stream: trio.SocketStream) -> None:
            await handler.serve(LeanSocketStream(stream.socket), nursery)

        await nursery.start(trio.serve_listeners, serve_one, listeners)
        task_status.started(listeners)


async def serve_tcp(
    handler: StreamHandler,
    host: str,
    port: int,
    *,
    backlog: int | None = None,
    task_status: trio.TaskStatus[tuple[str, int]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve on ``host:port`` (port 0 picks a free one); reports the bound ``(host, port)``."""
    listeners = await trio.open_tcp_listeners(port, host=host, backlog=backlog)
    for listener in listeners:
        listener.socket.setsockopt(trio.socket.IPPROTO_TCP, trio.socket.TCP_NODELAY, 1)
    sockname = listeners[0].socket.getsockname()
    async with trio.open_nursery() as nursery:
        await nursery.start(serve_listeners, handler, listeners)
        task_status.started((sockname[0], sockname[1]))


async def serve_unix(
    handler: StreamHandler,
    path: str,
    *,
    backlog: int = 1024,
    task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve on a Unix domain socket at ``path`` (a stale socket file is replaced; any other file is not)."""
    try:
        if stat.S_ISSOCK(os.stat(path).st_mode):
            os.unlink(path)
    except FileNotFoundError:
        pass
    sock = trio.socket.socket(trio.socket.AF_UNIX, trio.socket.SOCK_STREAM)
    try:
        await sock.bind(path)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise OSError(exc.errno, f"{path} exists and is not a socket") from exc
        raise
    sock.listen(backlog)
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(serve_listeners, handler, [trio.SocketListener(sock)])
            task_status.started(path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
