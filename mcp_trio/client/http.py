"""Streamable HTTP for the client: the ``Outlet`` that carries a client session over h11, both wire eras.

Theory of operation
-------------------
Every message is one POST. ``send`` of a request is the whole exchange: the answer (JSON, or an SSE stream of
notifications, server requests and finally the response) is handed to the driver as it arrives, so by the time
``send`` returns the request's waiter is resolved. Everything a server may send is bounded: heads by h11's
``max_incomplete_event_size``, bodies and events by ``max_message_size``.

* **2026-07-28**: each POST carries ``MCP-Protocol-Version`` and the routing headers (``Mcp-Method``,
  ``Mcp-Name``, ``Mcp-Param-*`` for tool arguments whose schema says ``x-mcp-header``, learned from
  ``tools/list``). Closing the response is the cancel: a cancelled exchange drops its connection and nothing
  more is sent.
* **Legacy**: the ``Mcp-Session-Id`` minted by ``initialize`` goes on every later request, with the negotiated
  ``MCP-Protocol-Version``. A response stream that ends before its answer is resumed with a GET carrying
  ``Last-Event-ID``, after the server's ``retry:`` delay, a bounded number of times; the ended stream's connection
  is released first, so the resume waits its turn like any caller (never for a slot its own call holds). The
  standalone GET stream (server notifications and requests outside any call) runs as one task when
  ``ClientConfig.standalone_stream`` is on, on a connection of its own outside the pool; a 405 ends it quietly.
  Closing sends DELETE. A 404 for our session means the server ended it: the session closes and its waiters fail.
* Connections are pooled: at most ``max_connections`` per client; callers beyond that wait in arrival order and
  each released connection (or the slot of a closed one) goes to the longest waiting one, so no caller starves
  while newcomers take the idle connections. A connection goes back to the pool only when both h11 sides are
  ``DONE`` with nothing unread; one that says ``Connection: close``, broke or failed in any way is closed. An
  idle connection the server closed (normal HTTP/1.1: keep-alive timeouts) is found readable when taken and is
  dropped before anything is sent on it. A connection that breaks before the request is wholly written is
  replaced and the request sent once more (the server cannot have acted on part of one); one that breaks after
  it, before any answer, is replaced and the request sent again only when it is idempotent by design (a
  listing, a read, a ping, a cancel, DELETE). Anything else, ``tools/call`` above all, may have run: it fails with
  ``HttpConnectionError`` (a ``ConnectionError``) and the session carries on. TLS (``https://``) uses the standard
  library's defaults.
* An error status with a JSON-RPC error body answers the request with that error; any other is turned into one
  that names the status.
"""

from __future__ import annotations

import contextlib
import logging
import select
import ssl
from collections import deque
from typing import TYPE_CHECKING, Any, Final, Protocol
from urllib.parse import urlsplit

import h11
import msgspec
import trio

from mcp_trio.client.sse import SseParser
from mcp_trio.protocol.errors import DECODE_ERRORS, McpError
from mcp_trio.protocol.jsonrpc import ErrorObject, ErrorResponse, RequestId, decode_message
from mcp_trio.transports.http.headers import (
    LAST_EVENT_ID,
    MCP_PROTOCOL_VERSION,
    MCP_SESSION_ID,
    header_arguments,
    routing_headers,
)

if TYPE_CHECKING:
    from mcp_trio.client.config import ClientConfig
    from mcp_trio.client.driver import ClientDriver

__all__ = ["HttpOutlet", "HttpAuth", "HttpConnectionError", "HttpStatusError"]

