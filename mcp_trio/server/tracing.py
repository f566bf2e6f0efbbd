"""OpenTelemetry tracing (``ServerConfig.tracing``): a SERVER span per request, parented by ``params._meta``.

Theory of operation
-------------------
The session driver calls ``traced_dispatch`` instead of ``Dispatcher.dispatch`` when tracing is on, so tracing
off costs one attribute check per request and nothing here runs. With it on, each request gets a span named and
attributed after the OpenTelemetry semantic conventions for MCP (``{mcp.method.name} {target}``, SERVER kind).
Its parent is the W3C trace context the client put in ``params._meta`` (``traceparent``, ``tracestate``,
``baggage``: whatever the globally configured propagators read), and the handler runs with the span as the
current context, so the spans it makes (and those of instrumented libraries it calls, in worker threads too,
since Trio copies the context there) are its children.

* An inline handler runs inside the span, which ends as ``dispatch`` returns (or raises).
* A handler that runs as a task gets a wrapper coroutine that makes the span current inside that task and ends
  it with the handler's value or exception; a wrapper the driver refuses to run ends the span as refused
  (``_Pending``).

An error answer sets ``error.type`` and ``rpc.response.status_code`` to the JSON-RPC code and the status to
ERROR with the error's message; a tool result with ``isError`` sets ``error.type = tool_error``; a cancelled
request ends with a ``cancelled`` event and no error (the client or a shutdown stopped it, nothing failed).

The tracer is the global provider's (``opentelemetry.trace.get_tracer("mcp_trio")``): the application chooses
the SDK and exporter (``opentelemetry-instrument``, or ``trace.set_tracer_provider`` before the server runs).
Only the API is needed (the ``otel`` extra); it is imported on first use, so the server never loads it unless
tracing is on, and ``ServerConfig(tracing=True)`` without it fails at once (``require_tracing``).
"""

from __future__ import annotations

import inspect
import socket
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, Final

import msgspec
import trio

from mcp_trio.protocol.errors import McpError, error_from_exception
from mcp_trio.protocol.jsonrpc import ErrorResponse, Request, Response
from mcp_trio.transports.http.modern import loose_params
from mcp_trio.transports.stream import StreamConnection
from supervision import split_exit

if TYPE_CHECKING:
    from opentelemetry.context import Context as TraceContext
    from opentelemetry.trace import Span, Tracer

    from mcp_trio.protocol.events import RequestReceived
    from mcp_trio.server.driver import SessionDriver

__all__ = ["TRACER_NAME", "traced_dispatch", "traced_answer", "require_tracing"]

#: The instrumentation scope of the spans (``get_tracer(TRACER_NAME)``).
TRACER_NAME: Final = "mcp_trio"
#: Methods whose ``params.name`` is the span's target, and the attribute that names it.
_NAMED: Final = {"tools/call": "gen_ai.tool.name", "prompts/get": "gen_ai.prompt.name"}
#: Methods whose ``params.uri`` is ``mcp.resource.uri`` (never in the span name: too many distinct values).
_WITH_URI: Final = frozenset({"resources/read", "resources/subscribe", "resources/unsubscribe"})


def require_tracing() -> None:
    """Check that the OpenTelemetry API can be imported (``ServerConfig(tracing=True)`` calls it).

    Raises:
        ValueError: it cannot, with what to install.
    """
    try:
        import opentelemetry.context
        import opentelemetry.propagate
        import opentelemetry.trace  # noqa: F401
    except ImportError as exc:
        raise ValueError(
            f"tracing needs the OpenTelemetry API, which cannot be imported ({exc}): "
            "pip install 'mcp-trio[otel]' (and an SDK with an exporter), or turn tracing off"
        ) from None


