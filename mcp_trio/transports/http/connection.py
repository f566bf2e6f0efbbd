"""One HTTP/1.1 connection served by one task: the per-connection actor (after hypercorn's ``tcp_server``).

Theory of operation
-------------------
An idle keep-alive connection is one task blocked in ``receive_some`` under the keep-alive timeout: no nursery,
no parser object, no buffer. Requests are served strictly one at a time; bytes of a pipelined next request wait
in the connection's buffer until the current response is complete, so pipelining is safe.

Each request head is read one of two ways (``request_head``): a plain head that is already complete in the
buffer is parsed by the strict fast path; anything else (a partial head, chunked or ``Expect`` bodies, HTTP/1.0,
anything malformed) goes to a fresh ``h11.Connection`` for that one exchange, which reads the head and body and
decides every error; its leftover bytes come back to the buffer when the request is read. Responses are written
by ``response_head`` for both, so they do not depend on how the request was read.

Reading is bounded in size and time: the head must arrive within ``header_timeout`` of its first byte (else 408),
the body within ``body_timeout`` and ``max_body_bytes`` (else 408 / 413). ``Expect: 100-continue`` is honoured
only when the body is actually wanted. A body left unread is skipped when it is already buffered, else the
connection closes after the response. Writes first try the kernel directly; one that blocks runs under
``write_timeout``, and a client that stops reading is dropped.

A streamed response (``send_stream``) has to notice a client that leaves, because an HTTP client says so only
by closing the connection, while the connection task writes the ``ResponseStream``. Under the runtime, the
socket joins the runtime's ``HangupWatch`` (one task for every such socket; pipelined input waits in the
kernel). Otherwise (an endpoint served without a runtime, a stream that is not a socket) the connection opens
a nursery with a second task that reads the socket, buffering at most ``max_pipeline_bytes`` of early pipelined
input before it stops reading. Either way the client's close detaches the stream and the caller decides what
that means (the modern wire cancels the request; the legacy wire keeps it running for a later resume).
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable, Sequence
from typing import Any, Final, Protocol

import h11
import trio

from mcp_trio.protocol.errors import InvalidRequest, McpError, MessageTooLarge
from mcp_trio.protocol.jsonrpc import encode_message, error_response
from mcp_trio.transports.hangups import HangupWatch
from mcp_trio.transports.http.config import HttpConfig
from mcp_trio.transports.http.headers import Headers
from mcp_trio.transports.http.idle import OpenConnections
from mcp_trio.transports.http.request_head import parse_plain_head
from mcp_trio.transports.http.response_head import CONTINUE, LAST_CHUNK, chunk, response_head
from mcp_trio.transports.http.sse import ResponseStream
from mcp_trio.transports.lean_socket import write_nowait
from mcp_trio.transports.port import Place

__all__ = ["HttpConnection", "HttpRequest", "RequestHandler", "HeaderList"]

logger: Final = logging.getLogger("mcp_trio.http")
HeaderList = Sequence[tuple[str, str]]
_JSON: Final = ("content-type", "application/json")
_SSE_HEADERS: Final = (
    ("content-type", "text/event-stream"),
    ("cache-control", "no-cache, no-transform"),
    ("x-accel-buffering", "no"),
)
_NOT_YET: Final = object()
#: Where the response of the current exchange stands.
_UNANSWERED: Final = 0
_STREAMING: Final = 1
_ANSWERED: Final = 2


def _head_size(event: h11.Request) -> int:
    """Bytes of a request head as sent (near enough: h11 drops only optional whitespace)."""
    return len(event.method) + len(event.target) + 12 + sum(len(n) + len(v) + 4 for n, v in event.headers)


class _Gone(Exception):
    """The client closed the connection or stopped reading."""


class HttpRequest:
    """A request head (the body is read on demand with ``HttpConnection.read_body``)."""

    __slots__ = ("headers", "method", "path", "query")

    def __init__(self, method: str, target: str, headers: Headers) -> None:
        self.method = method
        self.path, _, self.query = target.partition("?")
        self.headers = headers

    @classmethod
    def from_h11(cls, event: h11.Request) -> HttpRequest:
        method = event.method.decode("ascii", "replace").upper()
        return cls(method, event.target.decode("ascii", "replace"), Headers(event.headers))


class RequestHandler(Protocol):
    async def __call__(self, connection: HttpConnection, http: HttpRequest) -> None: ...


class Endpoint(RequestHandler, Protocol):
    """A request handler with the set of open connections it sweeps for idleness."""

    @property
    def connections(self) -> OpenConnections: ...

    @property
    def hangups(self) -> HangupWatch | None: ...


class HttpConnection:
    """The state of one connection (see the module docstring).

    Per exchange: ``_h11`` is the parser of a request that was not plain (``None`` on the fast path, where
    ``_body_left`` counts the declared body bytes not yet taken from ``_buffer``); ``_close`` says the client
    asked to close or cannot keep the connection (HTTP/1.0), ``_http10`` that streams must be close-delimited,
    ``_head`` that the request was ``HEAD`` (headers only), and ``_response`` where the answer stands.
    """

    __slots__ = (
        "_body_left",
        "_buffer",
        "_close",
        "_h11",
        "_head",
        "_http10",
        "_idle",
        "_limiter",
        "_response",
        "config",
        "handler",
        "id",
        "idle_since",
        "must_close",
        "place",
        "principal",
        "sse",
        "sse_written",
        "stream",
    )

    def __init__(
        self, stream: trio.abc.Stream, config: HttpConfig, handler: Endpoint, place: Place, connection_id: int
    ) -> None:
        self.stream = stream
        self.config = config
        self.handler = handler
        self.place = place  # the runtime shard this connection lives in (its requests run there)
        self.id = connection_id
        self.principal: str | None = None  # the authenticated client, once a request proved one
        self._limiter: Any = _NOT_YET
        self.must_close = False
        self._idle = trio.CancelScope()  # replaced by the one serve() runs in
        #: When the connection started waiting for its next request (``inf`` while it has one): the reaper
        #: (``idle.OpenConnections``) closes it once that is ``keep_alive_timeout`` ago.
        self.idle_since = math.inf
        #: The SSE stream being written, and when it was last written to: the reaper's sweep posts a keep-alive
        #: comment into a stream silent for ``sse_keepalive_interval`` (no timer per stream).
        self.sse: ResponseStream | None = None
        self.sse_written = 0.0
        self._buffer = b""
        self._h11: h11.Connection | None = None
        self._body_left = 0
        self._close = False
        self._http10 = False
        self._head = False
        self._response = _UNANSWERED

    def __repr__(self) -> str:
        return f"<http connection {self.id}>"

    @property
    def client(self) -> str | None:
        """The client identity for per-client rate limits: the authenticated principal, else the peer's address."""
        if self.principal is not None:
            return f"principal {self.principal}"
        sock = getattr(self.stream, "socket", None)
        try:
            peer = sock.getpeername() if sock is not None else None
        except OSError:
            return None
        return f"address {peer[0]}" if isinstance(peer, tuple) else None

    def limiter(self) -> Any:
        """This connection's rate limits for stateless requests (made on first use; ``None`` when none apply)."""
        limiter = self._limiter
        if limiter is _NOT_YET:
            limiter = self._limiter = self.place.limiter("connection", lambda: self.client)
        return limiter

    # ------------------------------------------------------------------ the request loop

    async def run(self) -> None:
        """Serve this connection as the connection's child task, then leave the endpoint and the shard."""
        connections = self.handler.connections
        connections.add(self)
        try:
            await self.serve(self.handler)
        finally:
            connections.discard(self)
            self.place.forget_connection(self.id)

    async def serve(self, handler: RequestHandler) -> None:
        """Serve requests until the client leaves, times out, or a response forbids reuse."""
        try:
            # Cancelled by close_idle() while waiting for a request: the connection then closes quietly.
            with trio.CancelScope() as self._idle:
                while True:
                    request = await self._next_request()
                    if request is None:
                        return
                    await handler(self, request)
                    if self.must_close or self._response != _ANSWERED or not self._settle_request():
                        return
        except _Gone:
            pass
        except Exception:  # the connection's top level: log, drop this connection, keep the server
            logger.exception("HTTP connection %d failed", self.id)
        finally:
            with trio.CancelScope(shield=True):
                await self.stream.aclose()

    def close_idle(self) -> None:
        """Close the connection if it is waiting for a request (it finishes any exchange in progress first)."""
        if self.idle_since != math.inf:
            self._idle.cancel()

    async def _receive(self) -> bytes:
        try:
            return bytes(await self.stream.receive_some(self.config.receive_size))
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return b""

    async def _next_event(self, h: h11.Connection) -> h11.Event | type[h11.PAUSED]:
        """The next h11 event, reading as needed (h11 caps what it buffers)."""
        while True:
            event = h.next_event()
            if event is h11.NEED_DATA:
                h.receive_data(await self._receive())
                continue
            return event  # type: ignore[return-value]

    async def _next_request(self) -> HttpRequest | None:
        config = self.config
        self._response = _UNANSWERED
        buffer = self._buffer
        if not buffer:
            self.idle_since = trio.current_time()
            try:
                buffer = await self._receive()
            finally:
                self.idle_since = math.inf  # a handler may run as long as it likes; only waits are timed
            if not buffer or self._idle.cancel_called:  # closed as idle just as a request arrived: still closed
                return None
        plain = parse_plain_head(buffer, config.max_header_bytes)
        if plain is not None:
            self._buffer = buffer[plain.size :]
            self._body_left = plain.content_length
            self._close = plain.close
            self._http10 = False
            self._head = plain.method == "HEAD"
            return HttpRequest(plain.method, plain.target, Headers.from_fields(plain.fields))
        return await self._next_h11_request(buffer)

    async def _next_h11_request(self, buffer: bytes) -> HttpRequest | None:
        """Read a request that is not plain (or not complete yet) with h11, which judges it."""
        config = self.config
        h = self._h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=config.max_header_bytes)
        self._buffer = b""
        self._body_left = 0
        h.receive_data(buffer)
        try:
            event: Any = h.next_event()  # usually the whole head is already here: no timer needed
            if event is h11.NEED_DATA:
                event = None
                with trio.move_on_after(config.header_timeout):
                    event = await self._next_event(h)
                if event is None:
                    await self._reject(408, InvalidRequest("request head not received in time"))
                    return None
        except h11.RemoteProtocolError as exc:
            await self._reject(exc.error_status_hint, InvalidRequest(f"bad HTTP request: {exc}"))
            return None
        if not isinstance(event, h11.Request):
            return None  # ConnectionClosed
        self._http10 = event.http_version != b"1.1"
        self._close = self._http10 or any(
            token.strip().lower() == b"close"
            for name, value in event.headers
            if name == b"connection"
            for token in value.split(b",")
        )
        self._head = event.method == b"HEAD"
        if _head_size(event) > config.max_header_bytes:  # h11 caps only heads still incomplete
            await self._reject(431, InvalidRequest(f"request head over {config.max_header_bytes} bytes"))
            return None
        return HttpRequest.from_h11(event)

    def _settle_request(self) -> bool:
        """Whether the request has been read to its end, skipping an unread body that is already buffered.

        No I/O: a body still on its way means the connection cannot be reused. Once an h11 exchange's request
        is complete, its leftover bytes move back to the buffer and the parser is dropped.
        """
        h = self._h11
        if h is None:
            left = self._body_left
            if left:
                if len(self._buffer) < left:
                    return False
                self._buffer = self._buffer[left:]
                self._body_left = 0
            return True
        try:
            while h.their_state is h11.SEND_BODY:
                if h.next_event() is h11.NEED_DATA:
                    return False
        except h11.RemoteProtocolError:
            return False
        if h.their_state is not h11.DONE and h.their_state is not h11.MUST_CLOSE:
            return False
        self._buffer = h.trailing_data[0]
        self._h11 = None
        return True

    async def _reject(self, status: int, error: McpError) -> None:
        """Answer a request we cannot read, then close; best effort (the client may be gone)."""
        if self._response != _UNANSWERED:
            return
        with contextlib.suppress(_Gone):
            await self.send_error(status, error, close=True)

    async def read_body(self) -> bytes | None:
        """The request body, or ``None`` after answering 408/413/400 (the connection then closes)."""
        h = self._h11
        if h is not None:
            return await self._read_h11_body(h)
        need = self._body_left
        buffer = self._buffer
        if len(buffer) >= need:  # the common case: the body came with the head
            self._buffer = buffer[need:]
            self._body_left = 0
            return buffer[:need]
        config = self.config
        if need > config.max_body_bytes:
            return await self._refuse_body(413)
        chunks = [buffer]
        size = len(buffer)
        with trio.move_on_after(config.body_timeout) as timer:
            while size < need:
                data = await self._receive()
                if not data:
                    raise _Gone
                chunks.append(data)
                size += len(data)
        if timer.cancelled_caught:
            return await self._refuse_body(408)
        data = b"".join(chunks)
        self._buffer = data[need:]
        self._body_left = 0
        return data[:need]

    async def _read_h11_body(self, h: h11.Connection) -> bytes | None:
        config = self.config
        limit = config.max_body_bytes
        if h.they_are_waiting_for_100_continue:
            await self._write(CONTINUE)
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
                    return await self._refuse_body(408)
                h.receive_data(data)
            elif isinstance(event, h11.Data):
                size += len(event.data)
                if size > limit:
                    return await self._refuse_body(413)
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                self._settle_request()
                return b"".join(chunks)
            else:
                raise _Gone

    async def _refuse_body(self, status: int) -> bytes | None:
        """Answer a body that is too large (413) or too slow (408), and close; ``None`` is ``read_body``'s answer."""
        if status == 413:
            error: McpError = MessageTooLarge(f"body over {self.config.max_body_bytes} bytes")
        else:
            error = InvalidRequest("request body not received in time")
        await self.send_error(status, error, close=True)
        return None

    def declared_length(self, request: HttpRequest) -> int | None:
        value = request.headers.get("content-length")
        return int(value) if value is not None and value.isascii() and value.isdigit() and len(value) < 19 else None

    # ------------------------------------------------------------------ writing

    async def _write(self, data: bytes) -> None:
        try:
            rest = write_nowait(self.stream, data)  # the common case: the kernel takes it all, no timer needed
            if not rest:
                return
            with trio.move_on_after(self.config.write_timeout):
                await self.stream.send_all(rest)
                return
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            self.must_close = True
            raise _Gone from None
        self.must_close = True
        raise _Gone

    def _closing(self, close: bool) -> bool:
        """Whether the connection closes after the response now starting (and mark it so)."""
        if close or self.must_close or self._close or not self._settle_request():
            self.must_close = True
            return True
        return False

    async def send_response(
        self, status: int, headers: HeaderList = (), body: bytes = b"", *, close: bool = False
    ) -> None:
        """A complete response. Closes afterwards if asked to, or if the request body was not read."""
        if self._response != _UNANSWERED:
            raise RuntimeError("this request has already been answered")
        head = response_head(status, headers, len(body), close=self._closing(close))
        self._response = _ANSWERED
        await self._write(head if self._head or not body else head + body)

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

    async def relay_from(self, upstream: trio.abc.ReceiveStream, chunk: int) -> None:
        """Write whatever ``upstream`` sends, unchanged, as this request's response, until it ends; the
        connection closes afterwards (``forward.relay``: another worker answers a session it holds)."""
        if self._response != _UNANSWERED:
            raise RuntimeError("this request has already been answered")
        self._response = _ANSWERED
        self.must_close = True
        while True:
            try:
                data = await upstream.receive_some(chunk)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return
            if not data:
                return
            await self._write(bytes(data))

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
        hangups = self.handler.hangups
        sock = getattr(self.stream, "socket", None)
        try:
            if hangups is not None and hangups.available and sock is not None:
                fd = sock.fileno()
                hangups.watch(fd, stream.detach)
                try:
                    await self._write_stream(stream, sse, headers, preamble, lazy)
                except _Gone:
                    stream.detach()
                finally:
                    hangups.unwatch(fd)
            else:
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
        """Detach ``stream`` when the client closes the connection; buffer a little early pipelined input."""
        limit = self.config.max_pipeline_bytes
        while True:
            h = self._h11
            if len(h.trailing_data[0] if h is not None else self._buffer) > limit:
                return  # stop reading: TCP pushes back until this response ends
            data = await self._receive()
            if not data:
                stream.detach()
                return
            if h is not None:
                h.receive_data(data)
            else:
                self._buffer += data

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
        # An HTTP/1.0 client cannot read chunks: its stream ends when the connection does.
        chunked = not self._http10
        head = response_head(200, [*_SSE_HEADERS, *headers], None, close=self._closing(not chunked), chunked=chunked)
        self._response = _STREAMING
        frame = chunk if chunked else bytes
        await self._write(head + frame(preamble) if preamble else head)
        self.sse, self.sse_written = stream, trio.current_time()
        try:
            while True:
                done = stream.ended
                data = stream.take()
                if done and stream.final is not None and not stream.final_frame:
                    stream.final_frame = True
                    data += stream.final[1]
                if data:
                    await self._write(frame(data))
                    self.sse_written = trio.current_time()
                if done or stream.detached:
                    break
                await stream.wait()
        finally:
            self.sse = None
        if not stream.detached:
            if chunked:
                await self._write(LAST_CHUNK)
            self._response = _ANSWERED