logger: Final = logging.getLogger("mcp_trio.client")
_ACCEPT: Final = (b"accept", b"application/json, text/event-stream")
_JSON: Final = (b"content-type", b"application/json")
#: The JSON-RPC error code for an HTTP failure that carried no JSON-RPC error of its own.
_HTTP_FAILURE: Final = -32603
#: What a connection that broke or a server that misbehaved at the HTTP level raises.
_GONE: Final = (OSError, trio.BrokenResourceError, trio.ClosedResourceError, h11.ProtocolError)
#: Methods idempotent by protocol design (twice leaves the server as once: reads, listings, and notifications of a
#: state: a cancel for a request it no longer knows is ignored): sent again when their connection broke after
#: they went out. Anything else, ``tools/call`` above all, may have run and is never sent twice.
_SAFE: Final = frozenset(
    {
        "notifications/initialized",
        "notifications/roots/list_changed",
        "ping",
        "server/discover",
        "tools/list",
        "prompts/list",
        "prompts/get",
        "resources/list",
        "resources/templates/list",
        "resources/read",
        "completion/complete",
        "notifications/cancelled",
    }
)


class HttpAuth(Protocol):
    """How an HTTP client session authenticates (an OAuth provider, a static token).

    ``headers`` gives the credentials for one request (``Authorization: Bearer ...``). When the server answers
    401 or 403, ``unauthorized`` gets the status, the response headers (``www-authenticate`` names the resource
    metadata and scope) and the endpoint URL; it returns True once it has new credentials, and the request is
    sent once more. False (or a second refusal) fails the request with an error naming the status.
    """

    async def headers(self) -> list[tuple[bytes, bytes]]: ...

    async def unauthorized(self, status: int, headers: dict[str, str], url: str) -> bool: ...


class HttpStatusError(ConnectionError):
    """The server answered with an HTTP error that is not a JSON-RPC answer (a proxy, a wrong URL)."""


class HttpConnectionError(ConnectionError):
    """A connection failed during one exchange: it closed after the request went out and before the whole answer,
    or the server broke HTTP/1.1 framing. Only that request fails (the session goes on), and it is not sent
    again unless idempotent: the server may have acted on it."""


class _NotSent(HttpConnectionError):
    """The connection broke before the request was wholly written: the server cannot have acted on it."""


class _Unanswered(HttpConnectionError):
    """The connection broke after the request was written and before any byte of the answer."""


class _Peek(msgspec.Struct):
    """What the outlet needs of an outgoing message: its method and params (for headers), and its id."""

    method: str | None = None
    id: Any = None
    params: Any = None


_peek: Final = msgspec.json.Decoder(_Peek)


class _Connection:
    """One HTTP/1.1 connection and its h11 state."""

    __slots__ = ("h11", "stream")

    def __init__(self, stream: trio.abc.Stream, max_head: int) -> None:
        self.stream = stream
        self.h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=max_head)


class _Turn:
    """A caller waiting for a connection: ``handed`` a released connection, or ``None`` and the slot of a closed
    one to open a new connection in."""

    __slots__ = ("connection", "event", "handed")

    def __init__(self) -> None:
        self.event = trio.Event()
        self.connection: _Connection | None = None
        self.handed = False


