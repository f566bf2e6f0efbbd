"""The endpoint's open-connection set: idle connections are reaped (and can all be closed for a drain)."""

from __future__ import annotations

import math

import trio
import trio.testing

from mcp_trio.transports.http.config import HttpConfig
from mcp_trio.transports.http.connection import HttpConnection
from mcp_trio.transports.http.idle import OpenConnections


class _Nowhere:
    """Stands in for the endpoint and the shard: these tests only look at idleness."""

    connections = OpenConnections(keep_alive_timeout=10.0, sweep_interval=1.0)

    async def __call__(self, connection: HttpConnection, http: object) -> None:
        raise AssertionError("no request is served here")

    def forget_connection(self, connection_id: int) -> None:
        pass


def _connection(idle_since: float) -> HttpConnection:
    left, _ = trio.testing.memory_stream_pair()
    nowhere = _Nowhere()
    connection = HttpConnection(left, HttpConfig(), nowhere, nowhere, 1)
    connection.idle_since = idle_since
    return connection


async def test_close_idle_touches_only_connections_waiting_since_before_the_cutoff() -> None:
    connections = OpenConnections(keep_alive_timeout=10.0, sweep_interval=1.0)
    old, recent, busy = _connection(1.0), _connection(8.0), _connection(math.inf)
    for connection in (old, recent, busy):
        connections.add(connection)
    assert len(connections) == 3
    assert connections.close_idle(5.0) == 1
    assert old._idle.cancel_called
    assert not recent._idle.cancel_called
    assert not busy._idle.cancel_called


async def test_close_idle_without_a_cutoff_closes_every_waiting_connection_and_no_busy_one() -> None:
    connections = OpenConnections(keep_alive_timeout=10.0, sweep_interval=1.0)
    waiting, busy = _connection(100.0), _connection(math.inf)
    connections.add(waiting)
    connections.add(busy)
    assert connections.close_idle() == 1
    assert waiting._idle.cancel_called
    assert not busy._idle.cancel_called
    connections.discard(waiting)
    connections.discard(waiting)  # discarding twice is harmless
    assert len(connections) == 1


async def test_the_reaper_sweeps_on_its_interval(autojump_clock: trio.testing.MockClock) -> None:
    connections = OpenConnections(keep_alive_timeout=10.0, sweep_interval=2.0)
    connection = _connection(trio.current_time())
    connections.add(connection)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(connections.reap_forever)
        await trio.sleep(9.0)
        assert not connection._idle.cancel_called
        await trio.sleep(3.5)  # past the timeout and the sweep after it (at 12 s)
        assert connection._idle.cancel_called
        nursery.cancel_scope.cancel()