class _Api:
    """The OpenTelemetry calls a request makes, bound once: the API is optional, so it is imported on first use."""

    __slots__ = (
        "_fields",
        "_propagator",
        "attach",
        "current_span",
        "detach",
        "error",
        "extract",
        "in_context",
        "server",
        "textmap",
        "tracer",
    )

    def __init__(self) -> None:
        from opentelemetry import context, propagate, trace

        self.tracer: Tracer = trace.get_tracer(TRACER_NAME)  # a proxy until the application sets a provider
        self.extract = propagate.extract
        self.attach = context.attach
        self.detach = context.detach
        self.in_context = trace.set_span_in_context
        self.server = trace.SpanKind.SERVER
        self.error = trace.StatusCode.ERROR
        self.current_span = trace.get_current_span
        self.textmap = propagate.get_global_textmap
        self._propagator: object = None
        self._fields: frozenset[str] = frozenset()

    def carries_context(self, meta: dict[str, Any]) -> bool:
        """``meta`` has a key the configured propagators read: on the 2026-07-28 wire every request has a
        ``_meta``, and extracting from one without those keys costs microseconds for nothing."""
        propagator = self.textmap()
        if propagator is not self._propagator:  # the application may set another one at any time
            self._fields = frozenset(propagator.fields)
            self._propagator = propagator
        return not self._fields.isdisjoint(meta)


_api: _Api | None = None


def _loaded() -> _Api:
    global _api
    if _api is None:
        _api = _Api()
    return _api


def traced_dispatch(driver: SessionDriver, event: RequestReceived) -> Any:
    """``Dispatcher.dispatch`` inside a request span: the result, or a coroutine that ends the span when done."""
    api = _loaded()
    span, context = _start_span(api, driver, event)
    token = api.attach(context)
    try:
        result = driver.server.dispatcher.dispatch(driver.session, driver, event)
    except BaseException as exc:
        _failed(api, span, exc)
        span.end()
        raise
    finally:
        api.detach(token)
    if not inspect.iscoroutine(result):
        _answered(api, span, result)
        span.end()
        return result
    return _in_span(_Pending(api, span, context, result))


def traced_answer(driver: SessionDriver, request: Request, answer: Response | ErrorResponse) -> None:
    """A span for a request the session answered by itself (``initialize``, ``ping``, a protocol error)."""
    api = _loaded()
    attributes: dict[str, str] = {"mcp.method.name": request.method, "jsonrpc.request.id": str(request.id)}
    version = driver.session.version
    if version is not None:
        attributes["mcp.protocol.version"] = version
    ident = getattr(driver.outlet, "id", None)
    if isinstance(ident, str):
        attributes["mcp.session.id"] = ident
    transport, protocol = _network_of(driver.outlet)
    if transport is not None:
        attributes["network.transport"] = transport
    if protocol is not None:
        attributes["network.protocol.name"] = protocol
    params = loose_params(request.params)
    parent = _parent_of(api, params.get("_meta") if params is not None else None)
    span = api.tracer.start_span(request.method, context=parent, kind=api.server, attributes=attributes)
    if isinstance(answer, ErrorResponse):
        code = str(answer.error.code)
        span.set_attributes({"error.type": code, "rpc.response.status_code": code})
        span.set_status(api.error, answer.error.message)
    span.end()


class _Pending:
    """A task handler's span and coroutine until its wrapper starts (see the module docstring).

    The driver closes a coroutine it refuses to run (admission), and closing a coroutine that never started runs
    none of its code: the wrapper's ``finally`` cannot end the span. Its frame is freed with it, though, and this
    object with the frame, so ``__del__`` ends what was never started: the span (as refused) and the handler's
    coroutine (closed, not left to warn that it was never awaited).
    """

    __slots__ = ("api", "context", "span", "work")

    def __init__(self, api: _Api, span: Span, context: TraceContext, work: Coroutine[Any, Any, Any]) -> None:
        self.api = api
        self.span = span
        self.context = context
        self.work: Coroutine[Any, Any, Any] | None = work

    def __del__(self) -> None:
        work = self.work
        if work is not None:
            work.close()
            self.span.set_attributes({"error.type": "-32000", "rpc.response.status_code": "-32000"})
            self.span.set_status(self.api.error, "refused before it ran")
            self.span.end()


