"""One HTTP/1.1 connection served by one task: the per-connection actor (after hypercorn's ``tcp_server``).

Theory of operation
-------------------
An idle keep-alive connection is one task blocked in ``receive_some`` under the keep-alive timeout, plus an
``h11.Connection``: no nursery, no buffer beyond h11's (capped at ``max_header_bytes`` for a head). Requests are
served strictly one at a time; bytes of a pipelined next request simply wait in h11 until the current response
is complete, so pipelining is safe.

Reading is bounded in size and time: the head must arrive within ``header_timeout`` of its first byte (else 408),
the body within ``body_timeout`` and ``max_body_bytes`` (else 408 / 413). ``Expect: 100-continue`` is honoured
only when the body is actually wanted. Every write runs under ``write_timeout``; a client that stops reading is
dropped.

A streamed response (``send_stream``) is the only time the connection opens a nursery: the connection task
writes the ``ResponseStream`` while a second task watches the socket, because an HTTP client says it has gone
only by closing the connection. EOF detaches the stream and the caller decides what that means (the modern
wire cancels the request; the legacy wire keeps it running for a later resume). While a response streams the
watcher feeds at most ``max_pipeline_bytes`` of early pipelined input to h11, then stops reading.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable, Sequence
from http import HTTPStatus
from typing import Any, Final, Protocol

import h11
import trio

from mcp_trio.protocol.errors import InvalidRequest, McpError, MessageTooLarge
from mcp_trio.protocol.jsonrpc import encode_message, error_response
from mcp_trio.transports.http.config import HttpConfig
from mcp_trio.transports.http.headers import Headers
from mcp_trio.transports.http.sse import KEEPALIVE_FRAME, ResponseStream
from mcp_trio.transports.lean_socket import LeanSocketStream

__all__ = ["HttpConnection", "HttpRequest", "RequestHandler", "HeaderList"]

logger: Final = logging.getLogger("mcp_trio.http")
HeaderList = Sequence[tuple[str, str]]
_JSON: Final = ("content-type", "application/json")
_SSE_HEADERS: Final = (
    ("content-type", "text/event-stream"),
    ("cache-control", "no-cache, no-transform"),
    ("x-accel-buffering", "no"),
)


_REASONS: Final = {status.value: status.phrase.encode("ascii") for status in HTTPStatus}


def _reason(status: int) -> bytes:
    return _REASONS.get(status, b"")


def _head_size(event: h11.Request) -> int:
    """Bytes of a request head as sent (near enough: h11 drops only optional whitespace)."""
    return len(event.method) + len(event.target) + 12 + sum(len(n) + len(v) + 4 for n, v in event.headers)


class _Gone(Exception):
    """The client closed the connection or stopped reading."""


class HttpRequest:
    """A request head (the body is read on demand with ``HttpConnection.read_body``)."""

    __slots__ = ("headers", "method", "path", "query")

    def __init__(self, event: h11.Request) -> None:
        self.method = event.method.decode("ascii", "replace").upper()
        target = event.target.decode("ascii", "replace")
        self.path, _, self.query = target.partition("?")
        self.headers = Headers(event.headers)


class RequestHandler(Protocol):
    async def __call__(self, connection: HttpConnection, http: HttpRequest) -> None: ...


class HttpConnection:
    """The state of one connection (see the module docstring)."""

    __slots__ = ("_idle", "config", "h11", "must_close", "stream")

    def __init__(self, stream: trio.abc.Stream, config: HttpConfig) -> None:
        self.stream = stream
        self.config = config
        self.h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=config.max_header_bytes)
        self.must_close = False
        self._idle = trio.CancelScope()  # replaced by the one serve() runs in

    # ------------------------------------------------------------------ the request loop

    async def serve(self, handler: RequestHandler) -> None:
        """Serve requests until the client leaves, times out, or a response forbids reuse."""
        try:
            # One timer for the connection's idle waits, re-armed per request (cheaper than a scope each time):
            # when it fires the connection closes quietly.
            with trio.CancelScope() as self._idle:
                while True:
                    request = await self._next_request()
                    if request is None:
                        return
                    await handler(self, request)
                    h = self.h11
                    if self.must_close or h.our_state is not h11.DONE or h.their_state is not h11.DONE:
                        return
                    h.start_next_cycle()
        except _Gone:
            pass
        except Exception:  # the connection's top level: log, drop this connection, keep the server
            logger.exception("HTTP connection failed")
        finally:
            with trio.CancelScope(shield=True):
                await self.stream.aclose()

    async def _receive(self) -> bytes:
        try:
            return bytes(await self.stream.receive_some(self.config.receive_size))
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return b""

    async def _next_event(self) -> h11.Event | type[h11.PAUSED]:
        """The next h11 event, reading as needed (h11 caps what it buffers)."""
        h = self.h11
        while True:
            event = h.next_event()
            if event is h11.NEED_DATA:
                h.receive_data(await self._receive())
                continue
            return event  # type: ignore[return-value]

    async def _next_request(self) -> HttpRequest | None:
        h = self.h11
        config = self.config
        if not h.trailing_data[0]:
            idle = self._idle
            idle.deadline = trio.current_time() + config.keep_alive_timeout
            try:
                data = await self._receive()
            finally:
                idle.deadline = math.inf  # a handler may run as long as it likes; only waits are timed
            h.receive_data(data)
            if not data:
                return None
        try:
            event: Any = h.next_event()  # usually the whole head is already here: no timer needed
            if event is h11.NEED_DATA:
                event = None
                with trio.move_on_after(config.header_timeout):
                    event = await self._next_event()
                if event is None:
                    await self._reject(408, InvalidRequest("request head not received in time"))
                    return None
        except h11.RemoteProtocolError as exc:
            await self._reject(exc.error_status_hint, InvalidRequest(f"bad HTTP request: {exc}"))
            return None
        if isinstance(event, h11.Request):
            if _head_size(event) > config.max_header_bytes:  # h11 caps only heads still incomplete
                await self._reject(431, InvalidRequest(f"request head over {config.max_header_bytes} bytes"))
                return None
            return HttpRequest(event)
        return None  # ConnectionClosed

    async def _reject(self, status: int, error: McpError) -> None:
        """Answer a request we cannot read, then close; best effort (the client may be gone)."""
        if self.h11.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            return
        with contextlib.suppress(_Gone, h11.LocalProtocolError):
            await self.send_error(status, error, close=True)

    async def read_body(self) -> bytes | None:
        """The request body, or ``None`` after answering 408/413/400 (the connection then closes)."""
        config = self.config
        h = self.h11
        limit = config.max_body_bytes
        if h.they_are_waiting_for_100_continue:
            await self._write(h.send(h11.InformationalResponse(status_code=100, headers=[])))
        chunks: list[bytes] = []
        size = 0
        deadline: float | None = None  # the body timer starts only if the body is not already buffered
        while True:
            try:
                event = h.next_event()
            except h11.RemoteProtocolError as exc:
                await self._reject(exc.error_status_hint, InvalidRequest(f"bad HTTP body: {exc}"))
                return None
            if event is h11.NEED_DATA:
                if deadline is None:
                    deadline = trio.current_time() + config.body_timeout
                with trio.move_on_at(deadline) as timer:
                    data = await self._receive()
                if timer.cancelled_caught:
                    await self.send_error(408, InvalidRequest("request body not received in time"), close=True)
                    return None
                h.receive_data(data)
            elif isinstance(event, h11.Data):
                size += len(event.data)
                if size > limit:
                    await self.send_error(413, MessageTooLarge(f"body over {limit} bytes"), close=True)
                    return None
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                return b"".join(chunks)
            else:
                raise _Gone

    def declared_length(self, request: HttpRequest) -> int | None:
        value = request.headers.get("content-length")
        return int(value) if value is not None and value.isdigit() else None

    # ------------------------------------------------------------------ writing

    async def _write(self, data: bytes | None) -> None:
        if not data:
            return
        stream = self.stream
        if isinstance(stream, LeanSocketStream):  # the common case: the kernel takes it all, no timer needed
            try:
                sent = stream.send_nowait(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                self.must_close = True
                raise _Gone from None
            if sent == len(data):
                return
            data = bytes(memoryview(data)[sent:])
        with trio.move_on_after(self.config.write_timeout):
            try:
                await self.stream.send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                self.must_close = True
                raise _Gone from None
            return
        self.must_close = True
        raise _Gone

    async def send_response(
        self, status: int, headers: HeaderList = (), body: bytes = b"", *, close: bool = False
    ) -> None:
        """A complete response. Closes afterwards if asked to, or if the request body was not read."""
        h = self.h11
        close = close or self.must_close or h.their_state not in (h11.DONE, h11.MUST_CLOSE, h11.CLOSED)
        all_headers = [*headers, ("content-length", str(len(body)))]
        if close:
            self.must_close = True
            all_headers.append(("connection", "close"))
        data = h.send(h11.Response(status_code=status, headers=all_headers, reason=_reason(status)))
        if body:
            data = (data or b"") + (h.send(h11.Data(data=body)) or b"")
        data = (data or b"") + (h.send(h11.EndOfMessage()) or b"")
        await self._write(data)

    async def send_json(self, status: int, body: bytes, headers: HeaderList = ()) -> None:
        await self.send_response(status, [_JSON, *headers], body)

    async def send_error(
        self,
        status: int,
        error: McpError,
        request_id: int | str | None = None,
        headers: HeaderList = (),
        *,
        close: bool = False,
    ) -> None:
        """An HTTP error whose body is a JSON-RPC error response (id-less unless the request's id is known)."""
        body = encode_message(error_response(error, request_id))
        await self.send_response(status, [_JSON, *headers], body, close=close)

    # ------------------------------------------------------------------ streamed responses

    async def send_stream(
        self,
        stream: ResponseStream,
        *,
        sse: bool,
        headers: HeaderList = (),
        preamble: bytes = b"",
        lazy: bool = True,
        on_gone: Callable[[], None] | None = None,
    ) -> None:
        """Write ``stream`` as the response: JSON if it ends with only a final answer, else an SSE stream.

        Args:
            sse: the client accepts ``text/event-stream``; otherwise only the final answer is sent, as JSON.
            headers: extra response headers.
            preamble: SSE bytes written right after the head (priming event, replayed events).
            lazy: wait for the first frame before choosing JSON or SSE; ``False`` starts SSE at once.
            on_gone: called once if the client leaves before the stream ends.
        """
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._watch, stream)
                try:
                    await self._write_stream(stream, sse, headers, preamble, lazy)
                except _Gone:
                    stream.detach()
                finally:
                    nursery.cancel_scope.cancel()
        finally:
            if stream.detached:
                self.must_close = True
                if on_gone is not None:
                    on_gone()

    async def _watch(self, stream: ResponseStream) -> None:
        """Detach ``stream`` when the client closes the connection."""
        h = self.h11
        while len(h.trailing_data[0]) <= self.config.max_pipeline_bytes:
            data = await self._receive()
            if not data:
                stream.detach()
                return
            h.receive_data(data)

    async def _write_stream(
        self, stream: ResponseStream, sse: bool, headers: HeaderList, preamble: bytes, lazy: bool
    ) -> None:
        if lazy or not sse:
            await stream.wait()
            while not sse and not stream.ended and not stream.detached:
                await stream.wait()  # not live: frames are dropped, only the end matters
            if stream.detached:
                return
            if stream.final is not None and (not sse or not stream.pending):
                body, _, status = stream.final
                await self.send_json(status, body, headers)
                return
            if not sse:  # ended without an answer (cancelled): nothing to say
                await self.send_response(202, headers)
                return
        h = self.h11
        await self._write(h.send(h11.Response(status_code=200, headers=[*_SSE_HEADERS, *headers], reason=b"OK")))
        if preamble:
            await self._write(h.send(h11.Data(data=preamble)))
        keepalive = self.config.sse_keepalive_interval
        while True:
            done = stream.ended
            data = stream.take()
            if done and stream.final is not None and not stream.final_frame:
                stream.final_frame = True
                data += stream.final[1]
            if data:
                await self._write(h.send(h11.Data(data=data)))
            if done or stream.detached:
                break
            with trio.move_on_after(keepalive) as timer:
                await stream.wait()
            if timer.cancelled_caught:
                await self._write(h.send(h11.Data(data=KEEPALIVE_FRAME)))
        if not stream.detached:
            await self._write(h.send(h11.EndOfMessage()))
