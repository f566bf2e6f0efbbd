"""Listeners: each transport's accept loop, run as a child of the application supervisor.

A listener binds in its start (so ``add_listener`` fails at once on a bad address), reports what it bound,
then accepts until cancelled. Every accepted connection goes to ``Runtime.accept``, which admits it as a
temporary child of its shard or says why not (``admission``): a refused connection gets the refusal as its one
message (a JSON-RPC error line, an HTTP 503, or for a WebSocket the error as a frame and Close 1013) and is
closed. The listener never holds connections itself.
Running out of file descriptors or kernel memory (``EMFILE``, ``ENFILE``, ``ENOBUFS``, ``ENOMEM``) slows
accepting down instead of crashing, as ``trio.serve_listeners`` does; any other accept error ends the listener,
which the application supervisor restarts (it rebinds) within its intensity.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import logging
import math
import os
import socket as stdlib_socket
import stat
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final

import attrs
import trio

from mcp_trio.protocol.errors import McpError
from mcp_trio.protocol.jsonrpc import encode_message, error_response
from mcp_trio.transports.lean_socket import LeanSocketStream
from mcp_trio.transports.stdio import open_stdio_stream
from mcp_trio.transports.stream import StreamConnection
from supervision import Restart

if TYPE_CHECKING:
    from mcp_trio.runtime.application import Connection, Runtime
    from mcp_trio.runtime.shard import Shard
    from mcp_trio.transports.http import HttpConfig
    from mcp_trio.transports.ws_config import WebSocketConfig

__all__ = [
    "TcpListener",
    "UnixListener",
    "StdioListener",
    "HttpListener",
    "WebSocketListener",
    "ReadingRefusal",
    "accept_forever",
    "stream_refusal",
    "bind_reuse_port",
]

logger: Final = logging.getLogger("mcp_trio.runtime")
_CAPACITY_ERRNOS: Final = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS})

OpenConnection = Callable[[trio.socket.SocketType, int, "Shard"], "Connection"]
#: How a transport answers a connection refused at accept (the bytes it writes before closing it).
Refusal = Callable[[McpError], bytes]


@attrs.frozen
class ReadingRefusal:
    """How a transport answers a refused connection when the answer depends on what the client sends first
    (a WebSocket's Close 1013 can only follow the upgrade, whose 101 echoes the client's key).

    ``answer(stream, error)`` runs in a task of the accept loop's, as a refusal that lingers does: at most
    ``max_refusing`` at once (past them the connection is closed unanswered), each for at most
    ``_REFUSAL_SECONDS``; the stream is closed after it.
    """

    answer: Callable[[trio.abc.Stream, McpError], Awaitable[None]]


_ACCEPT_BATCH: Final = 256  # connections taken from the kernel's queue per scheduler pass
_REFUSAL_SECONDS: Final = 1.0  # how long a refused connection may linger for the client to close it
_DRAIN_BYTES: Final = 4096


async def accept_forever(
    runtime: Runtime, sock: trio.socket.SocketType, open_connection: OpenConnection, refusal: Refusal | ReadingRefusal
) -> None:
    """Accept on ``sock`` until cancelled: admit each connection into its shard, or refuse it.

    Accepting drains the kernel's queue (up to ``_ACCEPT_BATCH`` connections per scheduler pass), since
    ``trio``'s ``accept`` takes one per pass and a storm of clients then overflows the listen backlog (each
    dropped SYN costs its client a second). A refused connection is answered synchronously (``_refuse_now``)
    and never becomes a shard's child.
    """
    retry = runtime.config.accept_retry_delay
    lingering = _Lingering(runtime.config.max_refusing)
    listener = stdlib_socket.socket(sock.family, sock.type, sock.proto, fileno=sock.detach())
    listener.setblocking(False)
    try:
        async with trio.open_nursery() as nursery:
            while True:
                await trio.lowlevel.wait_readable(listener)
                for _ in range(_ACCEPT_BATCH):
                    try:
                        conn, _ = listener.accept()
                    except BlockingIOError:
                        break
                    except OSError as exc:
                        if exc.errno not in _CAPACITY_ERRNOS:
                            raise
                        logger.error(
                            "accept on %s failed with %s (%s); retrying in %g s",
                            _sockname(listener),
                            errno.errorcode.get(exc.errno or 0, "?"),
                            os.strerror(exc.errno or 0),
                            retry,
                        )
                        await trio.sleep(retry)
                        break
                    error = runtime.accept(functools.partial(_open_accepted, open_connection, conn))
                    if error is not None:
                        if isinstance(refusal, ReadingRefusal):
                            _refuse_reading(conn, error, refusal, lingering, nursery)
                        else:
                            _refuse_now(conn, refusal(error), lingering, nursery)
    finally:
        listener.close()


def _open_accepted(open_connection: OpenConnection, conn: stdlib_socket.socket, cid: int, shard: Shard) -> Connection:
    return open_connection(trio.socket.from_stdlib_socket(conn), cid, shard)


class _Lingering:
    """How many refused connections wait for their client to close (each a small task), and how many may."""

    __slots__ = ("count", "limit")

    def __init__(self, limit: int) -> None:
        self.count = 0
        self.limit = limit


def _refuse_now(conn: stdlib_socket.socket, data: bytes, lingering: _Lingering, nursery: trio.Nursery) -> None:
    """Tell a refused connection why and close it, without a task when the kernel allows.

    Write the refusal, half-close, read whatever the client already sent: a socket closed with unread input
    sends a reset, which can destroy the answer before the client reads it. A client that has not closed yet
    (its request still on the way) lingers in a task of its own until it does, for at most
    ``_REFUSAL_SECONDS``; past ``max_refusing`` lingering ones, the connection is closed at once (its answer is
    written: on Linux a reset does not discard what the client has received).
    """
    conn.setblocking(False)
    rest = data
    try:
        rest = data[conn.send(data) :]
        if not rest:
            conn.shutdown(stdlib_socket.SHUT_WR)
            while conn.recv(_DRAIN_BYTES):
                pass
            conn.close()  # the client closed and read its answer
            return
    except BlockingIOError:
        pass  # more to write or to read: linger
    except OSError:
        conn.close()  # the client already left: nothing to tell it
        return
    if lingering.count >= lingering.limit:
        conn.close()
        return
    lingering.count += 1
    nursery.start_soon(_linger, trio.socket.from_stdlib_socket(conn), rest, lingering)


async def _linger(conn: trio.socket.SocketType, rest: bytes, lingering: _Lingering) -> None:
    """Finish a refusal: write what is left of it and half-close, then drain until the client closes (or
    ``_REFUSAL_SECONDS``)."""
    try:
        with trio.move_on_after(_REFUSAL_SECONDS):
            stream = LeanSocketStream(conn)
            if rest:
                await stream.send_all(rest)
                await stream.send_eof()
            while await stream.receive_some(_DRAIN_BYTES):
                pass
    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
        pass  # the client already left
    finally:
        lingering.count -= 1
        conn.close()


def _refuse_reading(
    conn: stdlib_socket.socket, error: McpError, refusal: ReadingRefusal, lingering: _Lingering, nursery: trio.Nursery
) -> None:
    """Answer a refused connection whose answer needs its first bytes, in a lingering task (if one is allowed)."""
    if lingering.count >= lingering.limit:
        conn.close()
        return
    lingering.count += 1
    conn.setblocking(False)
    nursery.start_soon(_answer_refused, trio.socket.from_stdlib_socket(conn), error, refusal, lingering)


async def _answer_refused(
    conn: trio.socket.SocketType, error: McpError, refusal: ReadingRefusal, lingering: _Lingering
) -> None:
    try:
        with trio.move_on_after(_REFUSAL_SECONDS):
            await refusal.answer(LeanSocketStream(conn), error)
    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
        pass  # the client already left
    finally:
        lingering.count -= 1
        conn.close()


def stream_refusal(error: McpError) -> bytes:
    """What a refused newline-delimited JSON connection receives: the error as its one message."""
    return encode_message(error_response(error)) + b"\n"


def _sockname(sock: trio.socket.SocketType | stdlib_socket.socket) -> str:
    try:
        return str(sock.getsockname())
    except OSError:
        return "a closed socket"


def _stream_connection(runtime: Runtime) -> OpenConnection:
    host = runtime.host

    def open_connection(sock: trio.socket.SocketType, cid: int, shard: Shard) -> Connection:
        return StreamConnection(host, LeanSocketStream(sock), shard, cid)

    return open_connection


async def _serve_sockets(
    runtime: Runtime,
    socks: list[trio.socket.SocketType],
    open_connection: OpenConnection,
    refusal: Refusal | ReadingRefusal,
    bound: Any,
    task_status: Any,
) -> None:
    try:
        async with trio.open_nursery() as nursery:
            for sock in socks:
                nursery.start_soon(accept_forever, runtime, sock, open_connection, refusal)
            task_status.started(bound)
    finally:
        for sock in socks:
            sock.close()


async def _bind_tcp(
    host: str, port: int, backlog: int | None, reuse_port: bool = False
) -> tuple[list[trio.socket.SocketType], tuple[str, int]]:
    if reuse_port:
        socks = await bind_reuse_port(host, port, backlog)
    else:
        listeners = await trio.open_tcp_listeners(port, host=host, backlog=backlog)
        socks = [listener.socket for listener in listeners]
    for sock in socks:
        sock.setsockopt(trio.socket.IPPROTO_TCP, trio.socket.TCP_NODELAY, 1)  # inherited by accepted sockets
    name = socks[0].getsockname()
    return socks, (name[0], name[1])


async def bind_reuse_port(host: str, port: int, backlog: int | None, *, listen: bool = True) -> list[Any]:
    """Listening sockets for ``host:port`` with ``SO_REUSEPORT``, so that several worker processes each bind
    their own and the kernel spreads connections over them (``listen=False``: bound only, which reserves the
    port for workers to come without receiving connections)."""
    infos = await trio.socket.getaddrinfo(
        host or None, port, type=trio.socket.SOCK_STREAM, flags=trio.socket.AI_PASSIVE
    )
    socks: list[Any] = []
    seen: set[Any] = set()
    try:
        for family, kind, proto, _, address in infos:
            if address in seen:
                continue
            seen.add(address)
            sock = trio.socket.socket(family, kind, proto)
            socks.append(sock)
            sock.setsockopt(trio.socket.SOL_SOCKET, trio.socket.SO_REUSEADDR, 1)
            sock.setsockopt(trio.socket.SOL_SOCKET, trio.socket.SO_REUSEPORT, 1)
            if family == trio.socket.AF_INET6:
                sock.setsockopt(trio.socket.IPPROTO_IPV6, trio.socket.IPV6_V6ONLY, 1)
            await sock.bind(address)
            if listen:
                sock.listen(backlog if backlog is not None else 0xFFFF)
    except BaseException:
        for sock in socks:
            sock.close()
        raise
    return socks


@attrs.frozen
class TcpListener:
    """Newline-delimited JSON over TCP; reports the bound ``(host, port)`` (port 0 picks a free one)."""

    host: str
    port: int
    backlog: int | None = None
    #: Bind with ``SO_REUSEPORT`` (each worker process of ``--workers`` binds its own socket on the same port).
    reuse_port: bool = False

    @property
    def name(self) -> str:
        return f"tcp://{_show_host(self.host)}:{self.port}"

    async def serve(self, runtime: Runtime, *, task_status: trio.TaskStatus[tuple[str, int]]) -> None:
        socks, bound = await _bind_tcp(self.host, self.port, self.backlog, self.reuse_port)
        await _serve_sockets(runtime, socks, _stream_connection(runtime), stream_refusal, bound, task_status)


async def _bind_unix(path: str, backlog: int) -> trio.socket.SocketType:
    """A listening Unix socket at ``path``, replacing a stale socket file (never another kind of file)."""
    with contextlib.suppress(FileNotFoundError):
        if stat.S_ISSOCK(os.stat(path).st_mode):
            os.unlink(path)
    sock = trio.socket.socket(trio.socket.AF_UNIX, trio.socket.SOCK_STREAM)
    try:
        await sock.bind(path)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise OSError(exc.errno, f"{path} exists and is not a socket") from exc
        raise
    sock.listen(backlog)
    return sock


@attrs.frozen
class UnixListener:
    """Newline-delimited JSON on a Unix domain socket at ``path`` (a stale socket file is replaced; any other
    file is not); reports the path and removes the file when it stops."""

    path: str
    backlog: int = 1024

    @property
    def name(self) -> str:
        return f"unix://{self.path}"

    async def serve(self, runtime: Runtime, *, task_status: trio.TaskStatus[str]) -> None:
        path = self.path
        sock = await _bind_unix(path, self.backlog)
        try:
            await _serve_sockets(runtime, [sock], _stream_connection(runtime), stream_refusal, path, task_status)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)


@attrs.frozen
class StdioListener:
    """One session on this process's stdin/stdout (a temporary child: never restarted).

    ``stdin``/``stdout`` name other descriptors to serve instead (pipes to a parent, tests); they are
    duplicated, so the caller may close its own. ``finished`` is set when the session ends (the client closed
    its end and got its answers), which is when a stdio server's process is done.
    """

    stdin: int | None = None
    stdout: int | None = None
    finished: trio.Event = attrs.field(factory=trio.Event, eq=False, repr=False)
    restart: Restart = Restart.TEMPORARY

    @property
    def name(self) -> str:
        return "stdio"

    async def serve(self, runtime: Runtime, *, task_status: trio.TaskStatus[None]) -> None:
        host = runtime.host
        try:
            stream = open_stdio_stream(self.stdin, self.stdout)
            handle = runtime.spawn_connection(lambda cid, shard: StreamConnection(host, stream, shard, cid))
            task_status.started()
            await handle.wait()
        finally:
            self.finished.set()


@attrs.frozen
class HttpListener:
    """Streamable HTTP (both wire eras) at ``http://host:port/path``; reports the bound ``(host, port)``."""

    host: str = "127.0.0.1"
    port: int = 0
    path: str = "/mcp"
    config: HttpConfig | None = None
    #: Bind with ``SO_REUSEPORT`` (each worker process of ``--workers`` binds its own socket on the same port).
    reuse_port: bool = False
    #: Serve on this Unix socket instead of ``host:port`` (which still names the endpoint for Host/Origin
    #: checks): how a worker receives requests for its legacy sessions from the other workers.
    unix_path: str | None = None

    def __attrs_post_init__(self) -> None:
        if not self.path.startswith("/"):
            raise ValueError(f"path must start with '/': {self.path!r}")

    @property
    def name(self) -> str:
        if self.unix_path is not None:
            return f"http+unix://{self.unix_path}{self.path}"
        return f"http://{_show_host(self.host)}:{self.port}{self.path}"

    async def serve(self, runtime: Runtime, *, task_status: trio.TaskStatus[Any]) -> None:
        from mcp_trio.transports.http import HttpConfig, HttpEndpoint

        config = self.config if self.config is not None else HttpConfig()
        if self.unix_path is not None:
            socks = [await _bind_unix(self.unix_path, 1024)]
            name: tuple[str, int] = (self.host, self.port)
            bound: Any = self.unix_path
        else:
            socks, bound = await _bind_tcp(self.host, self.port, None, self.reuse_port)
            name = bound
        endpoint = HttpEndpoint(runtime.host, config, self.path, name[0], name[1], runtime.sessions, runtime.hangups)
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(endpoint.connections.reap_forever)
                await _serve_sockets(runtime, socks, endpoint.open_connection, endpoint.refusal, bound, task_status)
        finally:
            endpoint.connections.close_idle(math.inf)
            if self.unix_path is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.unix_path)


