"""``serve_http``: the accept loop of the Streamable HTTP transport, and its lifetime."""

from __future__ import annotations

import trio

from mcp_trio.transports.http.config import HttpConfig
from mcp_trio.transports.http.connection import HttpConnection
from mcp_trio.transports.http.endpoint import Endpoint
from mcp_trio.transports.http.idle import OpenConnections
from mcp_trio.transports.http.shared import McpServer
from mcp_trio.transports.lean_socket import LeanSocketStream

__all__ = ["serve_http"]


async def serve_http(
    server: McpServer,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    path: str = "/mcp",
    config: HttpConfig | None = None,
    task_status: trio.TaskStatus[tuple[str, int]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``server`` over Streamable HTTP (both wire eras) at ``http://host:port/path`` until cancelled.

    Args:
        server: the MCP server (``mcp_trio.server.server.Server``).
        host: address to bind; loopback by default (binding wider needs ``HttpConfig.allowed_hosts`` for
            clients to get past the Host check).
        port: port to bind; 0 picks a free one.
        path: the MCP endpoint's path.
        config: limits, sessions, security and auth (``HttpConfig()`` by default).
        task_status: reports the bound ``(host, port)`` to ``nursery.start``.
    """
    if not path.startswith("/"):
        raise ValueError(f"path must start with '/': {path!r}")
    config = config if config is not None else HttpConfig()
    listeners = await trio.open_tcp_listeners(port, host=host)
    for listener in listeners:
        listener.socket.setsockopt(trio.socket.IPPROTO_TCP, trio.socket.TCP_NODELAY, 1)
    bound_host, bound_port = listeners[0].socket.getsockname()[:2]
    connections = OpenConnections(config.keep_alive_timeout, config.keep_alive_sweep_interval)
    async with trio.open_nursery() as nursery:
        endpoint = Endpoint(server, config, path, bound_host, bound_port, nursery)
        try:

            async def serve_connection(stream: trio.SocketStream) -> None:
                connection = HttpConnection(LeanSocketStream(stream.socket), config)
                connections.add(connection)
                try:
                    await connection.serve(endpoint)
                finally:
                    connections.discard(connection)

            nursery.start_soon(endpoint.registry.sweep_forever)
            nursery.start_soon(connections.reap_forever)
            await nursery.start(trio.serve_listeners, serve_connection, listeners)
            task_status.started((bound_host, bound_port))
            await trio.sleep_forever()
        finally:
            with trio.CancelScope(shield=True):
                await endpoint.registry.end_all()
