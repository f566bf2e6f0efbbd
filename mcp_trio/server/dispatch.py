"""Answering requests: one function per server method, run inline when it cannot block.

Theory of operation: ``Dispatcher.dispatch`` returns either the result (the handler was synchronous and is
done: list methods, sync tools without a context) or a coroutine the transport runs in a task of its own. The
fast path therefore costs no task, no channel and no context object. Every result leaves through ``finish``,
which adds what the modern wire requires (``resultType``, caching hints) so handlers never think about eras.
"""

from __future__ import annotations

import base64
import binascii
import functools
import inspect
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

import msgspec
import trio
from msgspec import UNSET, UnsetType
from msgspec.structs import astuple

from mcp_trio.protocol.errors import (
    DECODE_ERRORS,
    InvalidParams,
    McpError,
    MethodNotFound,
    MissingClientCapability,
    ResourceNotFound,
)
from mcp_trio.protocol.events import RequestReceived
from mcp_trio.protocol.request_state import RequestStateSealer, request_binding
from mcp_trio.protocol.session import ServerSession, nested_capability
from mcp_trio.protocol.types import (
    METHODS,
    TASKS_EXTENSION,
    CallToolParams,
    CompleteResult,
    Completion,
    DiscoverResult,
    EmptyResult,
    InputRequiredResult,
    ListPromptsResult,
    ListResourcesResult,
    ListResourceTemplatesResult,
    ListToolsResult,
    PromptReference,
    ResourceTemplateReference,
    Result,
    capability_enabled,
)
from mcp_trio.server.context import Context, InputRequired, Peer
from mcp_trio.server.listen import listen
from mcp_trio.server.prompts import to_prompt_result
from mcp_trio.server.resources import to_read_result
from mcp_trio.server.tasks import Detach
from mcp_trio.server.tools import (
    ToolDefinition,
    circuit_open_result,
    record_outcome,
    tool_error_result,
    tool_exception_result,
)
from supervision import split_exit

if TYPE_CHECKING:
    from mcp_trio.server.server import Server

__all__ = ["Dispatcher"]

logger: Final = logging.getLogger("mcp_trio.server")
_CONTROL_FLOW: Final = (InputRequired, Detach)
_RAISED: Final = (McpError, InputRequired)  # tuples: a ``X | Y`` union would be built on every call
Handler = Callable[[ServerSession, Peer, RequestReceived], Any]


class _SealedInputs(msgspec.Struct, gc=False):
    answers: dict[str, msgspec.Raw]
    state: str | None = None


_sealed_encoder: Final = msgspec.json.Encoder()
_sealed_decoder: Final = msgspec.json.Decoder(_SealedInputs)


def _encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o{offset}".encode()).decode("ascii")


def _decode_cursor(cursor: Any) -> int:
    if cursor is UNSET or cursor is None:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor.encode("ascii")).decode("ascii")
        if text[:1] == "o" and text[1:].isdigit():
            return int(text[1:])
    except (ValueError, binascii.Error, UnicodeError, AttributeError):
        pass
    raise InvalidParams(f"invalid cursor {cursor!r}")