@attrs.frozen
class WebSocketListener:
    """MCP over WebSocket at ``ws://host:port/path``, a custom transport (SEP-1288: subprotocol ``mcp``, one
    JSON-RPC message per text frame, both wire eras); reports the bound ``(host, port)``.

    ``config`` is an ``mcp_trio.transports.websocket.WebSocketConfig`` (message size, keep-alive, upgrade
    timeout, Host/Origin). Connections refused at accept are upgraded, told why, and closed with 1013.
    """

    host: str = "127.0.0.1"
    port: int = 0
    path: str = "/mcp"
    config: WebSocketConfig | None = None
    #: Bind with ``SO_REUSEPORT`` (each worker process of ``--workers`` binds its own socket on the same port).
    reuse_port: bool = False

    def __attrs_post_init__(self) -> None:
        if not self.path.startswith("/"):
            raise ValueError(f"path must start with '/': {self.path!r}")

    @property
    def name(self) -> str:
        return f"ws://{_show_host(self.host)}:{self.port}{self.path}"

    async def serve(self, runtime: Runtime, *, task_status: trio.TaskStatus[tuple[str, int]]) -> None:
        from mcp_trio.transports.websocket import WebSocketConfig, WebSocketEndpoint

        config = self.config if self.config is not None else WebSocketConfig()
        socks, bound = await _bind_tcp(self.host, self.port, None, self.reuse_port)
        endpoint = WebSocketEndpoint(runtime.host, config, self.path, bound[0], bound[1])
        async with trio.open_nursery() as nursery:
            nursery.start_soon(endpoint.keep_alive_forever)
            refusal = ReadingRefusal(endpoint.refuse)
            await _serve_sockets(runtime, socks, endpoint.open_connection, refusal, bound, task_status)


def _show_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
