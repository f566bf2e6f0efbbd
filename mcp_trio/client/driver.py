"""The client's session driver: one MCP client session's I/O logic, written once for every framing.

Theory of operation
-------------------
The sans-IO ``ClientSession`` (``mcp_trio.protocol``) builds and checks messages; this module waits for
answers. It is the client's mirror of the server's ``SessionDriver`` and plugs into the same seam
(``transports/port.py``): a framing hands each decoded message from the server to ``receive`` and takes our
messages through its ``Outlet``. So the newline-delimited framing the server uses (``StreamConnection``:
framer, outbox, coalesced flushes, batches, end-of-input drain) carries client sessions unchanged, and the
HTTP framing only has to implement ``Outlet``.

* ``request`` registers a waiter, sends, and waits. On a stream the answer arrives through the connection's
  reader (``receive``); over HTTP the ``Outlet.send`` of a request is the whole exchange, and the answer has
  been delivered when it returns. Either way the waiter is the only per-request object.
* A timeout or a cancelled caller gives the request up: the session forgets it (a late answer is ignored),
  and the server is told with ``notifications/cancelled`` where that is how the wire cancels; on the
  2026-07-28 HTTP wire closing the request's response is the cancel, so nothing more is sent.
* 2026-07-28 ``InputRequiredResult`` rounds are answered by the same handlers that answer legacy
  server-to-client requests (sampling, elicitation, roots), echoing ``requestState``, up to
  ``max_input_rounds``.
* Legacy server-to-client requests run as tasks of the client's nursery (they may take as long as a person
  answering a form) and answer through ``Outlet.answer``; at ``max_in_flight`` more are refused.
* When the connection ends, every waiter fails with ``ConnectionClosed``.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import sys
from collections.abc import Awaitable, Callable
from typing import Any, Final

import msgspec
import trio
from msgspec import UNSET

from mcp_trio.client.subscription import Subscription
from mcp_trio.protocol.client_session import ClientSession
from mcp_trio.protocol.errors import (
    LocalProtocolError,
    McpError,
    MethodNotFound,
    RemoteError,
    ServerBusy,
    error_from_exception,
)
from mcp_trio.protocol.events import (
    Answered,
    CancelRequested,
    ErrorReceived,
    NotificationReceived,
    RequestReceived,
    ResponseReceived,
)
from mcp_trio.protocol.jsonrpc import Message, Request, RequestId, encode_message, error_response
from mcp_trio.protocol.types import (
    CreateMessageParams,
    CreateMessageRequest,
    CreateMessageResult,
    ElicitRequest,
    ElicitRequestParams,
    ElicitResult,
    InputRequiredResult,
    ListRootsRequest,
    ListRootsResult,
    Root,
)
from mcp_trio.protocol.types.meta import SUBSCRIPTION_ID
from mcp_trio.protocol.versions import MODERN_VERSIONS
from mcp_trio.transports.port import RUNNING, Outlet, Reply

__all__ = [
    "ClientDriver",
    "ConnectionClosed",
    "RequestTimeout",
    "ProgressHandler",
    "SamplingHandler",
    "ElicitationHandler",
    "RootsHandler",
    "LogHandler",
    "NotificationHandler",
    "apply_schema_defaults",
]

logger: Final = logging.getLogger("mcp_trio.client")
#: The 2026-07-28 error for a protocol version the server does not speak.
_UNSUPPORTED_VERSION: Final = -32022
#: Seconds an answer to a server request may take to be written before it is dropped.
_ANSWER_SECONDS: Final = 5.0
#: Seconds telling the server about a request we gave up may take.
_CANCEL_NOTE_SECONDS: Final = 1.0

ProgressHandler = Callable[[float, float | None, str | None], Any]
"""``(progress, total, message)``, called for each ``notifications/progress`` of one request (may be async)."""
SamplingHandler = Callable[[CreateMessageParams], Awaitable[CreateMessageResult]]
ElicitationHandler = Callable[[ElicitRequestParams], Awaitable[ElicitResult]]
RootsHandler = Callable[[], Awaitable[list[Root]]]
LogHandler = Callable[[Any], Any]
"""Called with each ``notifications/message``'s params (``LoggingMessageParams``; may be async)."""
NotificationHandler = Callable[[str, Any], Any]
"""Called with ``(method, params)`` of every other notification from the server (may be async)."""


