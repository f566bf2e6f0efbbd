"""The admin endpoint: ``/health``, ``/ready`` and ``/metrics`` on their own port (127.0.0.1 by default).

It is served by the project's HTTP/1.1 connection (``transports/http/connection.py``: bounded heads and bodies,
keep-alive, timeouts) but outside the runtime's admission: an overloaded server, refusing MCP work, must still
answer its health checks. An optional bearer token protects it (compared in constant time; 401 otherwise).
"""

from __future__ import annotations

import functools
import itertools
import json
import secrets
from typing import Any, Final, Protocol

import trio

from mcp_trio.observability.metrics import CONTENT_TYPE
from mcp_trio.protocol.errors import InvalidRequest
from mcp_trio.transports.http import HttpConfig
from mcp_trio.transports.http.connection import HttpConnection, HttpRequest
from mcp_trio.transports.http.idle import OpenConnections
from mcp_trio.transports.lean_socket import LeanSocketStream

__all__ = ["AdminEndpoint", "Watched", "serve_admin"]

_JSON: Final = ("content-type", "application/json")
_ids: Final = itertools.count(1)


class _Unplaced:
    """Admin connections live outside the runtime's shards (no limits, no handshake)."""

    __slots__ = ()

    def forget_connection(self, connection_id: int) -> None:
        pass

    def awaiting_handshake(self, key: int | str) -> None:
        pass

    def limiter(self, kind: str, client: Any) -> None:
        return None


class Watched(Protocol):
    """What the admin endpoint shows: one server (``Observer``) or the parent of workers (``WorkersObserver``)."""

    @property
    def draining(self) -> bool: ...

    def ready(self) -> bool: ...

    def health(self) -> tuple[int, dict[str, Any]]: ...

    def metrics(self) -> bytes: ...


class AdminEndpoint:
    """Answers the admin paths for what it watches."""

    def __init__(self, observer: Watched, token: str | None = None, config: HttpConfig | None = None) -> None:
        self.observer = observer
        self.token = token
        self.config = config if config is not None else HttpConfig(max_body_bytes=1024)
        self.connections = OpenConnections(self.config.keep_alive_timeout, self.config.keep_alive_sweep_interval)
        self.hangups = None

    async def __call__(self, connection: HttpConnection, http: HttpRequest) -> None:
        if self.token is not None:
            given = http.headers.get("authorization") or ""
            if not secrets.compare_digest(given.encode(), f"Bearer {self.token}".encode()):
                error = InvalidRequest("the admin endpoint needs its bearer token")
                await connection.send_error(401, error, headers=[("www-authenticate", "Bearer")])
                return
        if http.method not in ("GET", "HEAD"):
            error = InvalidRequest(f"method {http.method} not allowed")
            await connection.send_error(405, error, headers=[("allow", "GET")])
            return
        if await connection.read_body() is None:
            return
        observer = self.observer
        if http.path == "/health":
            status, document = observer.health()
            await connection.send_json(status, json.dumps(document).encode(), [("cache-control", "no-store")])
        elif http.path == "/ready":
            ready = observer.ready()
            body = json.dumps({"ready": ready, "draining": observer.draining}).encode()
            await connection.send_json(200 if ready else 503, body, [("cache-control", "no-store")])
        elif http.path == "/metrics":
            await connection.send_response(200, [("content-type", CONTENT_TYPE)], observer.metrics())
        else:
            await connection.send_error(404, InvalidRequest(f"nothing at {http.path!r}: /health, /ready, /metrics"))

    async def serve_connection(self, stream: trio.SocketStream) -> None:
        lean = LeanSocketStream(stream.socket)
        connection = HttpConnection(lean, self.config, self, _Unplaced(), next(_ids))
        await connection.run()


async def serve_admin(
    observer: Watched,
    host: str,
    port: int,
    *,
    token: str | None = None,
    task_status: trio.TaskStatus[tuple[str, int]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve the admin endpoint until cancelled; reports the bound (host, port)."""
    endpoint = AdminEndpoint(observer, token)
    listeners = await trio.open_tcp_listeners(port, host=host)
    name = listeners[0].socket.getsockname()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(endpoint.connections.reap_forever)
        await nursery.start(functools.partial(trio.serve_listeners, endpoint.serve_connection, listeners))
        task_status.started((name[0], name[1]))