class Dispatcher:
    """Routes ``RequestReceived`` events of one server to their handlers."""

    def __init__(self, server: Server, sealer: RequestStateSealer, clock: Callable[[], float] = time.time) -> None:
        self._server = server
        self._sealer = sealer
        self._clock = clock  # wall clock: sealed state must verify in any worker process
        self._limiter: trio.CapacityLimiter | None = None  # made on first use, inside a Trio run
        #: Synchronous handlers cancelled while running in a thread (the thread ran on).
        self.abandoned_threads = 0
        self._table: dict[str, Handler] = {
            "tools/list": self._list_tools,
            "tools/call": self._call_tool,
            "resources/list": self._list_resources,
            "resources/templates/list": self._list_templates,
            "resources/read": self._read_resource,
            "resources/subscribe": self._subscribe,
            "resources/unsubscribe": self._unsubscribe,
            "prompts/list": self._list_prompts,
            "prompts/get": self._get_prompt,
            "completion/complete": self._complete,
            "server/discover": self._discover,
            "subscriptions/listen": functools.partial(listen, server),
            "tasks/get": server.tasks.get,
            "tasks/update": server.tasks.update,
            "tasks/cancel": server.tasks.cancel,
        }

    def register(self, method: str, handler: Handler) -> None:
        """Serve ``method`` with ``handler`` (extensions such as listen streams and tasks plug in here)."""
        self._table[method] = handler

    def dispatch(self, session: ServerSession, peer: Peer, event: RequestReceived) -> Any:
        """The result, or a coroutine producing it. Raises ``McpError`` for protocol errors."""
        handler = self._table.get(event.method)
        if handler is None:
            raise MethodNotFound(f"method not found: {event.method}")
        return handler(session, peer, event)

    def finish(self, event: RequestReceived, result: Any) -> Any:
        """Add what the modern wire requires to a complete result."""
        if event.era == "modern" and isinstance(result, Result):
            if result.result_type is UNSET:
                result.result_type = "complete"
            if METHODS[event.method].cacheable and result.result_type == "complete":
                config = self._server.config
                if getattr(result, "ttl_ms", None) is UNSET:
                    result.ttl_ms = config.cache_ttl_ms  # type: ignore[attr-defined]
                if getattr(result, "cache_scope", None) is UNSET:
                    result.cache_scope = config.cache_scope  # type: ignore[attr-defined]
        return result

    # ------------------------------------------------------------------ pagination and listing

    def _page(self, items: list[Any], event: RequestReceived) -> tuple[list[Any], str | UnsetType]:
        offset = _decode_cursor(event.params.cursor)
        if offset > len(items):
            raise InvalidParams(f"invalid cursor {event.params.cursor!r}")
        size = self._server.config.page_size
        page = items[offset : offset + size]
        more = offset + size < len(items)
        return page, (_encode_cursor(offset + size) if more else UNSET)

    def _list_tools(self, session: ServerSession, peer: Peer, event: RequestReceived) -> Any:
        page, cursor = self._page([t.tool for t in self._server.tools.values()], event)
        return self.finish(event, ListToolsResult(tools=page, next_cursor=cursor))

    def _list_resources(self, session: ServerSession, peer: Peer, event: RequestReceived) -> Any:
        page, cursor = self._page([r.resource for r in self._server.resources.values()], event)
        return self.finish(event, ListResourcesResult(resources=page, next_cursor=cursor))

    def _list_templates(self, session: ServerSession, peer: Peer, event: RequestReceived) -> Any:
        page, cursor = self._page([t.template for t in self._server.templates], event)
        return self.finish(event, ListResourceTemplatesResult(resource_templates=page, next_cursor=cursor))

    def _list_prompts(self, session: ServerSession, peer: Peer, event: RequestReceived) -> Any:
        page, cursor = self._page([p.prompt for p in self._server.prompts.values()], event)
        return self.finish(event, ListPromptsResult(prompts=page, next_cursor=cursor))

    def _discover(self, session: ServerSession, peer: Peer, event: RequestReceived) -> Any:
        profile = self._server.profile
        result = DiscoverResult(
            supported_versions=list(profile.modern_versions),
            capabilities=profile.capabilities,
            instructions=profile.instructions if profile.instructions is not None else UNSET,
            meta={"io.modelcontextprotocol/serverInfo": profile.server_info},
        )
        return self.finish(event, result)

    # ------------------------------------------------------------------ MRTR plumbing

    def _open_inputs(self, event: RequestReceived, name: str) -> tuple[dict[str, msgspec.Raw] | None, str | None]:
        """Answers gathered so far (sealed state + this retry's ``inputResponses``) and the app state."""
        params = event.params
        if event.era != "modern":
            return None, None
        responses = params.input_responses
        token = params.request_state
        if token is UNSET and responses is UNSET:
            return None, None
        answers: dict[str, msgspec.Raw] = {}
        state = None
        if token is not UNSET:
            payload = self._sealer.open(token, binding=request_binding(event.method, name), now=self._clock())
            try:
                sealed = _sealed_decoder.decode(payload)
            except DECODE_ERRORS:
                raise InvalidParams("invalid requestState") from None
            answers.update(sealed.answers)
            state = sealed.state
        if responses is not UNSET:
            answers.update(responses)
        return answers, state

    def _input_required(self, event: RequestReceived, name: str, need: InputRequired) -> InputRequiredResult:
        payload = _sealed_encoder.encode(_SealedInputs(need.answers, need.state))
        token = self._sealer.seal(payload, binding=request_binding(event.method, name), now=self._clock())
        return InputRequiredResult(result_type="input_required", input_requests=need.requests, request_state=token)

    # ------------------------------------------------------------------ tools

    def _call_tool(self, session: ServerSession, peer: Peer, event: RequestReceived) -> Any:
        params: CallToolParams = event.params
        tool = self._server.tools.get(params.name)
        if tool is None:
            raise InvalidParams(f"unknown tool: {params.name}")
        answers, state = self._open_inputs(event, tool.name)
        try:
            validated = tool.validate(params.arguments if params.arguments is not UNSET else None)
        except DECODE_ERRORS as exc:  # a bad value, or hostile nesting a recursive argument type walks into
            return self.finish(event, tool_error_result(f"invalid arguments for tool {tool.name}: {exc}"))
        can_detach = False
        if tool.task_support != "forbidden":
            if self._accepts_tasks(event):
                if tool.task_start == "immediately":
                    return self._server.tasks.start(session, peer, event, tool, validated, answers)
                can_detach = True
            elif tool.task_support == "required":
                if event.era == "legacy":
                    raise MethodNotFound(f"tool {tool.name} runs only as a task (2026-07-28 tasks extension)")
                raise MissingClientCapability(
                    f"tool {tool.name} runs only as a task: declare the {TASKS_EXTENSION} extension",
                    nested_capability(f"extensions.{TASKS_EXTENSION}"),
                )
        breaker = tool.breaker
        if breaker is not None and not breaker.allow(now := trio.current_time()):
            return self.finish(event, circuit_open_result(tool, breaker.retry_after(now)))
        if tool.is_async or tool.blocking or tool.context_parameter is not None:
            return self._call_tool_async(session, peer, event, tool, validated, answers, state, can_detach)
        try:
            if tool.arguments.positional:
                value = tool.fn(*astuple(validated))
            else:
                value = tool.fn(**tool.call_args(validated, None))
        except BaseException as exc:
            if breaker is not None:
                record_outcome(breaker, trio.current_time(), exc)
            if isinstance(exc, _RAISED):
                raise
            return self.finish(event, tool_exception_result(tool, _failure(exc), _where(peer, event)))
        if breaker is not None:
            record_outcome(breaker, trio.current_time(), None)
        return self.finish(event, tool.shape(value))

    async def _call_tool_async(
        self,
        session: ServerSession,
        peer: Peer,
        event: RequestReceived,
        tool: ToolDefinition,
        validated: msgspec.Struct,
        answers: dict[str, msgspec.Raw] | None,
        state: str | None,
        can_detach: bool = False,
    ) -> Any:
        context = (
            Context(session, peer, event, answers, state, can_detach=can_detach)
            if tool.context_parameter is not None
            else None
        )
        breaker = tool.breaker
        try:
            value = await self.invoke(tool.fn, tool.call_args(validated, context), tool.is_async, tool.blocking)
        except BaseException as exc:
            if breaker is not None:
                if isinstance(exc, _CONTROL_FLOW):  # asking for input or detaching says nothing of its health
                    breaker.record_ignored(trio.current_time())
                else:
                    record_outcome(breaker, trio.current_time(), exc)
            if isinstance(exc, InputRequired):
                return self._input_required(event, tool.name, exc)
            if isinstance(exc, Detach):
                return self._server.tasks.start(session, peer, event, tool, validated, answers)
            if isinstance(exc, McpError):
                raise
            return self.finish(event, tool_exception_result(tool, _failure(exc), _where(peer, event)))
        if breaker is not None:
            record_outcome(breaker, trio.current_time(), None)
        return self.finish(event, tool.shape(value))

    async def invoke(self, fn: Callable[..., Any], kwargs: dict[str, Any], is_async: bool, blocking: bool) -> Any:
        """Call a handler where it belongs: awaited, in a worker thread (may block), or inline."""
        if is_async:
            return await fn(**kwargs)
        if blocking:
            return await self._in_thread(fn, kwargs)
        return fn(**kwargs)

    async def _in_thread(self, fn: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
        """Run a synchronous handler in a worker thread, at most ``max_handler_threads`` at once.

        Cancellation (the client's, or shutdown) abandons the thread: the request ends now and the thread runs
        on until the function returns, still holding its slot. That is counted and logged.
        """
        limiter = self._limiter
        if limiter is None:
            limiter = self._limiter = trio.CapacityLimiter(self._server.config.max_handler_threads)
        try:
            return await trio.to_thread.run_sync(
                functools.partial(fn, **kwargs), limiter=limiter, abandon_on_cancel=True
            )
        except trio.Cancelled:
            self.abandoned_threads += 1
            logger.warning(
                "%s was cancelled while running in a worker thread: the request ends, the thread runs on until "
                "the function returns",
                getattr(fn, "__qualname__", fn),
            )
            raise

    @staticmethod
    def _accepts_tasks(event: RequestReceived) -> bool:
        """Tasks are per request: the client opts in through this request's ``_meta`` capabilities."""
        return event.meta is not None and capability_enabled(
            event.meta.client_capabilities, f"extensions.{TASKS_EXTENSION}"
        )

    # ------------------------------------------------------------------ resources

    def _read_resource(self, session: ServerSession, peer: Peer, event: RequestReceived) -> Any:
        uri: str = event.params.uri
        read, args, is_async, blocking, ctx_param, mime_type = self.find_resource(uri, event.era)
        if not is_async and not blocking and ctx_param is None:
            return self.finish(event, to_read_result(uri, mime_type, read(**args)))
        return self._read_async(session, peer, event, read, args, ctx_param, (is_async, blocking), uri, mime_type)

    def find_resource(
        self, uri: str, era: str
    ) -> tuple[Callable[..., Any], dict[str, Any], bool, bool, str | None, Any]:
        """(read, its arguments, is_async, blocking, context parameter, mime type) of the resource or template
        ``uri`` names.

        Raises:
            ResourceNotFound: no resource or template matches (``InvalidParams`` on the 2026-07-28 wire).
        """
        server = self._server
        definition = server.resources.get(uri)
        if definition is not None:
            mime = definition.resource.mime_type
            return (
                definition.read,
                {},
                definition.is_async,
                definition.blocking,
                definition.context_parameter,
                None if mime is UNSET else mime,
            )
        for template in server.templates:
            matched = template.match(uri)
            if matched is not None:
                args = {name: getattr(matched, name) for name in template.arguments.names}
                mime = template.template.mime_type
                return (
                    template.read,
                    args,
                    template.is_async,
                    template.blocking,
                    template.context_parameter,
                    None if mime is UNSET else mime,
                )
        if era == "modern":
            raise InvalidParams(f"resource not found: {uri}", {"uri": uri})
        raise ResourceNotFound(f"resource not found: {uri}", {"uri": uri})

    async def read_for(self, uri: str, ctx: Context) -> Any:
        """Read a resource from inside another handler (``Context.read_resource``): its ``ReadResourceResult``."""
        read, args, is_async, blocking, ctx_param, mime_type = self.find_resource(uri, ctx.era)
        if ctx_param is not None:
            args[ctx_param] = ctx
        return to_read_result(uri, mime_type, await self.invoke(read, args, is_async, blocking))

    async def _read_async(
        self,
        session: ServerSession,
        peer: Peer,
        event: RequestReceived,
        read: Callable[..., Any],
        args: dict[str, Any],
        ctx_param: str | None,
        how: tuple[bool, bool],
        uri: str,
        mime_type: str | None,
    ) -> Any:
        answers, state = self._open_inputs(event, uri)
        if ctx_param is not None:
            args[ctx_param] = Context(session, peer, event, answers, state)
        try:
            value = await self.invoke(read, args, *how)
        except InputRequired as need:
            return self._input_required(event, uri, need)
        return self.finish(event, to_read_result(uri, mime_type, value))

    def _subscribe(self, session: ServerSession, peer: Peer, event: RequestReceived) -> Any:
        self._server.subscribe_session(peer, event.params.uri)
        return EmptyResult()

    def _unsubscribe(self, session: ServerSession, peer: Peer, event: RequestReceived) -> Any:
        self._server.unsubscribe_session(peer, event.params.uri)
        return EmptyResult()

    # ------------------------------------------------------------------ prompts and completion

    def _get_prompt(self, session: ServerSession, peer: Peer, event: RequestReceived) -> Any:
        name: str = event.params.name
        prompt = self._server.prompts.get(name)
        if prompt is None:
            raise InvalidParams(f"unknown prompt: {name}")
        arguments = event.params.arguments
        validated = prompt.validate(arguments if arguments is not UNSET else None)
        kwargs = {arg: getattr(validated, arg) for arg in prompt.arguments.names}
        if not prompt.is_async and not prompt.blocking and prompt.context_parameter is None:
            return self.finish(event, to_prompt_result(prompt.render(**kwargs), prompt.prompt.description))
        return self._get_prompt_async(session, peer, event, prompt, kwargs)

    async def _get_prompt_async(
        self, session: ServerSession, peer: Peer, event: RequestReceived, prompt: Any, kwargs: dict[str, Any]
    ) -> Any:
        name = prompt.prompt.name
        answers, state = self._open_inputs(event, name)
        if prompt.context_parameter is not None:
            kwargs[prompt.context_parameter] = Context(session, peer, event, answers, state)
        try:
            value = await self.invoke(prompt.render, kwargs, prompt.is_async, prompt.blocking)
        except InputRequired as need:
            return self._input_required(event, name, need)
        return self.finish(event, to_prompt_result(value, prompt.prompt.description))

    def _complete(self, session: ServerSession, peer: Peer, event: RequestReceived) -> Any:
        params = event.params
        ref = params.ref
        if isinstance(ref, PromptReference):
            key = ("ref/prompt", ref.name)
            if ref.name not in self._server.prompts:
                raise InvalidParams(f"unknown prompt: {ref.name}")
        else:
            assert isinstance(ref, ResourceTemplateReference)
            key = ("ref/resource", ref.uri)
        found = self._server.completions.get((*key, params.argument.name))
        if found is None:
            fallback = self._server.fallback_completion
            if fallback is not None:
                context_value = params.context if params.context is not UNSET else None
                return self._complete_fallback(event, fallback, ref, params.argument, context_value)
            return self.finish(event, CompleteResult(completion=Completion(values=[])))
        complete, blocking = found
        context: dict[str, str] = {}
        if params.context is not UNSET and params.context.arguments is not UNSET:
            context = params.context.arguments
        if blocking:
            return self._complete_in_thread(event, complete, params.argument.value, context)
        return self.finish(event, CompleteResult(completion=_completion(complete(params.argument.value, context))))

    async def _complete_fallback(
        self,
        event: RequestReceived,
        fallback: tuple[Callable[..., Any], bool],
        ref: Any,
        argument: Any,
        context: Any,
    ) -> Any:
        handler, blocking = fallback
        is_async = inspect.iscoroutinefunction(handler)
        call = functools.partial(handler, ref, argument, context)  # by position: the SDK's names may differ
        found = await self.invoke(call, {}, is_async, blocking)
        completion = Completion(values=[]) if found is None else _completion(found)
        return self.finish(event, CompleteResult(completion=completion))

    async def _complete_in_thread(
        self, event: RequestReceived, complete: Callable[..., Any], value: str, context: dict[str, str]
    ) -> Any:
        found = await self._in_thread(complete, {"value": value, "context": context})
        return self.finish(event, CompleteResult(completion=_completion(found)))


def _completion(value: Any) -> Completion:
    """A completer's answer: a ``Completion``, or an iterable of values (at most 100 sent, with the total)."""
    if isinstance(value, Completion):
        return value
    values = list(value)
    return Completion(values=values[:100], total=len(values), has_more=len(values) > 100)


def _failure(exc: BaseException) -> BaseException:
    """What a tool raised, unless it must keep propagating (cancellation, ``KeyboardInterrupt``, ``SystemExit``)."""
    failure, passing = split_exit(exc)
    if passing is not None:
        raise passing
    assert failure is not None
    return failure


def _where(peer: Any, event: RequestReceived) -> str:
    """Where a request runs, for logs: its connection or session (the driver says) and its id."""
    where = getattr(peer, "where", None)
    return f"{where() if where is not None else 'a request'}, request {event.id!r}"
