"""One stream connection (stdio, TCP, Unix socket) served by one task.

Theory of operation
-------------------
An idle connection is one task blocked in ``receive_some`` plus three small objects (this one, its
``ServerSession`` and its ``LineFramer``): no channel, no nursery, no second task, no buffer. Work creates what
it needs and drops it when done:

* Requests whose handler is synchronous are answered inline by the reading task; every answer produced by one
  chunk of input goes out in a single write (coalescing).
* A request whose handler is a coroutine gets a task in the server's shared nursery and a ``CancelScope`` in a
  map created on first use (``notifications/cancelled`` and disconnects cancel it). At ``max_in_flight`` running
  requests the reader stops reading: TCP pushes back on the client, and nothing accepted is dropped.
* Output goes to one ``bytearray`` outbox; whichever task finds no flush in progress becomes the flusher, so
  writes are serialised without a lock or a writer task. Past ``max_outbox_bytes`` producers wait for the drain.
* A client that closes its sending side still gets the answers to what it sent (up to ``drain_timeout``).
"""

from __future__ import annotations

import inspect
import logging
from typing import TYPE_CHECKING, Any, Final

import msgspec
import trio

from mcp_trio.protocol.errors import InternalError, LocalProtocolError, McpError, RemoteError, ServerBusy
from mcp_trio.protocol.events import (
    Answered,
    CancelRequested,
    ErrorReceived,
    RequestReceived,
    ResponseReceived,
    SessionInitialized,
)
from mcp_trio.protocol.framing import NEED_DATA, LineFramer
from mcp_trio.protocol.jsonrpc import (
    Notification,
    Request,
    RequestId,
    decode_message,
    encode_message_into,
    error_response,
)
from mcp_trio.protocol.session import ServerSession
from mcp_trio.server.hub import PROMPTS, RESOURCES, TOOLS, Subscriber

if TYPE_CHECKING:
    from mcp_trio.server.server import Server

__all__ = ["ConnectionHandler", "StreamConnection"]

logger: Final = logging.getLogger("mcp_trio.connection")
_LIST_CHANGED: Final = frozenset({TOOLS, PROMPTS, RESOURCES})


class _Waiter:
    """A server-to-client request awaiting its answer."""

    __slots__ = ("event", "outcome")

    def __init__(self) -> None:
        self.event = trio.Event()
        self.outcome: ResponseReceived | ErrorReceived | None = None


class ConnectionHandler:
    """What stream transports drive: ``await handler.serve(stream, nursery)`` for each connection."""

    __slots__ = ("server",)

    def __init__(self, server: Server) -> None:
        self.server = server

    async def serve(self, stream: trio.abc.Stream, nursery: trio.Nursery) -> None:
        """Serve one connection until the peer leaves; request tasks run in ``nursery``."""
        await StreamConnection(self.server, stream, nursery).run()