class ConnectionClosed(ConnectionError):
    """The connection to the server ended before the answer came."""


class RequestTimeout(trio.TooSlowError):
    """A request took longer than its timeout; it was given up (and the server told, where the wire can)."""


class _Waiter:
    """One request awaiting its answer: the only object a request in flight holds."""

    __slots__ = ("done", "error", "on_progress", "result")

    def __init__(self, on_progress: ProgressHandler | None) -> None:
        self.done = trio.Event()
        self.result: Any = None
        self.error: BaseException | None = None
        self.on_progress = on_progress


class ClientDriver:
    """One client session over one framing (see the module docstring); the framing's ``SessionPort``.

    Args:
        session: the sans-IO session (modern or legacy).
        nursery: where server-to-client requests and async callbacks run (the client's).
        max_in_flight: server-to-client requests handled at once.
    """

    reply_status = 200
    retry_after_ms = 0

    def __init__(self, session: ClientSession, nursery: trio.Nursery, max_in_flight: int = 16) -> None:
        self.session = session
        self.nursery = nursery
        self.max_in_flight = max_in_flight
        self.outlet: Outlet | None = None
        self.limiter: Any = None
        self.sampling: SamplingHandler | None = None
        self.elicitation: ElicitationHandler | None = None
        self.roots: RootsHandler | None = None
        self.on_log: LogHandler | None = None
        self.on_notification: NotificationHandler | None = None
        self._waiters: dict[RequestId, _Waiter] = {}
        self._tokens: dict[str, RequestId] = {}  # progress token -> request
        self._running: dict[RequestId, trio.CancelScope] = {}  # server-to-client requests being answered
        self._subscriptions: dict[RequestId, Subscription] = {}  # open listen streams, by request id
        self._closed: BaseException | None = None
        self._next_token = 0

    def __repr__(self) -> str:
        return f"<client session {self.session.era} {len(self._waiters)} in flight>"

    # ------------------------------------------------------------------ requests

    async def request(
        self,
        method: str,
        params: Any = UNSET,
        *,
        timeout: float | None = None,
        on_progress: ProgressHandler | None = None,
        max_rounds: int = 8,
    ) -> Any:
        """Send a request and return its decoded result; 2026-07-28 input rounds are answered on the way.

        Raises:
            RemoteError: the server answered with a JSON-RPC error (or an invalid result).
            RequestTimeout: no answer within ``timeout`` seconds.
            ConnectionClosed: the connection ended first.
            LocalProtocolError: the request is not valid now (wrong era, undeclared server capability...).
        """
        if self._closed is not None:
            raise ConnectionClosed(str(self._closed))
        token = None
        if on_progress is not None:
            self._next_token += 1
            token = f"p{self._next_token}"
        request = self.session.send_request(method, params, progress_token=token)
        try:
            with trio.fail_after(timeout) if timeout is not None else _NoDeadline():
                try:
                    result = await self._exchange(request, on_progress)
                except RemoteError as error:
                    if not self._switch_version(error):
                        raise
                    request = self.session.send_request(method, params, progress_token=token)
                    result = await self._exchange(request, on_progress)
                rounds = 0
                while type(result) is InputRequiredResult:
                    rounds += 1
                    if rounds > max_rounds:
                        raise RemoteError(-32603, f"{method}: the server asked for input more than {max_rounds} times")
                    responses = await self._answer_inputs(result)
                    request = self.session.retry_with_inputs(request, responses, result.request_state)
                    result = await self._exchange(request, on_progress)
        except RequestTimeout:
            raise
        except trio.TooSlowError:
            raise RequestTimeout(f"{method} got no answer within {timeout} s") from None
        return result

    def _switch_version(self, error: RemoteError) -> bool:
        """On -32022 (2026-07-28: the server does not speak the version we named), adopt the newest version of
        ``data.supported`` we also speak; whether the request is worth sending again (once: it may be the version
        we sent, if the server's first answer was wrong)."""
        session = self.session
        data = error.data
        if error.code != _UNSUPPORTED_VERSION or not session.modern or not isinstance(data, dict):
            return False
        supported = data.get("supported")
        if not isinstance(supported, list):
            return False
        ours = session.versions or ()
        choice = next((v for v in ours if v in supported and v in MODERN_VERSIONS), None)
        if choice is None:
            return False
        session.version = choice
        return True

    async def request_message(self, request: Request, *, timeout: float | None = None) -> Any:
        """Send a request the session already built (``initialize``) and return its decoded result."""
        try:
            with trio.fail_after(timeout) if timeout is not None else _NoDeadline():
                return await self._exchange(request, None)
        except RequestTimeout:
            raise
        except trio.TooSlowError:
            raise RequestTimeout(f"{request.method} got no answer within {timeout} s") from None

    async def _exchange(self, request: Request, on_progress: ProgressHandler | None) -> Any:
        """One request and its answer (no input rounds)."""
        outlet = self.outlet
        assert outlet is not None, "the driver is not attached to a framing"
        request_id = request.id
        waiter = self._waiters[request_id] = _Waiter(on_progress)
        token = _progress_token(request)
        if token is not None:
            self._tokens[token] = request_id
        try:
            await outlet.send(encode_message(request), request_id)
            if not waiter.done.is_set():
                await waiter.done.wait()
        except BaseException as exc:
            if not waiter.done.is_set():
                await self._give_up(
                    request_id, "cancelled by the client" if isinstance(exc, trio.Cancelled) else "failed"
                )
            raise
        finally:
            self._waiters.pop(request_id, None)
            if token is not None:
                self._tokens.pop(token, None)
        if waiter.error is not None:
            raise waiter.error
        return waiter.result

    async def _give_up(self, request_id: RequestId, reason: str) -> None:
        """Forget a request whose caller stopped waiting, and tell the server where the wire cancels by message."""
        try:
            note = self.session.cancel(request_id, reason)
        except LocalProtocolError:
            return  # initialize cannot be cancelled; closed sessions have nothing to cancel
        if (
            note is None
            or getattr(self.outlet, "cancels_by_closing", False)
            or self._closed is not None
            or self.outlet is None
        ):
            return
        gone = (trio.BrokenResourceError, trio.ClosedResourceError, ConnectionClosed, OSError)
        with trio.CancelScope(shield=True), trio.move_on_after(_CANCEL_NOTE_SECONDS), contextlib.suppress(*gone):
            await self.outlet.send(encode_message(note), None)

    async def listen(self, params: Any, subscription: Subscription, *, max_rounds: int = 8) -> Any:
        """Run one ``subscriptions/listen`` request, routing its notifications to ``subscription`` until the
        server completes it (its result is returned) or the caller cancels it."""
        if self._closed is not None:
            raise ConnectionClosed(str(self._closed))
        request = self.session.send_request("subscriptions/listen", params)
        subscription.request_id = request.id
        self._subscriptions[request.id] = subscription
        try:
            return await self._exchange(request, None)
        finally:
            self._subscriptions.pop(request.id, None)
            subscription.end()

    def answered(self, request_id: RequestId) -> bool:
        """Whether ``request_id`` no longer awaits an answer (it came, or the request was given up)."""
        waiter = self._waiters.get(request_id)
        return waiter is None or waiter.done.is_set()

    async def notify(self, method: str, params: Any = UNSET) -> None:
        """Send a client notification (``notifications/roots/list_changed``...)."""
        if self._closed is not None:
            raise ConnectionClosed(str(self._closed))
        assert self.outlet is not None
        await self.outlet.send(encode_message(self.session.notify(method, params)), None)

    async def send_message(self, message: Message) -> None:
        """Send a message the session already built (``notifications/initialized``)."""
        assert self.outlet is not None
        await self.outlet.send(encode_message(message), None)

    # ------------------------------------------------------------------ input rounds (2026-07-28)

    async def _answer_inputs(self, result: InputRequiredResult) -> dict[str, Any]:
        return await self.answer_input_requests(result.input_requests if result.input_requests is not UNSET else {})

    async def answer_input_requests(self, requests: Any) -> dict[str, Any]:
        """Answer a round of input requests (``inputRequests`` of a result or a task) with the handlers."""
        responses: dict[str, Any] = {}
        for key, input_request in requests.items():
            if type(input_request) is ElicitRequest:
                responses[key] = await self._elicit(input_request.params)
            elif type(input_request) is CreateMessageRequest:
                responses[key] = await self._sample(input_request.params)
            elif type(input_request) is ListRootsRequest:
                responses[key] = await self._list_roots()
        return responses

    async def _elicit(self, params: ElicitRequestParams) -> ElicitResult:
        handler = self.elicitation
        if handler is None:
            raise MethodNotFound("this client has no elicitation handler")
        answer = await handler(params)
        if answer.action == "accept" and isinstance(params.requested_schema, dict):
            content = answer.content if answer.content is not UNSET else {}
            answer = msgspec.structs.replace(answer, content=apply_schema_defaults(params.requested_schema, content))
        return answer

    async def _sample(self, params: CreateMessageParams) -> CreateMessageResult:
        handler = self.sampling
        if handler is None:
            raise MethodNotFound("this client has no sampling handler")
        return await handler(params)

    async def _list_roots(self) -> ListRootsResult:
        handler = self.roots
        if handler is None:
            raise MethodNotFound("this client has no roots")
        return ListRootsResult(roots=list(await handler()))

    # ------------------------------------------------------------------ the SessionPort interface

    def receive(self, message: Message) -> Reply:
        """Act on one message from the server."""
        try:
            event = self.session.receive(message)
        except LocalProtocolError:
            return None  # closed: nothing more is accepted
        kind = type(event)
        if kind is ResponseReceived:
            waiter = self._waiters.get(event.id)  # type: ignore[union-attr]
            if waiter is not None:
                waiter.result = event.result  # type: ignore[union-attr]
                waiter.done.set()
        elif kind is ErrorReceived:
            waiter = self._waiters.get(event.id)  # type: ignore[union-attr]
            if waiter is not None:
                error = event.error  # type: ignore[union-attr]
                waiter.error = RemoteError(error.code, error.message, error.data)
                waiter.done.set()
        elif kind is NotificationReceived:
            self._on_notification(event)  # type: ignore[arg-type]
        elif kind is Answered:
            return encode_message(event.message)  # type: ignore[union-attr]
        elif kind is RequestReceived:
            return self._start(event)  # type: ignore[arg-type]
        elif kind is CancelRequested:
            scope = self._running.get(event.id)  # type: ignore[union-attr]
            if scope is not None:
                scope.cancel()
        return None

    def _on_notification(self, event: NotificationReceived) -> None:
        method, params = event.method, event.params
        if self._subscriptions:
            meta = getattr(params, "meta", None)
            subscription = self._subscriptions.get(_subscription_id(meta)) if meta is not None else None
            if subscription is not None:
                subscription.deliver(method, params)
                return
        if method == "notifications/progress":
            request_id = self._tokens.get(str(params.progress_token))
            waiter = self._waiters.get(request_id) if request_id is not None else None
            if waiter is not None and waiter.on_progress is not None:
                message = params.message if isinstance(params.message, str) else None
                total = params.total if params.total is not UNSET else None
                self._call(waiter.on_progress, params.progress, total, message)
            return
        if method == "notifications/message" and self.on_log is not None:
            self._call(self.on_log, params)
            return
        if self.on_notification is not None:
            self._call(self.on_notification, method, params)

    def _call(self, callback: Callable[..., Any], *args: Any) -> None:
        """Run a user callback: synchronous ones now, coroutines as tasks; a failing one is logged, not fatal."""
        try:
            outcome = callback(*args)
        except Exception:
            logger.exception("client callback %r failed", callback)
            return
        if inspect.isawaitable(outcome):
            self.nursery.start_soon(_await_logged, outcome)

    def _start(self, event: RequestReceived) -> Reply:
        if len(self._running) >= self.max_in_flight:
            return self.refuse("client_in_flight", f"{self.max_in_flight} server requests in progress", event.id)
        scope = self._running[event.id] = trio.CancelScope()
        self.nursery.start_soon(self._serve, event, scope)
        return RUNNING

    async def _serve(self, event: RequestReceived, scope: trio.CancelScope) -> None:
        """Answer one legacy server-to-client request with the matching handler."""
        request_id = event.id
        session = self.session
        result: Any = None
        failure: McpError | None = None
        with scope:
            try:
                method = event.method
                if method == "sampling/createMessage":
                    result = await self._sample(event.params)
                elif method == "elicitation/create":
                    result = await self._elicit(event.params)
                elif method == "roots/list":
                    result = await self._list_roots()
                else:
                    raise MethodNotFound(f"method not found: {method}")
                result = msgspec.Raw(msgspec.json.encode(result))
            except Exception as exc:  # noqa: BLE001  # any handler failure is the server's -32603 answer
                failure = error_from_exception(exc)
        self._running.pop(request_id, None)
        answer: Message | None = None
        if self._closed is None and not scope.cancelled_caught:
            if failure is None:
                answer = session.respond(request_id, result)
            else:
                answer = session.respond_error(request_id, failure)
        elif self._closed is None:
            session.forget(request_id)  # cancelled by the server: nothing is sent
        outlet = self.outlet
        try:
            if answer is not None and outlet is not None and self._closed is None:
                with trio.move_on_after(_ANSWER_SECONDS):
                    await outlet.answer(request_id, encode_message(answer), 200)
        except (trio.BrokenResourceError, trio.ClosedResourceError, ConnectionClosed, OSError):
            pass
        finally:
            if outlet is not None:
                outlet.done(request_id)

    def run(self, event: RequestReceived) -> Reply:
        raise LocalProtocolError("a client session does not run requests of its own")

    def reject(self, error: McpError) -> bytes:
        return encode_message(error_response(error, None))

    def refuse(self, reason: str, detail: str, request_id: RequestId | None = None) -> bytes:
        return encode_message(error_response(ServerBusy(detail, reason=reason), request_id))

    def cancel(self, request_id: RequestId) -> None:
        scope = self._running.get(request_id)
        if scope is not None:
            scope.cancel()

    def close(self, error: BaseException | None = None) -> None:
        """The connection ended: every waiter fails, running handlers are cancelled, the session closes."""
        if self._closed is not None:
            return
        self._closed = error if error is not None else ConnectionClosed("the connection to the server closed")
        for waiter in self._waiters.values():
            if not waiter.done.is_set():
                waiter.error = ConnectionClosed(str(self._closed))
                waiter.done.set()
        for scope in self._running.values():
            scope.cancel()
        for subscription in self._subscriptions.values():
            subscription.end()
        self.session.close(str(self._closed))

    def snapshot(self) -> bytes:
        raise LocalProtocolError("client sessions cannot be exported")

    def size_info(self) -> dict[str, int]:
        info = {"driver": sys.getsizeof(self), "session": sys.getsizeof(self.session)}
        if self._waiters:
            info["waiters"] = sys.getsizeof(self._waiters) + sum(sys.getsizeof(w) for w in self._waiters.values())
        return info

    @property
    def closed(self) -> bool:
        return self._closed is not None

    @property
    def in_flight(self) -> int:
        return len(self._running)

    @property
    def waiting_on_client(self) -> bool:
        return False

    @property
    def established(self) -> bool:
        return True

    @property
    def batches_allowed(self) -> bool:
        return self.session.batches_allowed

    @property
    def ready(self) -> bool:
        return True


