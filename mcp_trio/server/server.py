"""``Server``: the registration API users write against, and the entry points that serve it.

``add_tool(fn)`` (and ``add_resource``, ``add_resource_template``, ``add_prompt``, ``add_completion``) is the
API; ``@server.tool()`` and friends are sugar that register and return ``fn`` unchanged, so decorated functions
stay plain, testable functions.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any, Literal, TypedDict, TypeVar

import trio
from msgspec import UNSET

from mcp_trio.protocol.errors import LocalProtocolError
from mcp_trio.protocol.profile import ServerProfile
from mcp_trio.protocol.request_state import RequestStateSealer
from mcp_trio.protocol.session import ServerSession
from mcp_trio.protocol.types import (
    TASKS_EXTENSION,
    Icon,
    Implementation,
    ListChangedCapability,
    ResourcesCapability,
    ServerCapabilities,
    ToolAnnotations,
)
from mcp_trio.runtime.application import Listener, Runtime, open_runtime
from mcp_trio.runtime.breaker import CircuitBreaker
from mcp_trio.runtime.listeners import HttpListener, StdioListener, TcpListener, UnixListener
from mcp_trio.server.config import BreakerSettings, ServerConfig
from mcp_trio.server.context import Context
from mcp_trio.server.dispatch import Dispatcher
from mcp_trio.server.driver import SessionDriver
from mcp_trio.server.hub import PROMPTS, RESOURCES, TOOLS, NotificationHub, Subscriber
from mcp_trio.server.metrics import RequestMetrics
from mcp_trio.server.prompts import PromptDefinition, define_prompt
from mcp_trio.server.resources import ResourceDefinition, TemplateDefinition, define_resource, define_template
from mcp_trio.server.tasks import TaskManager
from mcp_trio.server.tools import ToolDefinition, define_tool

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from mcp_trio.runtime.shard import Shard
    from mcp_trio.transports.http import HttpConfig
    from mcp_trio.transports.port import Outlet

__all__ = ["Server", "ToolOptions", "ResourceOptions", "TemplateOptions", "PromptOptions"]


class ToolOptions(TypedDict, total=False):
    """The keyword options of ``Server.tool`` (those of ``add_tool``), typed for checkers and editors."""

    name: str | None
    title: str | None
    description: str | None
    annotations: ToolAnnotations | None
    structured_output: bool | None
    input_schema: dict[str, Any] | None
    output_schema: dict[str, Any] | None
    task_support: Literal["forbidden", "optional", "required"] | None
    task_start: Literal["immediately", "on_detach"]
    icons: list[Icon] | None
    meta: dict[str, Any] | None
    blocking: bool
    breaker: BreakerSettings | Literal[False] | None


class TemplateOptions(TypedDict, total=False):
    """The keyword options of ``Server.resource_template`` (those of ``add_resource_template``)."""

    name: str | None
    title: str | None
    description: str | None
    mime_type: str | None
    icons: list[Icon] | None
    blocking: bool


class ResourceOptions(TemplateOptions, total=False):
    """The keyword options of ``Server.resource`` (those of ``add_resource``)."""

    size: int | None


class PromptOptions(TypedDict, total=False):
    """The keyword options of ``Server.prompt`` (those of ``add_prompt``)."""

    name: str | None
    title: str | None
    description: str | None
    argument_descriptions: dict[str, str] | None
    icons: list[Icon] | None
    blocking: bool


#: A ``{variable}`` in a resource URI makes it a template (RFC 6570 level 1, as the official SDK infers).
_TEMPLATE_VARIABLE = re.compile(r"\{[^{}]+\}")

F = TypeVar("F", bound=Callable[..., Any])
Completer = Callable[[str, dict[str, str]], Any]


class Server:
    """An MCP server: what it offers, and how to serve it over any transport.

    Args:
        name: ``serverInfo.name``.
        version: ``serverInfo.version``.
        instructions: usage hints for the client's model.
        title, description, website_url, icons: the rest of ``serverInfo``.
        config: limits and defaults (``ServerConfig``).
        request_state_key: HMAC key for sealed MRTR state (random per process if omitted; give one key to all
            worker processes so any of them can verify a retry).
        logging: declare the ``logging`` capability (handlers log through ``Context.log``).
        lifespan: ``lifespan(server)``, an async context manager entered when the server starts serving and left
            when it stops; what it yields is ``Context.lifespan_context`` in every handler (database pools...).
    """

    def __init__(
        self,
        name: str,
        version: str = "0.0.0",
        *,
        instructions: str | None = None,
        title: str | None = None,
        description: str | None = None,
        website_url: str | None = None,
        icons: list[Icon] | None = None,
        config: ServerConfig | None = None,
        request_state_key: bytes | None = None,
        logging: bool = True,
        lifespan: Callable[[Server], AbstractAsyncContextManager[Any]] | None = None,
    ) -> None:
        self.info = Implementation(
            name=name,
            version=version,
            title=title if title is not None else UNSET,
            description=description if description is not None else UNSET,
            website_url=website_url if website_url is not None else UNSET,
            icons=icons if icons is not None else UNSET,
        )
        self.instructions = instructions
        self.config = config if config is not None else ServerConfig()
        self.logging = logging
        self.lifespan = lifespan
        self.lifespan_value: Any = None
        self.tools: dict[str, ToolDefinition] = {}
        self.resources: dict[str, ResourceDefinition] = {}
        self.templates: list[TemplateDefinition] = []
        self.prompts: dict[str, PromptDefinition] = {}
        self.completions: dict[tuple[str, str, str], tuple[Completer, bool]] = {}
        #: The SDK-style handler of every completion request no specific completer takes (``completion()``).
        self.fallback_completion: tuple[Callable[..., Any], bool] | None = None
        self.hub = NotificationHub()
        #: Request counts and latency per method and tool (``/metrics``, ``/health``).
        self.metrics = RequestMetrics()
        self.tasks = TaskManager(self)
        self.dispatcher = Dispatcher(self, RequestStateSealer(request_state_key, ttl=self.config.request_state_ttl))
        self._profile: ServerProfile | None = None

    def set_request_state_key(self, key: bytes) -> None:
        """Seal MRTR ``requestState`` with ``key`` from now on (before serving): every process of a server with
        ``--workers`` gets the same key from its parent, so a retry may land on any worker."""
        self.dispatcher = Dispatcher(self, RequestStateSealer(key, ttl=self.config.request_state_ttl))

    # ------------------------------------------------------------------ profile

    @property
    def capabilities(self) -> ServerCapabilities:
        return self.profile.capabilities

    @property
    def profile(self) -> ServerProfile:
        """Identity and capabilities shared by every session (rebuilt when the offer changes shape)."""
        if self._profile is None:
            self._profile = ServerProfile(
                server_info=self.info, capabilities=self._build_capabilities(), instructions=self.instructions
            )
        return self._profile

    def _build_capabilities(self) -> ServerCapabilities:
        listed = ListChangedCapability(list_changed=True)
        has_resources = bool(self.resources or self.templates)
        return ServerCapabilities(
            tools=listed if self.tools else UNSET,
            prompts=listed if self.prompts else UNSET,
            resources=ResourcesCapability(subscribe=True, list_changed=True) if has_resources else UNSET,
            completions={} if (self.prompts or self.templates) else UNSET,
            logging={} if self.logging else UNSET,
            extensions={TASKS_EXTENSION: {}} if self._offers_tasks() else UNSET,
        )

    def _offers_tasks(self) -> bool:
        return any(tool.task_support != "forbidden" for tool in self.tools.values())

    def _changed(self, method: str, had_any: bool, has_any: bool) -> None:
        if had_any != has_any:
            self._profile = None
        self.hub.post_list_changed(method)

    # ------------------------------------------------------------------ tools

    def add_tool(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        annotations: ToolAnnotations | None = None,
        structured_output: bool | None = None,
        input_schema: dict[str, Any] | None = None,
        output_schema: dict[str, Any] | None = None,
        task_support: Literal["forbidden", "optional", "required"] | None = None,
        task_start: Literal["immediately", "on_detach"] = "immediately",
        icons: list[Icon] | None = None,
        meta: dict[str, Any] | None = None,
        blocking: bool = True,
        breaker: BreakerSettings | Literal[False] | None = None,
    ) -> ToolDefinition:
        """Register ``fn`` as a tool; its signature is the input schema and its docstring the description.

        Args:
            fn: sync or async function; a parameter annotated ``Context`` receives the request context.
            blocking: a synchronous ``fn`` may block, so it runs in a worker thread (at most
                ``ServerConfig.max_handler_threads`` at once) and never stalls other sessions. Pass ``False``
                for quick, pure functions: they then run on the event loop, with no thread hop.
            breaker: a circuit breaker for this tool (``BreakerSettings``): after that many consecutive failures
                calls are refused at once with an ``isError`` result until it recovers. ``None`` takes
                ``ServerConfig.tool_breaker``; ``False`` gives the tool none.
            name: defaults to ``fn.__name__``.
            structured_output: force (True) or suppress (False) ``outputSchema``/``structuredContent``;
                by default they follow the return annotation.
            input_schema, output_schema: publish these schemas instead of the derived ones (arguments are
                still validated against the signature).
            task_support: run as a task (2026-07-28 tasks extension) when the client accepts tasks:
                "optional" (else synchronously) or "required" (else -32021).
            task_start: "immediately", or "on_detach" for tools that gather input by MRTR first and become a
                task where they call ``await ctx.detach()``.

        Raises:
            LocalProtocolError: a bad name, a duplicate, or a signature that cannot be described.
        """

        definition = define_tool(
            fn,
            context_type=Context,
            name=name,
            title=title,
            description=description,
            annotations=annotations,
            structured_output=structured_output,
            input_schema=input_schema,
            output_schema=output_schema,
            task_support=task_support,
            task_start=task_start,
            icons=icons,
            meta=meta,
            blocking=blocking,
            breaker=self._breaker_for(name or str(getattr(fn, "__name__", "tool")), breaker),
        )
        if definition.name in self.tools:
            raise LocalProtocolError(f"tool {definition.name!r} is already registered")
        had = bool(self.tools)
        self.tools[definition.name] = definition
        self._changed(TOOLS, had, True)
        if definition.task_support != "forbidden":
            self._profile = None  # the tasks extension is now offered
        return definition

    def _breaker_for(self, name: str, breaker: BreakerSettings | Literal[False] | None) -> CircuitBreaker | None:
        settings = self.config.tool_breaker if breaker is None else breaker
        if not settings:
            return None
        return CircuitBreaker(
            settings.failure_threshold, settings.open_timeout, settings.half_open_probes, name=f"tool {name}"
        )

    def remove_tool(self, name: str) -> None:
        """Unregister a tool; connected clients are told the list changed."""
        del self.tools[name]
        self._changed(TOOLS, True, bool(self.tools))

    def tool(self, **options: Unpack[ToolOptions]) -> Callable[[F], F]:
        """Decorator form of ``add_tool``; returns the function unchanged."""

        def register(fn: F) -> F:
            self.add_tool(fn, **options)
            return fn

        return register

    # ------------------------------------------------------------------ resources

    def add_resource(
        self,
        read: Callable[..., Any],
        uri: str,
        *,
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        mime_type: str | None = None,
        size: int | None = None,
        icons: list[Icon] | None = None,
        blocking: bool = True,
    ) -> ResourceDefinition | TemplateDefinition:
        """Register a resource at a fixed ``uri``; ``read()`` returns str, bytes or contents. A URI with
        ``{variables}`` is a template (``add_resource_template``), as in the official SDK.

        ``blocking=False`` runs a synchronous ``read`` on the event loop instead of a worker thread
        (see ``add_tool``).

        Raises:
            LocalProtocolError: a resource or template with this URI is already registered.
        """
        if _TEMPLATE_VARIABLE.search(uri):
            if size is not None:
                raise LocalProtocolError(f"resource template {uri!r}: size applies to fixed resources only")
            return self.add_resource_template(
                read,
                uri,
                name=name,
                title=title,
                description=description,
                mime_type=mime_type,
                icons=icons,
                blocking=blocking,
            )
        if uri in self.resources:
            raise LocalProtocolError(f"resource {uri!r} is already registered")
        definition = define_resource(
            read,
            uri,
            context_type=Context,
            name=name,
            blocking=blocking,
            title=title,
            description=description,
            mime_type=mime_type,
            size=size,
            icons=icons,
        )
        had = bool(self.resources or self.templates)
        self.resources[uri] = definition
        self._changed(RESOURCES, had, True)
        return definition

    def resource(self, uri: str, **options: Unpack[ResourceOptions]) -> Callable[[F], F]:
        def register(fn: F) -> F:
            self.add_resource(fn, uri, **options)
            return fn

        return register

    def add_resource_template(
        self,
        read: Callable[..., Any],
        uri_template: str,
        *,
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        mime_type: str | None = None,
        icons: list[Icon] | None = None,
        blocking: bool = True,
    ) -> TemplateDefinition:
        """Register a ``{var}`` URI template; ``read(**vars)`` resolves a matching URI.

        ``blocking=False`` runs a synchronous ``read`` on the event loop (see ``add_tool``).

        Raises:
            LocalProtocolError: a template with this URI template is already registered.
        """
        if any(existing.template.uri_template == uri_template for existing in self.templates):
            raise LocalProtocolError(f"resource template {uri_template!r} is already registered")
        definition = define_template(
            read,
            uri_template,
            context_type=Context,
            name=name,
            blocking=blocking,
            title=title,
            description=description,
            mime_type=mime_type,
            icons=icons,
        )
        had = bool(self.resources or self.templates)
        self.templates.append(definition)
        self._changed(RESOURCES, had, True)
        return definition

    def resource_template(self, uri_template: str, **options: Unpack[TemplateOptions]) -> Callable[[F], F]:
        def register(fn: F) -> F:
            self.add_resource_template(fn, uri_template, **options)
            return fn

        return register

    def notify_resource_updated(self, uri: str) -> None:
        """Tell subscribers of ``uri`` it changed (legacy ``resources/subscribe`` and modern listen streams)."""
        self.hub.post_resource_updated(uri)

    def subscribe_session(self, peer: Any, uri: str) -> None:
        subscriber = getattr(peer, "subscriber", None)
        if isinstance(subscriber, Subscriber):
            self.hub.subscribe(subscriber, uri)

    def unsubscribe_session(self, peer: Any, uri: str) -> None:
        subscriber = getattr(peer, "subscriber", None)
        if isinstance(subscriber, Subscriber):
            self.hub.unsubscribe(subscriber, uri)

    # ------------------------------------------------------------------ prompts and completions

    def add_prompt(
        self,
        render: Callable[..., Any],
        *,
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        argument_descriptions: dict[str, str] | None = None,
        icons: list[Icon] | None = None,
        blocking: bool = True,
    ) -> PromptDefinition:
        """Register a prompt; its string parameters are the prompt's arguments.

        ``blocking=False`` runs a synchronous ``render`` on the event loop (see ``add_tool``).

        Raises:
            LocalProtocolError: a prompt with this name is already registered.
        """
        definition = define_prompt(
            render,
            context_type=Context,
            name=name,
            blocking=blocking,
            title=title,
            description=description,
            argument_descriptions=argument_descriptions,
            icons=icons,
        )
        if definition.prompt.name in self.prompts:
            raise LocalProtocolError(f"prompt {definition.prompt.name!r} is already registered")
        had = bool(self.prompts)
        self.prompts[definition.prompt.name] = definition
        self._changed(PROMPTS, had, True)
        return definition

    def remove_prompt(self, name: str) -> None:
        del self.prompts[name]
        self._changed(PROMPTS, True, bool(self.prompts))

    def prompt(self, **options: Unpack[PromptOptions]) -> Callable[[F], F]:
        def register(fn: F) -> F:
            self.add_prompt(fn, **options)
            return fn

        return register

    def add_completion(
        self,
        complete: Completer,
        *,
        argument: str | None = None,
        prompt: str | None = None,
        resource_template: str | None = None,
        blocking: bool = True,
    ) -> None:
        """Suggest values for one argument of a prompt or resource template.

        ``complete(value, context)`` returns an iterable of strings (at most 100 are sent, with ``total`` and
        ``hasMore``) or a ``Completion``. It runs in a worker thread unless ``blocking=False``.

        With no ``argument``, ``prompt`` or ``resource_template``, ``complete(ref, argument, context)`` answers
        every request no specific completer matches, as the official SDK's ``@completion()`` handler does
        (``ref`` a ``PromptReference`` or ``ResourceTemplateReference``, ``argument`` a ``CompletionArgument``,
        ``context`` a ``CompletionContext`` or ``None``; it may be a coroutine function, and return ``None`` for
        no suggestions).
        """
        if argument is None and prompt is None and resource_template is None:
            self.fallback_completion = (complete, blocking)
            self._profile = None
            return
        if argument is None:
            raise ValueError("name the argument= to complete (or nothing at all, for a handler of every request)")
        if (prompt is None) == (resource_template is None):
            raise ValueError("name exactly one of prompt= or resource_template=")
        key = ("ref/prompt", prompt) if prompt is not None else ("ref/resource", resource_template)
        self.completions[(key[0], str(key[1]), argument)] = (complete, blocking)
        self._profile = None

    def completion(self, *, argument: str | None = None, **ref: Any) -> Callable[[F], F]:
        def register(fn: F) -> F:
            self.add_completion(fn, argument=argument, **ref)
            return fn

        return register

    # ------------------------------------------------------------------ what framings and the runtime see

    @property
    def limits(self) -> ServerConfig:
        """The limits framings read (``SessionHost``): the server's config."""
        return self.config

    def input_schema(self, tool: str) -> dict[str, Any] | None:
        definition = self.tools.get(tool)
        return definition.tool.input_schema if definition is not None else None

    def open_session(self, outlet: Outlet, place: Shard, snapshot: bytes | None = None) -> SessionDriver:
        """A session driver for one client whose messages go to ``outlet`` (``SessionHost``); with ``snapshot``
        (``SessionDriver.snapshot`` from this or another process), the session carries on from it.

        Raises:
            InvalidRequest: ``snapshot`` is not one.
        """
        driver = SessionDriver(self, outlet, place, ServerSession(self.profile))
        if snapshot is not None:
            driver.restored(snapshot)
        return driver

    # ------------------------------------------------------------------ serving

    @asynccontextmanager
    async def open_runtime(self) -> AsyncIterator[Runtime]:
        """Run this server's supervision tree (no listeners yet) in the caller's task tree.

        For embedding in a Trio application: add transports with ``runtime.add_listener(...)``
        (``TcpListener``, ``UnixListener``, ``HttpListener``, ``StdioListener`` from ``mcp_trio.runtime``);
        leaving the block stops everything in order.
        """
        self.hub.bind(trio.lowlevel.current_trio_token())
        async with contextlib.AsyncExitStack() as stack:
            if self.lifespan is not None:
                self.lifespan_value = await stack.enter_async_context(self.lifespan(self))
            async with open_runtime(self, self.config.runtime) as runtime:
                yield runtime

    def run(
        self,
        transport: str = "stdio",
        *,
        host: str = "127.0.0.1",
        port: int = 8000,
        path: str = "/mcp",
        streamable_http_path: str | None = None,
    ) -> None:
        """Serve until interrupted, as the official SDK's ``run`` does: ``"stdio"``, ``"streamable-http"`` (or
        ``"http"``) at ``http://host:port/path``, ``"tcp"``, or ``"websocket"`` (a non-standard transport).
        ``streamable_http_path`` is the SDK's name for ``path``.

        Raises:
            ValueError: a transport name this server does not have.
        """
        if streamable_http_path is not None:
            path = streamable_http_path
        if transport == "stdio":
            trio.run(self.serve_stdio)
        elif transport in ("streamable-http", "http"):
            trio.run(functools.partial(self.serve_http, host, port, path=path))
        elif transport == "tcp":
            trio.run(self.serve_tcp, host, port)
        elif transport == "websocket":
            from mcp_trio.runtime.listeners import WebSocketListener

            trio.run(self.serve, WebSocketListener(host, port, path))
        else:
            raise ValueError(
                f"unknown transport {transport!r}: use 'stdio', 'streamable-http', 'tcp' or 'websocket' "
                "(the SDK's deprecated 'sse' is not served)"
            )

    async def serve(
        self, *listeners: Listener, task_status: trio.TaskStatus[list[Any]] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Serve on every listener under one supervision tree until cancelled; reports what each bound."""
        async with self.open_runtime() as runtime:
            bound = [await runtime.add_listener(listener) for listener in listeners]
            task_status.started(bound)
            await trio.sleep_forever()

    async def serve_stdio(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve one session on this process's stdin/stdout; returns when the client closes stdin."""
        listener = StdioListener()
        async with self.open_runtime() as runtime:
            await runtime.add_listener(listener)
            task_status.started()
            await listener.finished.wait()

    async def serve_tcp(
        self, host: str, port: int, *, task_status: trio.TaskStatus[tuple[str, int]] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Serve newline-delimited JSON over TCP; ``nursery.start`` returns the bound (host, port)."""
        await self._serve_one(TcpListener(host, port), task_status)

    async def serve_unix(self, path: str, *, task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve newline-delimited JSON on a Unix domain socket at ``path``."""
        await self._serve_one(UnixListener(path), task_status)

    async def serve_http(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        path: str = "/mcp",
        config: HttpConfig | None = None,
        task_status: trio.TaskStatus[tuple[str, int]] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Serve Streamable HTTP (both eras) at ``http://host:port/path``; reports the bound (host, port).

        ``config`` is an ``mcp_trio.transports.http.HttpConfig`` (limits, sessions, Host/Origin, auth).
        """
        await self._serve_one(HttpListener(host, port, path, config), task_status)

    async def _serve_one(self, listener: Listener, task_status: trio.TaskStatus[Any]) -> None:
        async with self.open_runtime() as runtime:
            task_status.started(await runtime.add_listener(listener))
            await trio.sleep_forever()
