"""``open_client``: from a target (URL, command line or open stream) to an established ``Client``.

Theory of operation
-------------------
A target names a framing. Byte streams (``tcp://``, ``unix:``, a command run as a stdio subprocess, or a stream
the caller already opened) are carried by the server's own newline-delimited framing, ``StreamConnection``,
with the client's driver as its session: one task per session reads, writes are coalesced through its outbox,
and nothing else runs while the session is idle. ``ws://`` and ``wss://`` (MCP over WebSocket, a non-standard
transport) ride the same framing with WebSocket frames for lines (``WebSocketConnection``), after the upgrade.
``http://`` and ``https://`` go through the HTTP outlet (``mcp_trio.client.http``).

Then the era is chosen. ``"auto"`` (the default) probes with ``server/discover``: a server that answers it
with a version this client speaks gets the 2026-07-28 wire; any error, or no answer within
``discover_timeout``, falls back to ``initialize`` (the specification's rule for dual-era clients). The
legacy session continues the probe's request ids, so a late answer to the probe can never be taken for the
answer to ``initialize``.

Closing a stdio session follows the specification: close the server's stdin, wait, SIGTERM, wait, SIGKILL.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import shlex
import subprocess
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Final

import msgspec
import trio

from mcp_trio.client.client import Client
from mcp_trio.client.config import ClientConfig
from mcp_trio.client.driver import (
    ClientDriver,
    ConnectionClosed,
    ElicitationHandler,
    LogHandler,
    NotificationHandler,
    RequestTimeout,
    RootsHandler,
    SamplingHandler,
)
from mcp_trio.protocol.client_session import ClientSession
from mcp_trio.protocol.errors import RemoteError
from mcp_trio.protocol.types import TASKS_EXTENSION, ClientCapabilities, DiscoverResult, Implementation
from mcp_trio.protocol.versions import MODERN_VERSIONS
from mcp_trio.transports.lean_socket import LeanSocketStream
from mcp_trio.transports.port import Outlet, SessionPort
from mcp_trio.transports.stream import StreamConnection
from supervision import single_error

if TYPE_CHECKING:
    from mcp_trio.transports.websocket import WebSocketFramer

__all__ = ["open_client", "Target", "DEFAULT_CLIENT_INFO"]

#: What a target may be: a URL or command line (str), an argument vector, or an open Trio stream.
Target = str | Sequence[str] | trio.abc.Stream
DEFAULT_CLIENT_INFO: Final = Implementation(name="mcp-trio", version="0.1.0")
_connection_ids: Final = itertools.count(1)
#: The targets a ``ClientConfig.local_address`` applies to (the others are no IP connection of ours).
_BINDABLE: Final = ("tcp://", "http://", "https://", "ws://", "wss://")


@asynccontextmanager
async def open_client(
    target: Target,
    *,
    config: ClientConfig | None = None,
    client_info: Implementation | None = None,
    sampling: SamplingHandler | None = None,
    elicitation: ElicitationHandler | None = None,
    roots: RootsHandler | None = None,
    on_log: LogHandler | None = None,
    on_notification: NotificationHandler | None = None,
    headers: dict[str, str] | None = None,
    auth: Any = None,
    tasks: bool = False,
) -> AsyncIterator[Client]:
    """Connect to an MCP server, establish a session, and close it when the block ends.

    Args:
        target: ``http://host:port/path`` or ``https://...`` (Streamable HTTP), ``ws://host:port/path`` or
            ``wss://...`` (WebSocket, subprotocol ``mcp``: a non-standard transport), ``tcp://host:port``,
            ``unix:/path`` (newline-delimited JSON), a command line (``"python -m server"`` or an argument list:
            run as a subprocess over stdio, and reaped on exit), or an open ``trio.abc.Stream``.
        config: limits and the era to speak (``ClientConfig``).
        client_info: this client's name and version as the server sees it.
        sampling, elicitation, roots: answer the server's requests for an LLM completion, for user input,
            and for this client's roots (legacy requests, and 2026-07-28 input rounds). Each one given is
            declared as a capability.
        on_log: receives each ``notifications/message``.
        on_notification: receives ``(method, params)`` of every other notification (list changes, resource
            updates...).
        headers: HTTP and WebSocket only: extra request headers (of every request; of the upgrade).
        tasks: 2026-07-28: declare the tasks extension, so a server may answer ``call_tool`` with a task
            (``CreateTaskResult``; follow it with ``Client.wait_task``). Legacy: ask per call with ``task=``.
        auth: HTTP only: how to authenticate (an ``HttpAuth``: credentials per request, renewed on 401/403).

    Raises:
        ValueError: a target that names no transport this client has.
        OSError: the server cannot be reached.
        RemoteError: the server refused the session (``initialize`` or ``server/discover`` failed).
    """
    config = config if config is not None else ClientConfig()
    capabilities = _capabilities(sampling, elicitation, roots, tasks)
    info = client_info if client_info is not None else DEFAULT_CLIENT_INFO
    try:
        async with trio.open_nursery() as nursery:
            first = ClientSession(modern=config.era != "legacy", capabilities=capabilities, client_info=info)
            driver = ClientDriver(first, nursery, config.max_in_flight)
            driver.sampling, driver.elicitation, driver.roots = sampling, elicitation, roots
            driver.on_log, driver.on_notification = on_log, on_notification
            async with _open_framing(target, driver, config, nursery, headers, auth) as hang_up:
                client = Client(driver, config)
                try:
                    await _establish(client, capabilities, info)
                    yield client
                finally:
                    await hang_up()
                    nursery.cancel_scope.cancel()
    except BaseExceptionGroup as group:  # one error (the caller's own, or the session's) is raised as itself
        error = single_error(group)
        if error is None:
            raise
        raise error from error.__cause__


def _capabilities(
    sampling: SamplingHandler | None,
    elicitation: ElicitationHandler | None,
    roots: RootsHandler | None,
    tasks: bool = False,
) -> ClientCapabilities:
    declared: dict[str, Any] = {}
    if tasks:
        declared["extensions"] = {TASKS_EXTENSION: {}}
    if sampling is not None:
        declared["sampling"] = {}
    if elicitation is not None:
        declared["elicitation"] = {"form": {}}
    if roots is not None:
        declared["roots"] = {"listChanged": True}
    return msgspec.convert(declared, ClientCapabilities)


async def _establish(client: Client, capabilities: ClientCapabilities, info: Implementation) -> None:
    """Choose the era and open the session (see the module docstring)."""
    driver, config = client.driver, client.config
    if config.era != "legacy":
        try:
            discovered = await driver.request("server/discover", timeout=config.discover_timeout)
        except (RemoteError, RequestTimeout):
            if config.era == "modern":
                raise
            discovered = None
        version = modern_version(discovered, config.era)
        if version is not None:
            driver.session.version = version
            client.remember_discovery(discovered)
            return
        following = driver.session.next_request_id
        driver.session = ClientSession(capabilities=capabilities, client_info=info, next_request_id=following)
    session = driver.session
    await driver.request_message(session.initialize(), timeout=config.request_timeout)
    await driver.send_message(session.initialized())


def modern_version(discovered: Any, era: str) -> str | None:
    """The 2026-07-28 version to speak after ``server/discover`` answered ``discovered`` (``None``: the answer
    was not a discovery result, so ``initialize`` is tried instead).

    Raises:
        RemoteError: ``era`` is ``"modern"`` and the server offers none of our modern versions.
    """
    if not isinstance(discovered, DiscoverResult):
        return None
    version = next((v for v in discovered.supported_versions if v in MODERN_VERSIONS), None)
    if version is None and era == "modern":
        supported = ", ".join(discovered.supported_versions)
        raise RemoteError(-32022, f"the server speaks none of our modern versions (it offers {supported})")
    return version


class _ClientHost:
    """What ``StreamConnection`` needs of a host, for one client session: its limits and its (only) session."""

    __slots__ = ("driver", "limits")

    def __init__(self, driver: ClientDriver, limits: ClientConfig) -> None:
        self.driver = driver
        self.limits = limits

    def open_session(self, outlet: Outlet, place: Any, snapshot: bytes | None = None) -> SessionPort:
        self.driver.outlet = outlet
        return self.driver


class _Unplaced:
    """A client connection lives in no runtime shard: no handshake deadline, no rate limits, no table."""

    __slots__ = ()

    def forget_connection(self, connection_id: int) -> None:
        pass

    def awaiting_handshake(self, key: int | str) -> None:
        pass

    def limiter(self, kind: str, client: Any) -> None:
        return None


_UNPLACED: Final = _Unplaced()


@asynccontextmanager
async def _open_framing(
    target: Target,
    driver: ClientDriver,
    config: ClientConfig,
    nursery: trio.Nursery,
    headers: dict[str, str] | None,
    auth: Any,
) -> AsyncIterator[Any]:
    """Open the transport ``target`` names and attach ``driver``; yields the coroutine function that hangs up."""
    if isinstance(target, str) and target.startswith(("http://", "https://")):
        from mcp_trio.client.http import HttpOutlet

        outlet = HttpOutlet(target, driver, config, nursery, headers or {})
        outlet.auth = auth
        driver.outlet = outlet
        try:
            yield outlet.aclose
        finally:
            await outlet.aclose()
        return
    if auth is not None:
        raise ValueError("auth applies to http:// and https:// targets only")
    if config.local_address is not None and not (isinstance(target, str) and target.startswith(_BINDABLE)):
        raise ValueError("a local_address applies to tcp://, http(s):// and ws(s):// targets only")
    process: trio.Process | None = None
    websocket: WebSocketFramer | None = None
    if isinstance(target, trio.abc.Stream):
        stream: trio.abc.Stream = target
    elif isinstance(target, str) and target.startswith(("ws://", "wss://")):
        from mcp_trio.transports.websocket import connect_websocket

        with trio.move_on_after(config.request_timeout or math.inf) as upgrading:
            if config.local_address is None:
                stream, websocket = await connect_websocket(
                    target,
                    list((headers or {}).items()),
                    max_message_size=config.max_message_size,
                    receive_size=config.receive_size,
                )
            else:
                stream, websocket = await _connect_websocket_from(target, list((headers or {}).items()), config)
        if upgrading.cancelled_caught:
            raise TimeoutError(f"the WebSocket upgrade at {target} took longer than {config.request_timeout:g}s")
    elif isinstance(target, str) and target.startswith("tcp://"):
        host, port = _host_port(target[len("tcp://") :])
        # The server's lean stream (the plain system calls first): trio's SocketStream wrappers cost more per
        # message than the calls themselves. Trio's connect set TCP_NODELAY already.
        opened = await trio.open_tcp_stream(host, port, local_address=config.local_address)
        stream = LeanSocketStream(opened.socket)
    elif isinstance(target, str) and target.startswith("unix:"):
        opened = await trio.open_unix_socket(target[len("unix:") :].removeprefix("//"))
        stream = LeanSocketStream(opened.socket)
    else:
        argv = shlex.split(target) if isinstance(target, str) else list(target)
        if not argv:
            raise ValueError("an empty command line names no server to run")
        process = await trio.lowlevel.open_process(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert process.stdin is not None
        assert process.stdout is not None
        stream = trio.StapledStream(process.stdin, process.stdout)
    client_host = _ClientHost(driver, config)
    connection_id = next(_connection_ids)
    if websocket is not None:
        from mcp_trio.transports.websocket import WebSocketConnection

        connection: StreamConnection = WebSocketConnection(client_host, stream, _UNPLACED, connection_id, websocket)  # type: ignore[arg-type]
    else:
        connection = StreamConnection(client_host, stream, _UNPLACED, connection_id)  # type: ignore[arg-type]
    nursery.start_soon(connection.run)

    async def hang_up() -> None:
        with trio.CancelScope(shield=True):
            if process is not None:
                await _reap(process, stream, config.terminate_timeout)
            else:
                with trio.move_on_after(config.close_timeout):
                    await connection.flush()
            driver.close(ConnectionClosed("the client closed the session"))

    try:
        yield hang_up
    finally:
        await hang_up()


async def _connect_websocket_from(
    url: str, headers: list[tuple[str, str]], config: ClientConfig
) -> tuple[trio.abc.Stream, WebSocketFramer]:
    """``connect_websocket`` over a connection bound to ``config.local_address`` (that function, in the
    transports layer, opens its own connection and takes no local address): the same upgrade, subprotocol and
    TLS check."""
    import ssl
    from urllib.parse import urlsplit

    from mcp_trio.transports.websocket import WebSocketFramer
    from mcp_trio.transports.ws_handshake import request_upgrade

    parts = urlsplit(url)
    if not parts.hostname:
        raise ValueError(f"not a WebSocket URL: {url!r}")
    secure = parts.scheme == "wss"
    authority = parts.netloc.rpartition("@")[2]  # credentials in the URL are not sent
    port = parts.port or (443 if secure else 80)
    stream: trio.abc.Stream = await trio.open_tcp_stream(parts.hostname, port, local_address=config.local_address)
    try:
        if secure:
            context = ssl.create_default_context()
            stream = trio.SSLStream(stream, context, server_hostname=parts.hostname, https_compatible=True)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            connection = await request_upgrade(stream, authority, target, headers, config.receive_size)
        except trio.BrokenResourceError as exc:  # a TLS failure (certificate, not TLS at all), or a reset
            raise ConnectionError(f"the WebSocket upgrade at {url} failed: {exc.__cause__ or exc}") from exc
    except BaseException:
        await trio.aclose_forcefully(stream)
        raise
    return stream, WebSocketFramer(connection, config.max_message_size)


async def _reap(process: trio.Process, stream: trio.abc.Stream, seconds: float) -> None:
    """Close the server's stdin, then SIGTERM, then SIGKILL, waiting ``seconds`` between each."""
    assert process.stdin is not None
    with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError, OSError):
        await process.stdin.aclose()
    with trio.move_on_after(seconds):
        await process.wait()
        return
    process.terminate()
    with trio.move_on_after(seconds):
        await process.wait()
        return
    process.kill()
    await process.wait()


def _host_port(authority: str) -> tuple[str, int]:
    """``host:port`` (``[v6]:port`` for IPv6) from a URL's authority, ignoring a trailing path."""
    authority = authority.partition("/")[0]
    host, sep, port = authority.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ValueError(f"expected HOST:PORT, not {authority!r}")
    return host.strip("[]"), int(port)