class StreamConnection:
    """The state of one stream connection (see the module docstring)."""

    __slots__ = (
        "_drained",
        "_eof",
        "_held",
        "_slot_free",
        "closed",
        "flushing",
        "framer",
        "nursery",
        "outbox",
        "server",
        "session",
        "stream",
        "subscriber",
        "tasks",
        "waiters",
    )

    def __init__(self, server: Server, stream: trio.abc.Stream, nursery: trio.Nursery) -> None:
        self.server = server
        self.stream = stream
        self.nursery = nursery
        self.session = ServerSession(server.profile)
        self.framer = LineFramer(server.config.max_message_size)
        self.outbox: bytearray | None = None
        self.flushing = False
        self.closed = False
        self.tasks: dict[RequestId, trio.CancelScope] | None = None
        self.waiters: dict[RequestId, _Waiter] | None = None
        self.subscriber: Subscriber | None = None
        self._slot_free: trio.Event | None = None
        self._drained: trio.Event | None = None
        self._held: Any = None  # a request waiting for a free in-flight slot (at most one)
        self._eof = False

    # ------------------------------------------------------------------ reading

    async def run(self) -> None:
        config = self.server.config
        try:
            while True:
                self._feed()
                if self.outbox:
                    await self.flush()
                if self.closed:
                    break
                if self._held is not None:
                    # At the in-flight limit: stop reading (TCP pushes back) until a request finishes, or
                    # until a handler waits on the client, whose answer must then be read (see _feed).
                    self._slot_free = trio.Event()
                    await self._slot_free.wait()
                    continue
                if self._eof:
                    await self._drain_requests(config.drain_timeout)
                    break
                try:
                    data = await self.stream.receive_some(config.receive_size)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    break
                if data:
                    self.framer.receive_data(bytes(data))
                else:
                    self.framer.receive_data(b"")
                    self._eof = True
        finally:
            await self._close()

    def _at_limit(self) -> bool:
        return self.tasks is not None and len(self.tasks) >= self.server.config.max_in_flight

    def _feed(self) -> None:
        """Process buffered messages until input runs out or a request must wait for a free slot.

        A request that finds the connection at ``max_in_flight`` is held (one message, bounded) and reading
        pauses. If a running handler is waiting on the client meanwhile, pausing would deadlock (its answer is
        behind the held request), so the held request is refused with ``ServerBusy`` and reading goes on.
        """
        framer = self.framer
        session = self.session
        while True:
            message = self._held
            if message is None:
                try:
                    line = framer.next_message()
                except McpError as error:
                    self._post(session.reject(error).message)
                    continue
                if line is NEED_DATA:
                    return
                try:
                    message = decode_message(line)  # type: ignore[arg-type]
                except McpError as error:
                    self._post(session.reject(error).message)
                    continue
                if isinstance(message, list):
                    self._feed_batch(message)
                    continue
            if type(message) is Request and self._at_limit():
                if not self.waiters:
                    self._held = message
                    return
                busy = ServerBusy(f"{self.server.config.max_in_flight} requests already in progress on this connection")
                self._post(error_response(busy, message.id))
                self._held = None
                continue
            self._held = None
            self._handle(message)

    def _feed_batch(self, batch: list[Any]) -> None:
        from mcp_trio.protocol.errors import InvalidRequest

        if not self.session.batches_allowed:
            self._post(self.session.reject(InvalidRequest("JSON-RPC batches are only part of 2025-03-26")).message)
            return
        for member in batch:
            if isinstance(member, McpError):
                self._post(self.session.reject(member).message)
            else:
                self._handle(member)

    def _handle(self, message: Any) -> None:
        event = self.session.receive(message)
        kind = type(event)
        if kind is RequestReceived:
            self._start_request(event)  # type: ignore[arg-type]
        elif kind is Answered:
            self._post(event.message)  # type: ignore[union-attr]
        elif kind is CancelRequested:
            scope = self.tasks.get(event.id) if self.tasks is not None else None  # type: ignore[union-attr]
            if scope is not None:
                scope.cancel()
        elif kind is ResponseReceived or kind is ErrorReceived:
            waiter = self.waiters.pop(event.id, None) if self.waiters is not None else None  # type: ignore[union-attr]
            if waiter is not None:
                waiter.outcome = event  # type: ignore[assignment]
                waiter.event.set()
        elif kind is SessionInitialized:
            self._subscribe()

    def _start_request(self, event: RequestReceived) -> None:
        session = self.session
        try:
            result = self.server.dispatcher.dispatch(session, self, event)
        except McpError as error:
            answer: Any = session.respond_error(event.id, error)
        except Exception:
            logger.exception("handler for %s failed", event.method)
            answer = session.respond_error(event.id, InternalError("internal error"))
        else:
            if inspect.iscoroutine(result):
                if self.tasks is None:
                    self.tasks = {}
                scope = self.tasks[event.id] = trio.CancelScope()
                self.nursery.start_soon(self._run_request, event, result, scope)
                return
            answer = session.respond(event.id, result)
        if answer is not None:
            self._post(answer)

    async def _run_request(self, event: RequestReceived, work: Any, scope: trio.CancelScope) -> None:
        outcome: Any = None
        try:
            with scope:
                try:
                    outcome = ("result", await work)
                except McpError as error:
                    outcome = ("error", error)
                except Exception:
                    logger.exception("handler for %s failed", event.method)
                    outcome = ("error", InternalError("internal error"))
            # Post the answer before the slot is released: a draining reader must find it in the outbox.
            if not self.closed:
                session = self.session
                if outcome is None:  # cancelled by the client: no answer is due
                    session.forget(event.id)
                else:
                    kind, value = outcome
                    answer = (
                        session.respond(event.id, value) if kind == "result" else session.respond_error(event.id, value)
                    )
                    if answer is not None:
                        self._post(answer)
        finally:
            tasks = self.tasks
            if tasks is not None:
                tasks.pop(event.id, None)
                if not tasks:
                    self.tasks = None
            self._wake_reader()
        if self.outbox and not self.closed:
            await self.flush()

    def _wake_reader(self) -> None:
        if self._slot_free is not None:
            self._slot_free.set()

    async def _drain_requests(self, seconds: float) -> None:
        with trio.move_on_after(seconds):
            while self.tasks is not None:
                self._slot_free = trio.Event()
                await self._slot_free.wait()

    # ------------------------------------------------------------------ writing

    def _post(self, message: Any) -> None:
        if self.closed:
            return
        if self.outbox is None:
            self.outbox = bytearray()
        encode_message_into(message, self.outbox)

    async def flush(self) -> None:
        """Write the outbox; if another task is writing, wait only when the outbox is over its limit."""
        if self.flushing:
            if self.outbox is not None and len(self.outbox) > self.server.config.max_outbox_bytes:
                if self._drained is None:
                    self._drained = trio.Event()
                await self._drained.wait()
            return
        self.flushing = True
        try:
            while not self.closed:
                self._collect_notifications()
                if not self.outbox:
                    break
                data, self.outbox = self.outbox, None
                await self.stream.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            self.closed = True
            self.outbox = None
        finally:
            self.flushing = False
            if self._drained is not None:
                self._drained.set()
                self._drained = None

    # ------------------------------------------------------------------ the Peer interface for handlers

    async def send(self, message: Notification | Request) -> None:
        self._post(message)
        await self.flush()

    async def close_stream(self, retry_ms: int | None = None) -> bool:
        return False  # a byte stream has no resumable response streams

    async def ask(self, request: Request) -> Any:
        if self.waiters is None:
            self.waiters = {}
        waiter = self.waiters[request.id] = _Waiter()
        self._wake_reader()  # a reader paused at the in-flight limit must now read the client's answer
        try:
            await self.send(request)
            await waiter.event.wait()
        finally:
            if waiter.outcome is None:
                if self.waiters is not None:
                    self.waiters.pop(request.id, None)
                cancel = self.session.forget_request(request.id, "the server stopped waiting")
                if cancel is not None and not self.closed:
                    self._post(cancel)
                    if not self.flushing:
                        self.nursery.start_soon(self.flush)  # this task is being cancelled: write from another
            if self.waiters is not None and not self.waiters:
                self.waiters = None
        outcome = waiter.outcome
        if outcome is None:
            raise trio.BrokenResourceError("the connection closed before the client answered")
        if isinstance(outcome, ErrorReceived):
            raise RemoteError(outcome.error.code, outcome.error.message, outcome.error.data)
        return outcome.result

    # ------------------------------------------------------------------ server notifications

    def _subscribe(self) -> None:
        self.subscriber = Subscriber(_LIST_CHANGED, wake=self._wake)
        self.server.hub.add(self.subscriber)

    def _wake(self) -> None:
        """A server notification is pending: posting never blocks, so a task of its own writes it.

        If a flush is under way, its loop collects the notification before it ends.
        """
        if not self.closed and not self.flushing:
            self.nursery.start_soon(self.flush)

    def _collect_notifications(self) -> None:
        subscriber = self.subscriber
        if subscriber is None or not subscriber.pending:
            return
        for method, uri in subscriber.take():
            params = {"uri": uri} if uri is not None else msgspec.UNSET
            try:
                notification = self.session.notify(method, params)
            except LocalProtocolError:
                continue  # not among the capabilities this session negotiated (the server changed since)
            self._post(notification)

    # ------------------------------------------------------------------ closing

    async def _finish_writes(self) -> None:
        """Let a flush under way finish, then write what is left (answers posted before closing go out)."""
        while self.flushing:
            if self._drained is None:
                self._drained = trio.Event()
            await self._drained.wait()
        await self.flush()

    async def _close(self) -> None:
        with trio.CancelScope(shield=True), trio.move_on_after(self.server.config.close_timeout):
            await self._finish_writes()
        self.closed = True
        if self.subscriber is not None:
            self.server.hub.remove(self.subscriber)
            self.subscriber.wake = None  # break the connection <-> subscriber cycle
            self.subscriber = None
        if self.tasks is not None:
            for scope in self.tasks.values():
                scope.cancel()
        if self.waiters is not None:
            for waiter in self.waiters.values():
                waiter.event.set()
        self.session.close()
        with trio.CancelScope(shield=True):
            await self.stream.aclose()
