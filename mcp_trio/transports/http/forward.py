"""Requests for another worker's legacy session, relayed to that worker (``mcp-trio serve --workers N``).

Theory of operation
-------------------
With several worker processes on one port the kernel picks a worker per *connection*, and a legacy HTTP client
opens new connections whenever it likes, so a request for session ``S`` may land on a worker that does not hold
``S``. Session ids name their owner (``<worker_id>.<random>``) and every worker also serves its endpoint on a
Unix socket (``<worker_socket_dir>/<worker_id>.sock``). A worker that gets a request for a session it does not
hold, whose id names another worker with such a socket, relays the request there byte for byte (its body read
first, ``Connection: close`` asked of the owner) and relays the owner's response back as it comes, streamed SSE
included; the client's connection then closes. The owner judges everything else itself (the session may have
ended: 404), so the relay holds no session logic. Costs: one Unix connection per relayed request, and a reconnect
for the client.
"""

from __future__ import annotations

import os
from typing import Final

import trio

from mcp_trio.protocol.errors import InvalidRequest
from mcp_trio.transports.http.connection import HttpConnection, HttpRequest

__all__ = ["owner_socket", "relay"]

_HOP_BY_HOP: Final = frozenset({"connection", "keep-alive", "content-length", "transfer-encoding", "te", "upgrade"})
_CHUNK: Final = 65536


def owner_socket(session_id: str, worker_id: str | None, socket_dir: str | None) -> str | None:
    """The Unix socket of the worker that holds ``session_id``, if that is another worker that exists."""
    if worker_id is None or socket_dir is None:
        return None
    owner, dot, _ = session_id.rpartition(".")
    if not dot or not owner or owner == worker_id or "/" in owner or owner.startswith("."):
        return None
    path = os.path.join(socket_dir, f"{owner}.sock")
    return path if os.path.exists(path) else None


async def relay(connection: HttpConnection, http: HttpRequest, path: str) -> None:
    """Relay one request to the worker serving ``path`` and its response back (see the module docstring)."""
    body = await connection.read_body()
    if body is None:
        return  # answered (408/413) already
    try:
        upstream = await trio.open_unix_socket(path)
    except OSError:
        await connection.send_error(404, InvalidRequest("unknown or expired session: initialize again"))
        return
    async with upstream:
        target = http.path + (f"?{http.query}" if http.query else "")
        lines = [f"{http.method} {target} HTTP/1.1"]
        lines.extend(f"{name}: {value}" for name, value in http.headers.items() if name not in _HOP_BY_HOP)
        lines.append(f"content-length: {len(body)}")
        lines.append("connection: close")
        await upstream.send_all(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        await connection.relay_from(upstream, _CHUNK)