class HttpOutlet:
    """A client session's ``Outlet`` over Streamable HTTP (see the module docstring).

    Args:
        url: the MCP endpoint (``http://host:port/mcp``).
        driver: the client session it carries.
        config: limits.
        nursery: the client's (the standalone stream and answers to server requests run there).
        headers: extra headers on every request (``Authorization``...).
    """

    def __init__(
        self, url: str, driver: ClientDriver, config: ClientConfig, nursery: trio.Nursery, headers: dict[str, str]
    ) -> None:
        self.url = url
        #: Credentials for every request, refreshed on 401/403 (``HttpAuth``; OAuth lives in ``client.auth``).
        self.auth: HttpAuth | None = None
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http:// or https:// URL: {url!r}")
        self.tls = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port or (443 if self.tls else 80)
        default_port = 443 if self.tls else 80
        authority = f"[{self.host}]" if ":" in self.host else self.host
        self.authority = authority if self.port == default_port else f"{authority}:{self.port}"
        self.target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.driver = driver
        self.config = config
        self.nursery = nursery
        self.extra = [(name.lower().encode("ascii"), value.encode("latin-1")) for name, value in headers.items()]
        self.session_id: str | None = None
        #: tools/call arguments that travel as headers too: tool -> argument -> header suffix (from tools/list).
        self.header_arguments: dict[str, dict[str, str]] = {}
        self._idle: list[_Connection] = []  # the most recently used last
        self._open = 0  # connections open or being opened, idle ones included (at most max_connections)
        self._queue: deque[_Turn] = deque()  # callers waiting for a connection, in arrival order
        self._standalone = False
        self._closed = False

    @property
    def cancels_by_closing(self) -> bool:
        """On the 2026-07-28 wire closing a request's response is its cancel (no notification is sent)."""
        return self.driver.session.modern

    def learn_tools(self, tools: list[Any]) -> set[str]:
        """Remember which tool arguments must also travel as ``Mcp-Param-*`` headers (their ``x-mcp-header``);
        returns the names of tools whose annotations are invalid, which a client must not use (SEP-2243)."""
        invalid: set[str] = set()
        for tool in tools:
            try:
                found = header_arguments(tool.input_schema)
            except ValueError as error:
                logger.warning("tool %r left out: %s", tool.name, error)
                invalid.add(tool.name)
                found = {}
            if found:
                self.header_arguments[tool.name] = found
            else:
                self.header_arguments.pop(tool.name, None)
        return invalid

    # ------------------------------------------------------------------ the Outlet interface

    async def send(self, data: bytes, origin: RequestId | None) -> None:
        """POST one message; for a request, read its whole answer into the driver."""
        if self._closed:
            raise trio.ClosedResourceError("the client is closed")
        try:
            message = _peek.decode(data)
        except DECODE_ERRORS:
            message = _Peek()
        headers = self._headers(message)
        await self._exchange(b"POST", headers, data, origin, safe=message.method in _SAFE)
        if message.method == "notifications/initialized" and self.config.standalone_stream and not self._standalone:
            self._standalone = True
            await self.nursery.start(self._listen)

    async def answer(self, request_id: RequestId, data: bytes, status: int) -> None:
        await self.send(data, None)

    def done(self, request_id: RequestId) -> None:
        pass

    async def close_stream(self, origin: RequestId, retry_ms: int | None) -> bool:
        await trio.lowlevel.checkpoint()
        return False

    async def aclose(self) -> None:
        """End the session (legacy: DELETE) and close every connection."""
        if self._closed:
            return
        session_id = self.session_id
        if session_id is not None and not self.driver.session.modern:
            deadline = trio.move_on_after(self.config.close_timeout)
            with trio.CancelScope(shield=True), deadline, contextlib.suppress(*_GONE, ValueError):
                await self._exchange(b"DELETE", self._base_headers(), b"", None, safe=True)
        self._closed = True
        idle, self._idle = self._idle, []
        for connection in idle:
            await _close(connection)

    # ------------------------------------------------------------------ requests

    def _base_headers(self) -> list[tuple[bytes, bytes]]:
        headers = [(b"host", self.authority.encode("ascii")), *self.extra]
        session = self.driver.session
        if session.version is not None and (session.modern or session.server_info is not None):
            headers.append((MCP_PROTOCOL_VERSION.encode(), session.version.encode("ascii")))
        if self.session_id is not None and not session.modern:
            headers.append((MCP_SESSION_ID.encode(), self.session_id.encode("ascii")))
        return headers

    def _headers(self, message: _Peek) -> list[tuple[bytes, bytes]]:
        headers = self._base_headers()
        headers.append(_ACCEPT)
        headers.append(_JSON)
        if self.driver.session.modern and message.method is not None:
            params = message.params if isinstance(message.params, dict) else None
            name = params.get("name") if params is not None and message.method == "tools/call" else None
            extra = self.header_arguments.get(name) if isinstance(name, str) else None
            for header, value in routing_headers(message.method, params, extra):
                headers.append((header.encode("ascii"), value.encode("ascii")))
        return headers

    async def _exchange(
        self, method: bytes, headers: list[tuple[bytes, bytes]], body: bytes, origin: RequestId | None, *, safe: bool
    ) -> None:
        """One request on a pooled connection, its answer into the driver. A connection that breaks before the
        request is wholly written is replaced and the request sent once more; after that, only a ``safe``
        (idempotent) request is: any other may have run, and fails with ``HttpConnectionError``."""
        retried_connection = retried_auth = False
        connection = await self._acquire()
        reusable = False
        resume: SseParser | None = None
        try:
            try:
                while True:
                    sent = headers if self.auth is None else [*headers, *await self.auth.headers()]
                    try:
                        response = await self._request(connection, method, sent, body)
                    except HttpConnectionError as error:
                        if retried_connection or not (safe or isinstance(error, _NotSent)):
                            raise
                        retried_connection = True
                        connection = await self._renew(connection)
                        continue
                    status = response.status_code
                    # Closing (DELETE) never starts an authorization: the session is ending anyway.
                    if status in (401, 403) and self.auth is not None and not retried_auth and method != b"DELETE":
                        await self._body(connection)
                        if await self.auth.unauthorized(status, _header_map(response), self.url):
                            retried_auth = True
                            if not _recycle(connection):
                                connection = await self._renew(connection)
                            continue  # new credentials: once more
                        reusable = True
                        await self._deliver_failure_now(status, origin)
                        return
                    reusable, resume = await self._read(connection, response, origin, method)
                    break
            finally:
                await self._release(connection, reusable)
            if resume is not None and origin is not None:
                # Only now, the dead stream's slot given back: a resume waiting for a connection while its call held
                # one could wait forever once every slot was held that way.
                await self._resume(origin, resume)
        except h11.RemoteProtocolError as error:
            raise HttpConnectionError(f"the server broke HTTP/1.1: {error}") from error

    async def _request(
        self, connection: _Connection, method: bytes, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> h11.Response:
        """Write one request and read its response head."""
        h = connection.h11
        out = h.send(h11.Request(method=method, target=self.target, headers=[*headers, _length(body)])) or b""
        if body:
            out += h.send(h11.Data(data=body)) or b""
        out += h.send(h11.EndOfMessage()) or b""
        try:
            await connection.stream.send_all(out)
        except (trio.BrokenResourceError, OSError) as error:
            raise _NotSent(f"the connection broke before the request was written: {error}") from error
        return await self._response(connection)

    async def _deliver_failure_now(self, status: int, origin: RequestId | None) -> None:
        await trio.lowlevel.checkpoint()
        self._fail(origin, _HTTP_FAILURE, f"HTTP {status} from the server: not authorized")

    async def _read(
        self, connection: _Connection, response: h11.Response, origin: RequestId | None, method: bytes
    ) -> tuple[bool, SseParser | None]:
        """Hand the response's messages to the driver; whether the connection can be reused, and the parser of a
        legacy stream that ended before its answer (resumed by the caller once the connection is released)."""
        status = response.status_code
        headers = _header_map(response)
        session_id = headers.get(MCP_SESSION_ID)
        if session_id is not None and not self.driver.session.modern and self.session_id is None:
            if not (session_id.isascii() and session_id.isprintable() and session_id and " " not in session_id):
                raise HttpStatusError("the server sent an invalid Mcp-Session-Id")
            self.session_id = session_id
        content_type = headers.get("content-type", "").partition(";")[0].strip().lower()
        if status == 200 and content_type == "text/event-stream":
            parser = SseParser(self.config.max_message_size)
            answered = await self._events(connection, origin, parser)
            resume = not answered and origin is not None and not self.driver.session.modern
            # The server ends a stream by closing or with the last chunk: the connection is never reused mid-stream.
            return False, parser if resume else None
        body = await self._body(connection)
        if method == b"DELETE" or (origin is None and 200 <= status < 300):
            return True, None
        if 200 <= status < 300 and content_type == "application/json":
            self._deliver_body(body, origin)
            return True, None
        if status == 202 and origin is None:
            return True, None
        self._deliver_failure(status, body, origin)
        return True, None

    def _deliver_body(self, body: bytes, origin: RequestId | None) -> None:
        try:
            message = decode_message(body)
        except McpError as error:
            self._fail(origin, _HTTP_FAILURE, f"the server's answer is not JSON-RPC: {error.message}")
            return
        for one in message if isinstance(message, list) else [message]:
            if isinstance(one, McpError):
                continue
            self._deliver(one)

    def _deliver_failure(self, status: int, body: bytes, origin: RequestId | None) -> None:
        """An HTTP error: its JSON-RPC error if it carries one, else an error naming the status."""
        try:
            message = decode_message(body) if body else None
        except McpError:
            message = None
        if isinstance(message, ErrorResponse) and origin is not None:
            self._deliver(ErrorResponse(origin, message.error))
        elif origin is not None:
            self._fail(origin, _HTTP_FAILURE, f"HTTP {status} from the server")
        if status == 404 and self.session_id is not None and not self.driver.session.modern:
            from mcp_trio.client.driver import ConnectionClosed

            self.driver.close(ConnectionClosed("the server ended the session (HTTP 404); open a new client"))

    def _fail(self, origin: RequestId | None, code: int, text: str) -> None:
        if origin is not None:
            self._deliver(ErrorResponse(origin, ErrorObject(code, text)))

    def _deliver(self, message: Any) -> None:
        reply = self.driver.receive(message)
        if reply.__class__ is bytes:  # an immediate answer (a server ping): it goes back as its own POST
            self.nursery.start_soon(self._send_quietly, reply)

    async def _send_quietly(self, data: bytes) -> None:
        with contextlib.suppress(*_GONE):
            await self.send(data, None)

    # ------------------------------------------------------------------ server-sent events

    async def _events(self, connection: _Connection, origin: RequestId | None, parser: SseParser) -> bool:
        """Deliver a stream's messages until it ends, or until ``origin`` is answered (whichever stream the
        answer came on: a server may send it on the standalone stream); whether it was answered."""
        if origin is not None and self.driver.answered(origin):
            return True
        while (chunk := await self._next_chunk(connection)) is not None:
            try:
                events = parser.feed(chunk)
            except ValueError as error:
                self._fail(origin, _HTTP_FAILURE, str(error))
                return True
            for event in events:
                if event.event != "message" or not event.data:
                    continue
                try:
                    message = decode_message(event.data.encode("utf-8"))
                except McpError:
                    continue
                if isinstance(message, list):
                    continue
                self._deliver(message)
                if origin is not None and self.driver.answered(origin):
                    return True
        return origin is not None and self.driver.answered(origin)

    async def _resume(self, origin: RequestId, parser: SseParser) -> None:
        """Legacy: the stream ended before its answer; resume it with ``Last-Event-ID`` (SEP-1699)."""
        for _ in range(self.config.max_resumes):
            if parser.last_id is None:
                break
            await trio.sleep((parser.retry_ms if parser.retry_ms is not None else 1000) / 1000)
            if self.driver.answered(origin):
                return  # the answer came another way meanwhile (the standalone stream)
            connection = await self._acquire()
            try:
                response = await self._get(connection, parser)
                if response.status_code != 200:
                    await self._body(connection)
                    break
                if await self._events(connection, origin, parser):
                    return
            finally:
                await self._release(connection, False)
        self._fail(origin, _HTTP_FAILURE, "the server's response stream ended before the answer")

    async def _listen(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Legacy: the standalone GET stream, reconnected after ``retry:`` with ``Last-Event-ID`` while the server
        keeps it (405: the server has none). Started once its first answer arrived, so the session's next request
        never races the stream's opening."""
        failures = 0
        parser = SseParser(self.config.max_message_size)
        started = False
        try:
            while not self._closed and not self.driver.closed and failures < self.config.max_resumes:
                try:
                    # A connection of its own, outside the pool: a stream that lasts the whole session must not
                    # hold one of the request slots (with max_connections=1 no request could ever be sent).
                    connection = await self._connect()
                except OSError:
                    return
                try:
                    response = await self._get(connection, parser)
                    if not started:
                        started = True
                        task_status.started()
                    if response.status_code != 200:
                        await self._body(connection)
                        return
                    failures = 0
                    await self._events(connection, None, parser)
                except _GONE:
                    failures += 1
                finally:
                    await _close(connection)
                await trio.sleep((parser.retry_ms if parser.retry_ms is not None else 1000) / 1000)
        finally:
            if not started:
                task_status.started()

    async def _get(self, connection: _Connection, parser: SseParser) -> h11.Response:
        """Open an SSE stream with GET, resuming after ``parser``'s last event id if it has one."""
        headers = [*self._base_headers(), (b"accept", b"text/event-stream")]
        if parser.last_id is not None:
            headers.append((LAST_EVENT_ID.encode(), parser.last_id.encode("utf-8")))
        if self.auth is not None:
            headers += await self.auth.headers()  # every request carries the credentials, GET included
        h = connection.h11
        request = h.send(h11.Request(method=b"GET", target=self.target, headers=headers)) or b""
        await connection.stream.send_all(request + (h.send(h11.EndOfMessage()) or b""))
        return await self._response(connection)

    # ------------------------------------------------------------------ connections and bounded reads

    async def _acquire(self) -> _Connection:
        """The most recently used sound idle connection, else a new one while fewer than ``max_connections`` are
        open, else the next one released (or the slot of one closed), in arrival order. Idle connections the
        server closed meanwhile are dropped here, before anything is sent on them."""
        while self._idle:
            connection = self._idle.pop()
            if not _readable(connection.stream):
                return connection
            self._open -= 1
            await _close(connection)
        if self._open < self.config.max_connections:
            self._open += 1
            return await self._open_in_slot()
        turn = _Turn()
        self._queue.append(turn)
        try:
            await turn.event.wait()
        except BaseException:
            if turn.handed:
                self._hand_back(turn.connection)  # given just as we left: it goes to the next caller
            else:
                self._queue.remove(turn)
            raise
        handed = turn.connection
        if handed is not None:
            if not _readable(handed.stream):
                return handed
            await _close(handed)
        return await self._open_in_slot()

    async def _open_in_slot(self) -> _Connection:
        """A new connection in a slot this caller holds; the slot goes on to the next caller if it fails."""
        try:
            return await self._connect()
        except BaseException:
            self._hand_back(None)
            raise

    async def _connect(self) -> _Connection:
        if self.tls:
            context = ssl.create_default_context()
            tcp = await trio.open_tcp_stream(self.host, self.port, local_address=self.config.local_address)
            stream: trio.abc.Stream = trio.SSLStream(tcp, context, server_hostname=self.host, https_compatible=True)
        else:
            stream = await trio.open_tcp_stream(self.host, self.port, local_address=self.config.local_address)
        return _Connection(stream, self.config.max_head_bytes)

    async def _renew(self, connection: _Connection) -> _Connection:
        """Close a connection that cannot carry the next request and open a new one in its slot. If that fails,
        the caller still holds the closed one, and releasing it frees the slot."""
        await _close(connection)
        return await self._connect()

    def _hand_back(self, connection: _Connection | None) -> None:
        """A connection came free (or, ``None``, the slot of a closed one): the longest waiting caller gets it,
        else it idles (or the slot is freed)."""
        if self._queue:
            turn = self._queue.popleft()
            turn.connection = connection
            turn.handed = True
            turn.event.set()
        elif connection is not None:
            self._idle.append(connection)
        else:
            self._open -= 1

    async def _release(self, connection: _Connection, reusable: bool) -> None:
        if reusable and not self._closed and _recycle(connection):
            self._hand_back(connection)
            return
        self._hand_back(None)
        await _close(connection)

    async def _next_event(self, connection: _Connection) -> Any:
        h = connection.h11
        while True:
            event = h.next_event()
            if event is h11.NEED_DATA:
                data = await connection.stream.receive_some(self.config.receive_size)
                h.receive_data(bytes(data))
                continue
            return event

    async def _response(self, connection: _Connection) -> h11.Response:
        """The response head. A connection that ends (or breaks) before its first byte raises ``_Unanswered``."""
        h = connection.h11
        started = False
        while True:
            event = h.next_event()
            if event is h11.NEED_DATA:
                try:
                    data = await connection.stream.receive_some(self.config.receive_size)
                except (trio.BrokenResourceError, OSError) as error:
                    if started:
                        raise
                    raise _Unanswered(f"the connection broke before the server answered: {error}") from error
                if not data and not started:
                    raise _Unanswered("the server closed the connection before answering")
                started = True
                h.receive_data(bytes(data))
                continue
            if isinstance(event, h11.Response):
                return event
            if isinstance(event, h11.ConnectionClosed):
                raise _Unanswered("the server closed the connection before answering")
            if not isinstance(event, h11.InformationalResponse):
                raise h11.RemoteProtocolError(f"unexpected {type(event).__name__} before the response")

    async def _next_chunk(self, connection: _Connection) -> bytes | None:
        """The next piece of the response body; ``None`` at its end."""
        while True:
            event = await self._next_event(connection)
            if isinstance(event, h11.Data):
                return bytes(event.data)
            if isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                return None

    async def _body(self, connection: _Connection) -> bytes:
        limit = self.config.max_message_size
        chunks: list[bytes] = []
        size = 0
        while (chunk := await self._next_chunk(connection)) is not None:
            size += len(chunk)
            if size > limit:
                raise HttpStatusError(f"a response body over {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)


def _recycle(connection: _Connection) -> bool:
    """Ready a connection for its next exchange, only when both sides finished this one cleanly and nothing more
    arrived (bytes after a response would be read as the next one's answer); whether it was."""
    h = connection.h11
    if h.our_state is h11.DONE and h.their_state is h11.DONE and h.trailing_data == (b"", False):
        h.start_next_cycle()
        return True
    return False


def _readable(stream: trio.abc.Stream) -> bool:
    """Whether an idle connection has something to read: the server closed or reset it (or sent bytes outside any
    exchange). Either way it must carry no request: one sent into a closing connection may or may not be read."""
    if isinstance(stream, trio.SSLStream):
        stream = stream.transport_stream
    if not isinstance(stream, trio.SocketStream):
        return False
    fd = stream.socket.fileno()
    if fd < 0:
        return True
    if hasattr(select, "poll"):  # select.select is limited to descriptors below FD_SETSIZE
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        return bool(poller.poll(0))
    return bool(select.select([fd], [], [], 0)[0])


async def _close(connection: _Connection) -> None:
    with trio.CancelScope(shield=True), contextlib.suppress(*_GONE):
        await connection.stream.aclose()


def _header_map(response: h11.Response) -> dict[str, str]:
    """A response's headers by lower-case name (h11 lower-cases them; a repeated one keeps its last value)."""
    return {name.decode("latin-1"): value.decode("latin-1") for name, value in response.headers}


def _length(body: bytes) -> tuple[bytes, bytes]:
    return (b"content-length", str(len(body)).encode("ascii"))
