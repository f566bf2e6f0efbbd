"""What several client tests need: a free loopback port, a server subprocess waited for until it listens, a byte
relay between two streams, and the request reading of a raw h11 test server."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import h11
import trio


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def http_server_process(argv: Sequence[str], port: int) -> AsyncIterator[str]:
    """Run ``argv`` (a server listening on ``port``) until the block ends; yields its ``/mcp`` URL once it
    accepts connections."""
    async with trio.open_nursery() as nursery:
        process = await nursery.start(trio.run_process, list(argv))
        with trio.fail_after(30):
            while True:
                try:
                    stream = await trio.open_tcp_stream("127.0.0.1", port)
                except OSError:
                    await trio.sleep(0.05)
                    continue
                await stream.aclose()
                break
        try:
            yield f"http://127.0.0.1:{port}/mcp"
        finally:
            process.terminate()
            nursery.cancel_scope.cancel()


async def relay_bytes(source: trio.abc.Stream, sink: trio.abc.Stream) -> None:
    """Copy ``source`` to ``sink`` until either ends, then close ``sink``."""
    try:
        while data := await source.receive_some(65536):
            await sink.send_all(data)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass
    finally:
        await trio.aclose_forcefully(sink)


async def read_request(stream: trio.SocketStream, h: h11.Connection) -> tuple[h11.Request | None, bytes]:
    """One request of a raw h11 server: its head and whole body; ``(None, b"")`` when the client closed."""
    request: h11.Request | None = None
    body = b""
    while True:
        event = h.next_event()
        if event is h11.NEED_DATA:
            h.receive_data(await stream.receive_some(65536))
        elif isinstance(event, h11.Request):
            request = event
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage):
            return request, body
        elif isinstance(event, h11.ConnectionClosed):
            return None, b""
