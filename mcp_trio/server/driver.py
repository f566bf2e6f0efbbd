"""The session driver: one MCP session's logic, written once for every framing.

Theory of operation
-------------------
A framing (``transports/stream.py``, the Streamable HTTP endpoint, later WebSocket) decodes messages and hands
them to ``SessionDriver.receive``; everything the session sends goes out through the framing's ``Outlet``
(``transports/port.py``). Between the two, this module is the only place that:

* feeds the sans-IO ``ServerSession`` and acts on its events;
* runs requests: a handler that answers synchronously is answered inline (no task, no scope, no context); a
  coroutine becomes a temporary child of the shard's ``requests`` supervisor, whose handle is also the
  request's cancel scope (``notifications/cancelled`` and a vanished client cancel it);
* maps what a handler raises to the answer: ``error_from_exception`` is the only mapping, and *anything* a
  handler raises ends that request only (``BaseException`` subclasses, exception groups, exceptions whose
  ``str()`` fails) except ``KeyboardInterrupt``, ``SystemExit`` and its own cancellation;
* serialises every outgoing message, so a result that cannot be serialised becomes a -32603 answer here;
* sends server-to-client requests and waits for their answers (``ask``), cancelling them when the handler
  stops waiting;
* delivers server notifications (list changes, resource updates) from a hub ``Subscriber``.

The driver is also the ``Peer`` that handlers' ``Context`` talks to: ``send``/``ask``/``close_stream`` name the
request they belong to, so no object is made per request. Idle, a driver is one small slotted object: its maps
exist only while something is in flight.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import sys
from time import perf_counter
from typing import TYPE_CHECKING, Any, Final

import msgspec
import trio

from mcp_trio.protocol.errors import (
    DECODE_ERRORS,
    InternalError,
    InvalidRequest,
    LocalProtocolError,
    McpError,
    RemoteError,
    ServerBusy,
    error_from_exception,
)
from mcp_trio.protocol.events import (
    Answered,
    CancelRequested,
    ErrorReceived,
    RequestReceived,
    ResponseReceived,
    SessionInitialized,
)
from mcp_trio.protocol.jsonrpc import (
    ErrorResponse,
    Message,
    Notification,
    Request,
    RequestId,
    Response,
    encode_message,
    error_response,
)
from mcp_trio.protocol.session import READY, ServerSession, decode_snapshot, encode_snapshot
from mcp_trio.runtime.shedding import ShedLevel
from mcp_trio.server.hub import PROMPTS, RESOURCES, TOOLS, Subscriber
from mcp_trio.server.listen import ListenPump
from mcp_trio.server.tracing import traced_answer, traced_dispatch
from mcp_trio.transports.port import RUNNING, Outlet, Reply
from supervision import ChildHandle, split_exit

if TYPE_CHECKING:
    from mcp_trio.runtime.admission import Admission, Limiter, Refusal
    from mcp_trio.runtime.shard import Shard
    from mcp_trio.server.server import Server

__all__ = ["SessionDriver"]

logger: Final = logging.getLogger("mcp_trio.server")
_LIST_CHANGED: Final = frozenset({TOOLS, PROMPTS, RESOURCES})
#: What serialising a result can raise: unsupported types, lone surrogates, integers past the digit limit,
#: nesting past the recursion limit.
_ENCODE_ERRORS: Final = (TypeError, ValueError, OverflowError, RecursionError)


class _Handoff(msgspec.Struct, array_like=True, gc=False):
    """A session on its way to another process: its protocol snapshot and its resource subscriptions."""

    session: bytes
    uris: list[str]


_handoff_encoder: Final = msgspec.msgpack.Encoder()
_handoff_decoder: Final = msgspec.msgpack.Decoder(_Handoff)


class _Waiter:
    """A server-to-client request awaiting its answer."""

    __slots__ = ("event", "outcome")

    def __init__(self) -> None:
        self.event = trio.Event()
        self.outcome: ResponseReceived | ErrorReceived | None = None


class _ClosedOutlet:
    """A closed session's outlet: what its ending tasks still send goes nowhere.

    ``close`` puts it in place of the framing's, so the framing (which holds the driver as its port) and the
    driver no longer point at each other. A closed connection is then freed by reference counting alone: as a
    cycle it waited for a full collection, and full collections walk every live connection (66 ms for 5,000
    open ones, measured), so closed connections that pile up garbage make the pauses that set Python's p99.
    """

    __slots__ = ()

    async def send(self, data: bytes, origin: RequestId | None) -> None:
        await trio.lowlevel.checkpoint()
        raise trio.BrokenResourceError("the session is closed")

    async def answer(self, request_id: RequestId, data: bytes, status: int) -> None:
        await trio.lowlevel.checkpoint()  # nobody is left to read it

    def done(self, request_id: RequestId) -> None:
        pass  # the framing released everything when it closed

    async def close_stream(self, origin: RequestId, retry_ms: int | None) -> bool:
        await trio.lowlevel.checkpoint()
        return False


_CLOSED_OUTLET: Final = _ClosedOutlet()


class SessionDriver(msgspec.Struct, eq=False):
    """One client session (see the module docstring); implements ``SessionPort`` and the handlers' ``Peer``.

    A msgspec Struct: made for every connection and every stateless HTTP request, so its construction is on
    the hot path (about half the cost of a slotted class with ten attributes).

    Args:
        server: the server whose handlers answer.
        outlet: where the session's messages go (the framing).
        place: the runtime shard whose ``requests`` supervisor runs this session's tasks.
        session: the sans-IO session state (``ServerSession(server.profile)``).
    """

    server: Server
    outlet: Outlet
    place: Shard
    session: ServerSession
    #: The HTTP status hint of the last immediate reply (``SessionPort.reply_status``).
    reply_status: int = 200
    closed: bool = False
    #: Requests running as tasks, by id (their handles are their cancel scopes), and requests served by pushes
    #: (``ListenPump``); ``None`` when there are none.
    tasks: dict[RequestId, ChildHandle | ListenPump] | None = None
    #: Handlers awaiting the client's answer to a server-to-client request, by that request's id.
    waiters: dict[RequestId, _Waiter] | None = None
    #: Where list changes and resource updates for this session wait (legacy sessions, once initialized).
    subscriber: Subscriber | None = None
    delivering: bool = False
    #: The rate limits of this connection or session (``Admission.limiter``); ``None`` when none applies.
    limiter: Limiter | None = None
    #: The retry hint of the last immediate reply when it was a refusal (``SessionPort.retry_after_ms``).
    retry_after_ms: int = 0
    #: A 2026-07-28 request was accepted: that is a handshake complete (there is no ``initialize``).
    modern_seen: bool = False

    def __repr__(self) -> str:
        return f"<SessionDriver in_flight={self.in_flight} closed={self.closed}>"

    # ------------------------------------------------------------------ SessionPort

    @property
    def in_flight(self) -> int:
        return 0 if self.tasks is None else len(self.tasks)

    @property
    def waiting_on_client(self) -> bool:
        return bool(self.waiters)

    @property
    def established(self) -> bool:
        return self.session.version is not None

    @property
    def batches_allowed(self) -> bool:
        return self.session.batches_allowed

    @property
    def ready(self) -> bool:
        """The handshake is done: ``notifications/initialized`` arrived, or a 2026-07-28 request was accepted."""
        return self.modern_seen or self.session.phase == READY

    def refuse(self, reason: str, detail: str, request_id: RequestId | None = None) -> bytes:
        """Refuse a request by a framing's own limit (e.g. a connection's requests in flight) and count it."""
        return self._refusal(request_id, self.place.admission.refusal(reason, detail))

    def receive(self, message: Message) -> Reply:
        """Act on one message from the client (see ``SessionPort.receive``)."""
        admission = self.place.admission
        if (admission.level >= ShedLevel.REFUSE_REQUESTS or self.limiter is not None) and type(message) is Request:
            refusal = self._admit(admission)  # every request, even those the session answers by itself (ping)
            if refusal is not None:
                return self._refusal(message.id, refusal)
        event = self.session.receive(message)
        kind = type(event)
        if kind is RequestReceived:
            return self._start(event)  # type: ignore[arg-type]
        self.reply_status = 200
        if kind is Answered:
            if self.server.config.tracing and type(message) is Request:  # initialize, ping: no handler ran
                traced_answer(self, message, event.message)  # type: ignore[union-attr]
            return encode_message(event.message)  # type: ignore[union-attr]
        if kind is CancelRequested:
            self.cancel(event.id)  # type: ignore[union-attr]
        elif kind is ResponseReceived or kind is ErrorReceived:
            self._resolve(event)  # type: ignore[arg-type]
        elif kind is SessionInitialized:
            self._subscribe()
        return None

    def run(self, event: RequestReceived) -> Reply:
        """Start a modern request the framing already accepted on its own (``accept_modern_request``)."""
        admission = self.place.admission
        if admission.level >= ShedLevel.REFUSE_REQUESTS or self.limiter is not None:
            refusal = self._admit(admission)
            if refusal is not None:
                return self._refusal(event.id, refusal)
        self.session.track(event)
        return self._start(event)

    def reject(self, error: McpError) -> bytes:
        self.reply_status = error.http_status
        self.retry_after_ms = error.retry_after_ms if isinstance(error, ServerBusy) else 0
        return encode_message(error_response(error))

    def cancel(self, request_id: RequestId) -> None:
        tasks = self.tasks
        handle = tasks.get(request_id) if tasks is not None else None
        if handle is not None:
            handle.cancel()

    # ------------------------------------------------------------------ size and hand-off

    def size_info(self) -> dict[str, int]:
        """Bytes held for this session, by part (shallow sizes: the objects it owns, not what it shares)."""
        session = self.session
        info = {"driver": sys.getsizeof(self), "session": sys.getsizeof(session)}
        if session.client_capabilities is not None:  # what initialize negotiated
            info["client"] = sys.getsizeof(session.client_capabilities) + sys.getsizeof(session.client_info)
        maps = [m for m in (session.incoming, session.outgoing, self.tasks, self.waiters) if m is not None]
        if maps:
            info["requests"] = sum(sys.getsizeof(m) for m in maps)
        subscriber = self.subscriber
        if subscriber is not None:
            info["subscriber"] = (
                sys.getsizeof(subscriber)
                + sys.getsizeof(subscriber.pending)
                + (sys.getsizeof(subscriber.uris) if subscriber.uris is not None else 0)
            )
        return info

    def snapshot(self) -> bytes:
        """This session's state for another process to carry on (a worker hand-off; ``Server.restore_session``):
        the negotiated state and the resources it subscribed to, compact (msgpack)."""
        uris = sorted(self.subscriber.uris) if self.subscriber is not None and self.subscriber.uris else []
        return _handoff_encoder.encode(_Handoff(encode_snapshot(self.session.snapshot()), uris))

    def restored(self, data: bytes) -> None:
        """Take on the state ``snapshot`` produced (right after construction, before any message)."""
        try:
            handoff = _handoff_decoder.decode(data)
        except DECODE_ERRORS as exc:
            raise InvalidRequest(f"not a session snapshot: {exc}") from None
        self.session = ServerSession.restore(self.server.profile, decode_snapshot(handoff.session))
        if self.session.phase == READY:
            self._subscribe()
            assert self.subscriber is not None
            for uri in handoff.uris:
                self.server.hub.subscribe(self.subscriber, uri)

    def close(self) -> None:
        """End the session: cancel its requests, release its waiting handlers, leave the hub."""
        if self.closed:
            return
        self.closed = True
        subscriber = self.subscriber
        if subscriber is not None:
            self.server.hub.remove(subscriber)
            subscriber.wake = None  # break the driver <-> subscriber cycle
            self.subscriber = None
        if self.tasks is not None:
            for handle in tuple(self.tasks.values()):  # a pump's cancel removes itself at once
                handle.cancel()
        if self.waiters is not None:
            for waiter in self.waiters.values():
                waiter.event.set()
            self.waiters = None
        self.session.close()
        self.outlet = _CLOSED_OUTLET  # break the framing <-> driver cycle (see _ClosedOutlet)

    # ------------------------------------------------------------------ running requests

    def _start(self, event: RequestReceived) -> Reply:
        if event.era == "modern":
            self.modern_seen = True
        started = perf_counter()
        try:
            if self.server.config.tracing:  # off: this check is all tracing costs (server/tracing.py)
                result = traced_dispatch(self, event)
            else:
                result = self.server.dispatcher.dispatch(self.session, self, event)
        except BaseException as exc:  # noqa: BLE001 - _error_of re-raises what must propagate
            error = self._error_of(event, exc)
            self.reply_status = error.http_status
            answer: Response | ErrorResponse | None = self.session.respond_error(event.id, error)
            self._observe(event, started, True)
            return None if answer is None else self._encode_answer(event, answer)
        if not inspect.iscoroutine(result):
            if type(result) is ListenPump:
                return self._pump(event, result, started)
            self.reply_status = 200
            answer = self.session.respond(event.id, result)
            if answer is None:
                return None
            try:
                data = encode_message(answer)  # the hot path: no call of its own
            except _ENCODE_ERRORS:
                data = self._encode_answer(event, answer)
            if self.server.config.request_metrics:
                failed = getattr(result, "is_error", False) is True
                self.server.metrics.observe(event.method, _tool_of(event), started, perf_counter(), failed)
            return data
        place = self.place
        admission = place.admission
        refusal = admission.admit_task(place, event.method)
        if refusal is not None:
            result.close()  # never started: nothing ran
            return self._refuse(event, refusal)
        try:
            handle = place.requests.start_child_nowait(self._run, event, result, started, value=event.method)
        except BaseException:
            result.close()
            admission.task_done(place, event.method)
            raise
        if self.tasks is None:
            self.tasks = {}
        self.tasks[event.id] = handle
        return RUNNING

    def _pump(self, event: RequestReceived, pump: ListenPump, started: float) -> Reply:
        """Serve a request by pushes, without a task (``ListenPump``); counted and cancelled like a task."""
        refusal = self.place.admission.admit_task(self.place, event.method)
        if refusal is not None:
            return self._refuse(event, refusal)
        if self.tasks is None:
            self.tasks = {}
        self.tasks[event.id] = pump
        pump.start(self, started)
        return RUNNING

    def pump_ended(self, event: RequestReceived, value: Any, started: float) -> None:
        """A pushed request ended: with its final result ``value``, or ``None`` when cancelled (no answer)."""
        if value is not None and not self.closed:
            answer = self.session.respond(event.id, value)
            if answer is not None:
                self.outlet.push_answer(event.id, self._encode_answer(event, answer), 200)  # type: ignore[attr-defined]
        self._observe(event, started, False)
        self._ended(event)

    def _admit(self, admission: Admission) -> Refusal | None:
        """The shedding and rate-limit checks (only when one of them is in force)."""
        if admission.level >= ShedLevel.REFUSE_REQUESTS:
            return admission.refusal("shedding", f"shedding load ({admission.shedder.reason})")
        limiter = self.limiter
        return limiter.admit(trio.current_time()) if limiter is not None else None

    def _refuse(self, event: RequestReceived, refusal: Refusal) -> bytes | None:
        """Refuse a request the session already tracks (it is answered, so it is no longer in progress)."""
        answer = self.session.respond_error(event.id, refusal.error())
        return None if answer is None else self._refusal(event.id, refusal)

    def _refusal(self, request_id: RequestId | None, refusal: Refusal) -> bytes:
        self.reply_status = 503
        self.retry_after_ms = refusal.retry_after_ms
        return refusal.answer(request_id)

    async def _run(self, event: RequestReceived, work: Any, started: float) -> None:
        """A request's task: run the handler, then hand its answer to the outlet."""
        try:
            try:
                value = await work
            except BaseException as exc:  # noqa: BLE001 - _error_of re-raises what must propagate
                error = self._error_of(event, exc)
                status = error.http_status
                answer: Response | ErrorResponse | None = (
                    None if self.closed else self.session.respond_error(event.id, error)
                )
                self._observe(event, started, True)
            else:
                status = 200
                answer = None if self.closed else self.session.respond(event.id, value)
                self._observe(event, started, getattr(value, "is_error", False) is True)
            if answer is not None:
                self.reply_status = status  # read back below, with no checkpoint in between
                data = self._encode_answer(event, answer)
                await self.outlet.answer(event.id, data, self.reply_status)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass  # the client left before its answer: nothing to deliver it to
        finally:
            self._ended(event)

    def _ended(self, event: RequestReceived) -> None:
        """Release what a request admitted by ``admit_task`` held (its answer, if due, went out already)."""
        self.place.admission.task_done(self.place, event.method)
        if not self.closed:
            self.session.forget(event.id)  # no-op when answered; else cancelled: no answer is due
        tasks = self.tasks
        if tasks is not None:
            tasks.pop(event.id, None)
            if not tasks:
                self.tasks = None
        self.outlet.done(event.id)

    def _observe(self, event: RequestReceived, started: float, error: bool) -> None:
        if self.server.config.request_metrics:
            self.server.metrics.observe(event.method, _tool_of(event), started, perf_counter(), error)

    def where(self) -> str:
        """Which connection or legacy session this is, for logs (``connection 12``, ``session 3.Xy...``)."""
        outlet = self.outlet
        ident = getattr(outlet, "id", None)
        if ident is None:
            return "a stateless request"
        return f"session {ident}" if isinstance(ident, str) else f"connection {ident}"

    def _error_of(self, event: RequestReceived, exc: BaseException) -> McpError:
        """The error for what a handler raised; re-raises cancellation, ``KeyboardInterrupt`` and ``SystemExit``."""
        failure, passing = split_exit(exc)
        if passing is not None:
            if failure is not None:
                logger.error(
                    "handler for %s failed while being cancelled (%s, request %r)",
                    event.method,
                    self.where(),
                    event.id,
                    exc_info=failure,
                )
            raise passing
        assert failure is not None
        if isinstance(failure, ServerBusy):  # a handler's own limit (e.g. the task store): count it with the rest
            refusals = self.place.admission.refusals
            refusals[failure.reason] = refusals.get(failure.reason, 0) + 1
        elif not isinstance(failure, McpError | msgspec.ValidationError):
            logger.error(
                "handler for %s failed (%s, request %r)", event.method, self.where(), event.id, exc_info=failure
            )
        return error_from_exception(failure)

    def _encode_answer(self, event: RequestReceived, answer: Response | ErrorResponse) -> bytes:
        """The answer as bytes; a result that cannot be serialised becomes -32603 for the same id (and
        ``reply_status`` says so)."""
        try:
            return encode_message(answer)
        except _ENCODE_ERRORS as exc:
            logger.error(
                "the result of %s could not be serialised (%s, request %r)",
                event.method,
                self.where(),
                event.id,
                exc_info=exc,
            )
            error = InternalError("the result could not be serialised")
            self.reply_status = error.http_status
            return encode_message(error_response(error, event.id))

    # ------------------------------------------------------------------ the Peer interface for handlers

    async def send(self, message: Notification | Request, origin: RequestId | None) -> None:
        """Send a message about request ``origin`` (progress, logs); may wait under backpressure.

        Raises:
            trio.BrokenResourceError: the session ended.
        """
        if self.closed:
            raise trio.BrokenResourceError("the session ended")
        await self.outlet.send(encode_message(message), origin)

    async def ask(self, request: Request, origin: RequestId | None) -> Any:
        """Send a server-to-client request and return the client's decoded result (legacy wire).

        Raises:
            RemoteError: the client answered with an error.
            trio.BrokenResourceError: the session ended before the client answered.
        """
        if self.waiters is None:
            self.waiters = {}
        waiter = self.waiters[request.id] = _Waiter()
        try:
            await self.send(request, origin)
            await waiter.event.wait()
        finally:
            if waiter.outcome is None:
                if self.waiters is not None:
                    self.waiters.pop(request.id, None)
                cancel = None if self.closed else self.session.forget_request(request.id, "the server stopped waiting")
                if cancel is not None:
                    # This task may be being cancelled: the notice goes out from a task of its own.
                    self.place.requests.start_child_nowait(self._send_quietly, cancel, origin, value="cancel")
            if self.waiters is not None and not self.waiters:
                self.waiters = None
        outcome = waiter.outcome
        if outcome is None:
            raise trio.BrokenResourceError("the session ended before the client answered")
        if isinstance(outcome, ErrorReceived):
            raise RemoteError(outcome.error.code, outcome.error.message, outcome.error.data)
        return outcome.result

    async def close_stream(self, origin: RequestId, retry_ms: int | None = None) -> bool:
        return await self.outlet.close_stream(origin, retry_ms)

    @property
    def background(self) -> Any:
        """Where work that outlives its request runs (tasks extension): the runtime's background supervisor."""
        return self.place.runtime.background

    def _resolve(self, outcome: ResponseReceived | ErrorReceived) -> None:
        waiters = self.waiters
        waiter = waiters.pop(outcome.id, None) if waiters is not None else None
        if waiter is not None:
            waiter.outcome = outcome
            waiter.event.set()

    async def _send_quietly(self, message: Notification | Request, origin: RequestId | None) -> None:
        """Send without caring whether the client is still there (best-effort notices)."""
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            await self.send(message, origin)

    # ------------------------------------------------------------------ server notifications

    def _subscribe(self) -> None:
        if self.subscriber is None and not self.closed:
            self.subscriber = Subscriber(_LIST_CHANGED, wake=self._wake)
            self.server.hub.add(self.subscriber)

    def _wake(self) -> None:
        """A server notification is pending: posting never blocks, so a task of its own delivers it."""
        subscriber = self.subscriber
        if not self.closed and not self.delivering and subscriber is not None and subscriber.pending:
            self.delivering = True
            self.place.requests.start_child_nowait(self._deliver, value="notifications")

    async def _deliver(self) -> None:
        try:
            while (subscriber := self.subscriber) is not None and subscriber.pending and not self.closed:
                for method, uri in subscriber.take():
                    params = {"uri": uri} if uri is not None else msgspec.UNSET
                    try:
                        notification = self.session.notify(method, params)
                    except LocalProtocolError:
                        continue  # not among the capabilities this session negotiated (the server changed since)
                    await self.send(notification, None)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        finally:
            self.delivering = False


def _tool_of(event: RequestReceived) -> str | None:
    """The tool a ``tools/call`` names (the metrics' second label), else ``None``."""
    if event.method != "tools/call":
        return None
    name = getattr(event.params, "name", None)
    return name if isinstance(name, str) else None