async def _in_span(pending: _Pending) -> Any:
    """Run the handler's coroutine with the span current in its task, and end the span with its outcome."""
    api, span, work = pending.api, pending.span, pending.work
    assert work is not None
    pending.work = None  # started: ended below, whatever happens
    token = api.attach(pending.context)
    try:
        value = await work
    except BaseException as exc:
        _failed(api, span, exc)
        raise
    else:
        _answered(api, span, value)
        return value
    finally:
        api.detach(token)
        span.end()


def _start_span(api: _Api, driver: SessionDriver, event: RequestReceived) -> tuple[Span, TraceContext]:
    """The request's span, started, and the context that makes it current (its parent's, plus the span)."""
    method = event.method
    params = event.params
    attributes: dict[str, str] = {
        "mcp.method.name": method,
        "jsonrpc.request.id": str(event.id),
        "mcp.protocol.version": event.version,
    }
    name = method
    named = _NAMED.get(method)
    if named is not None:
        target = getattr(params, "name", None)
        if isinstance(target, str):
            attributes[named] = target
            known = driver.server.tools if method == "tools/call" else driver.server.prompts
            if target in known:  # a client's made-up names stay out of span names (their number is unbounded)
                name = f"{method} {target}"
        if method == "tools/call":
            attributes["gen_ai.operation.name"] = "execute_tool"
    elif method in _WITH_URI:
        uri = getattr(params, "uri", None)
        if isinstance(uri, str):
            attributes["mcp.resource.uri"] = uri
    outlet = driver.outlet
    ident = getattr(outlet, "id", None)
    if isinstance(ident, str):  # a legacy HTTP session (its Mcp-Session-Id); a connection's id is an int
        attributes["mcp.session.id"] = ident
    transport, protocol = _network_of(outlet)
    if transport is not None:
        attributes["network.transport"] = transport
    if protocol is not None:
        attributes["network.protocol.name"] = protocol
    parent = _parent_of(api, getattr(params, "meta", None))
    span = api.tracer.start_span(name, context=parent, kind=api.server, attributes=attributes)
    return span, api.in_context(span, parent)


def _parent_of(api: _Api, meta: object) -> TraceContext | None:
    """The context the client propagated in ``_meta``; ``None`` (the current context) when it sent none.

    An extracted context without a valid span would make the request a root even under an ambient span, and a
    malformed carrier must not fail the request: both count as none.
    """
    if not isinstance(meta, dict) or not api.carries_context(meta):
        return None
    try:
        context = api.extract(meta)
    except (TypeError, ValueError):
        return None
    return context if api.current_span(context).get_span_context().is_valid else None


def _network_of(outlet: object) -> tuple[str | None, str | None]:
    """``network.transport`` and ``network.protocol.name`` of a session's outlet, when they are known."""
    if isinstance(outlet, StreamConnection):
        protocol = "websocket" if type(outlet).__module__ == "mcp_trio.transports.websocket" else None
        stream = outlet.stream
        sock = getattr(stream, "socket", None)
        if sock is not None:
            return ("unix" if sock.family == socket.AF_UNIX else "tcp"), protocol
        if isinstance(getattr(stream, "send_stream", None), trio.lowlevel.FdStream):
            return "pipe", protocol  # stdio
        return None, protocol
    if type(outlet).__module__.startswith("mcp_trio.transports.http."):
        return "tcp", "http"
    return None, None


def _answered(api: _Api, span: Span, result: Any) -> None:
    if getattr(result, "is_error", False) is True:  # a tool's isError result: the call worked, the tool did not
        span.set_attribute("error.type", "tool_error")
        span.set_status(api.error)


def _failed(api: _Api, span: Span, exc: BaseException) -> None:
    """What the handler raised, as the answer the driver will make of it (``error_from_exception``)."""
    failure, _ = split_exit(exc)
    if failure is None:  # cancelled (the client, a vanished connection, shutdown): no answer, no failure
        span.add_event("cancelled")
        return
    error = error_from_exception(failure)
    code = str(error.code)
    span.set_attributes({"error.type": code, "rpc.response.status_code": code})
    span.set_status(api.error, error.message)
    if not isinstance(failure, McpError | msgspec.ValidationError):  # a bug or a broken dependency: keep its trace
        span.record_exception(failure)