def apply_schema_defaults(schema: dict[str, Any], content: dict[str, Any]) -> dict[str, Any]:
    """An accepted form's ``content`` with the schema's ``default`` filled in for every field left out (SEP-1034;
    a ``null`` default is not a value a form field can take, so it is left out too)."""
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return content
    filled = dict(content)
    for name, field in properties.items():
        if name not in filled and isinstance(field, dict) and field.get("default") is not None:
            filled[name] = field["default"]
    return filled


def _subscription_id(meta: Any) -> Any:
    """The listen stream a notification belongs to (``_meta`` as a struct or a dict), or ``None``."""
    if isinstance(meta, dict):
        return meta.get(SUBSCRIPTION_ID)
    value = getattr(meta, "subscription_id", None)
    return None if value is UNSET else value


def _progress_token(request: Request) -> str | None:
    params = request.params
    meta = params.get("_meta") if isinstance(params, dict) else getattr(params, "meta", None)
    token = meta.get("progressToken") if isinstance(meta, dict) else None
    return token if isinstance(token, str) else None


class _NoDeadline:
    """A context manager that does nothing (``trio.fail_after`` when no timeout applies)."""

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


async def _await_logged(awaitable: Awaitable[Any]) -> None:
    try:
        await awaitable
    except Exception:
        logger.exception("client callback failed")
