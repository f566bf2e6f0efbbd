"""The open connections of one endpoint, and the reaper that closes those idle past the keep-alive timeout.

Theory of operation: arming a timer per request costs two deadline changes (about 8 us on the reference
machine, 5% of a whole ``tools/call``), so a waiting connection only notes when it started waiting
(``HttpConnection.idle_since``) and one task per endpoint sweeps every ``keep_alive_sweep_interval`` seconds,
closing connections that have waited longer than ``keep_alive_timeout``. An idle connection therefore closes
between ``keep_alive_timeout`` and ``keep_alive_timeout + keep_alive_sweep_interval`` after its last response;
a connection running a handler is never touched. The same set is what a graceful drain walks.

The same sweep keeps SSE streams alive: a stream nothing was written to for ``sse_keepalive_interval`` gets a
``: keep-alive`` comment (so between that interval and one sweep more), where a timer per stream would cost
every idle listen stream a cancel scope and a deadline.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import trio

from mcp_trio.transports.http.sse import KEEPALIVE_FRAME

if TYPE_CHECKING:
    from mcp_trio.transports.http.connection import HttpConnection

__all__ = ["OpenConnections"]


class OpenConnections:
    """Connections being served by one endpoint.

    Args:
        keep_alive_timeout: seconds a connection may wait for its next request.
        sweep_interval: seconds between sweeps.
        sse_keepalive: seconds of silence on an SSE stream before it gets a keep-alive comment.
    """

    __slots__ = ("_connections", "_interval", "_sse_keepalive", "_timeout")

    def __init__(self, keep_alive_timeout: float, sweep_interval: float, sse_keepalive: float = math.inf) -> None:
        self._connections: set[HttpConnection] = set()
        self._timeout = keep_alive_timeout
        self._interval = sweep_interval
        self._sse_keepalive = sse_keepalive

    def __len__(self) -> int:
        return len(self._connections)

    def add(self, connection: HttpConnection) -> None:
        self._connections.add(connection)

    def discard(self, connection: HttpConnection) -> None:
        self._connections.discard(connection)

    def close_idle(self, waiting_since: float = math.inf) -> int:
        """Close connections waiting for a request since before ``waiting_since`` (by default every connection
        waiting for one); returns how many. Busy connections have ``idle_since = inf`` and are never touched."""
        closed = 0
        for connection in self._connections:
            if connection.idle_since < waiting_since:
                connection.close_idle()
                closed += 1
        return closed

    def keep_streams_alive(self, written_before: float) -> int:
        """Post a keep-alive comment into every SSE stream last written to before ``written_before``."""
        kept = 0
        for connection in self._connections:
            stream = connection.sse
            if stream is not None and connection.sse_written < written_before:
                connection.sse_written = math.inf  # once per silence: the write sets it again
                stream.post(KEEPALIVE_FRAME)
                kept += 1
        return kept

    async def reap_forever(self) -> None:
        """Every ``sweep_interval``: close connections idle for longer than ``keep_alive_timeout``, and keep
        SSE streams silent for ``sse_keepalive`` alive."""
        while True:
            await trio.sleep(self._interval)
            now = trio.current_time()
            self.close_idle(now - self._timeout)
            self.keep_streams_alive(now - self._sse_keepalive)
