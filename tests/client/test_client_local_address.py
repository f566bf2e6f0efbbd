"""``ClientConfig.local_address``: the server sees each connection come from the bound source address (tcp://,
http:// and ws://, through a relay that records its peers), and targets with no IP connection refuse it."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
import trio
from client_test_helpers import relay_bytes

from mcp_trio.client import ClientConfig, open_client
from mcp_trio.demo import build_demo_server
from mcp_trio.runtime.application import Listener
from mcp_trio.runtime.listeners import HttpListener, TcpListener, WebSocketListener
from mcp_trio.transports.http import HttpConfig
from mcp_trio.transports.websocket import WebSocketConfig

RELAYED = ("127.0.0.1",)  # any port


@asynccontextmanager
async def relay_to(port: int) -> AsyncIterator[tuple[int, list[str]]]:
    """A TCP relay on 127.0.0.1 to ``port``: its own port and the source address of every connection it took."""
    peers: list[str] = []

    async def handle(stream: trio.SocketStream) -> None:
        peers.append(stream.socket.getpeername()[0])
        upstream = await trio.open_tcp_stream("127.0.0.1", port)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(relay_bytes, stream, upstream)
            nursery.start_soon(relay_bytes, upstream, stream)

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(functools.partial(trio.serve_tcp, handle, 0, host="127.0.0.1"))
        yield listeners[0].socket.getsockname()[1], peers
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize(
    ("listener", "url"),
    [
        (lambda: TcpListener("127.0.0.1", 0), "tcp://127.0.0.1:{port}"),
        # The relay's port is not the server's: let its Host through.
        (
            lambda: HttpListener("127.0.0.1", 0, "/mcp", HttpConfig(allowed_hosts=RELAYED)),
            "http://127.0.0.1:{port}/mcp",
        ),
        (
            lambda: WebSocketListener("127.0.0.1", 0, "/mcp", WebSocketConfig(allowed_hosts=RELAYED)),
            "ws://127.0.0.1:{port}/mcp",
        ),
    ],
    ids=["tcp", "http", "ws"],
)
async def test_connections_come_from_the_bound_address(listener: Callable[[], Listener], url: str) -> None:
    async with trio.open_nursery() as nursery:
        bound = await nursery.start(build_demo_server().serve, listener())
        async with relay_to(bound[0][1]) as (port, peers):
            config = ClientConfig(local_address="127.0.0.2")
            async with open_client(url.format(port=port), config=config) as client:
                await client.ping()
            bound_peers = list(peers)
            peers.clear()
            async with open_client(url.format(port=port)) as client:  # unbound: the kernel's choice
                await client.ping()
        nursery.cancel_scope.cancel()
    assert bound_peers
    assert set(bound_peers) == {"127.0.0.2"}  # HTTP may open more than one connection per session
    assert set(peers) == {"127.0.0.1"}


@pytest.mark.parametrize("target", ["unix:/tmp/nothing.sock", "python -m nothing"])
async def test_targets_without_an_ip_connection_refuse_a_local_address(target: str) -> None:
    with pytest.raises(ValueError, match="local_address applies to tcp://"):
        async with open_client(target, config=ClientConfig(local_address="127.0.0.2")):
            pass
