"""``Client``: typed methods for every client-to-server request of both wire eras.

Each method builds params, sends them through the session driver and returns the decoded result struct
(``mcp_trio.protocol.types``). Errors are exceptions: ``RemoteError`` (the server answered with a JSON-RPC error;
``.code``, ``.message``, ``.data``), ``RequestTimeout``, ``ConnectionClosed``, and ``LocalProtocolError`` for a
call the negotiated wire does not allow (``subscribe`` on 2026-07-28, a capability the server did not declare).
A tool that fails is not an exception: its result has ``is_error`` set, as the specification says.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, Final

import msgspec
import trio
from msgspec import UNSET

from mcp_trio.client.config import ClientConfig
from mcp_trio.client.driver import ClientDriver, ConnectionClosed, ProgressHandler
from mcp_trio.client.subscription import Subscription
from mcp_trio.protocol.errors import LocalProtocolError, RemoteError
from mcp_trio.protocol.types import (
    TERMINAL_TASK_STATUSES,
    CallToolResult,
    Completion,
    CreateTaskResult,
    DiscoverResult,
    GetPromptResult,
    Implementation,
    ListPromptsResult,
    ListResourcesResult,
    ListResourceTemplatesResult,
    ListToolsResult,
    Prompt,
    ReadResourceResult,
    Resource,
    ResourceTemplate,
    ServerCapabilities,
    Tool,
)

__all__ = ["Client"]

_NO_TIMEOUT: Final = object()  # a call that did not pass ``timeout`` uses the config's


class Client:
    """An open MCP client session (made by ``mcp_trio.open_client``; see ``docs/client.md``).

    Every method takes ``timeout`` (seconds; ``None``: wait forever; default: ``ClientConfig.request_timeout``).
    """

    __slots__ = ("_discovered", "_discovered_at", "config", "driver")

    def __init__(self, driver: ClientDriver, config: ClientConfig) -> None:
        self.driver = driver
        self.config = config
        self._discovered: DiscoverResult | None = None
        self._discovered_at = 0.0

    def __repr__(self) -> str:
        info = self.server_info
        name = f"{info.name} {info.version}" if info is not None else "unknown server"
        return f"<mcp_trio.Client {self.protocol_version} to {name}>"

    # ------------------------------------------------------------------ what was negotiated

    @property
    def era(self) -> str:
        """``"modern"`` (2026-07-28, stateless) or ``"legacy"`` (``initialize`` and sessions)."""
        return self.driver.session.era

    @property
    def protocol_version(self) -> str | None:
        return self.driver.session.version

    @property
    def server_info(self) -> Implementation | None:
        return self.driver.session.server_info

    @property
    def server_capabilities(self) -> ServerCapabilities | None:
        return self.driver.session.server_capabilities

    @property
    def instructions(self) -> str | None:
        return self.driver.session.instructions

    # ------------------------------------------------------------------ any request

    async def request(
        self,
        method: str,
        params: Any = UNSET,
        *,
        timeout: Any = _NO_TIMEOUT,
        on_progress: ProgressHandler | None = None,
    ) -> Any:
        """Send any client-to-server request (params as a struct or a dict) and return its decoded result."""
        return await self.driver.request(
            method,
            params,
            timeout=self.config.request_timeout if timeout is _NO_TIMEOUT else timeout,
            on_progress=on_progress,
            max_rounds=self.config.max_input_rounds,
        )

    async def ping(self, *, timeout: Any = _NO_TIMEOUT) -> None:
        """Check that the server answers: ``ping`` on the legacy wire; 2026-07-28 has no ping, so a fresh
        ``server/discover`` stands in for it."""
        if self.driver.session.modern:
            await self.discover(refresh=True, timeout=timeout)
        else:
            await self.request("ping", timeout=timeout)

    async def discover(self, *, refresh: bool = False, timeout: Any = _NO_TIMEOUT) -> DiscoverResult:
        """``server/discover`` (2026-07-28): the cached result while its ``ttlMs`` lasts, unless ``refresh``."""
        cached = self._discovered
        if cached is not None and not refresh:
            ttl = cached.ttl_ms if cached.ttl_ms is not UNSET else 0
            if trio.current_time() - self._discovered_at < ttl / 1000:
                await trio.lowlevel.checkpoint()
                return cached
        result: DiscoverResult = await self.request("server/discover", timeout=timeout)
        self.remember_discovery(result)
        return result

    def remember_discovery(self, result: DiscoverResult) -> None:
        """Cache a ``server/discover`` result (the probe's, when the client opened)."""
        self._discovered = result
        self._discovered_at = trio.current_time()

    # ------------------------------------------------------------------ listings

    async def list_tools(self, *, timeout: Any = _NO_TIMEOUT) -> list[Tool]:
        """Every tool, following pages (at most ``ClientConfig.max_pages``)."""
        return [item async for item in self._every("tools/list", "tools", timeout)]

    async def list_tools_page(self, cursor: str | None = None, *, timeout: Any = _NO_TIMEOUT) -> ListToolsResult:
        """One page of tools; pass its ``next_cursor`` for the next."""
        result: ListToolsResult = await self.request("tools/list", _page(cursor), timeout=timeout)
        usable = self._usable(result.tools)
        if len(usable) != len(result.tools):
            result = msgspec.structs.replace(result, tools=usable)
        return result

    def _usable(self, tools: list[Tool]) -> list[Tool]:
        """Show listed tools to the framing (HTTP sends arguments marked ``x-mcp-header`` as headers too) and leave
        out those it cannot call (an invalid ``x-mcp-header``: SEP-2243 says a client must not use them)."""
        learn = getattr(self.driver.outlet, "learn_tools", None)
        if learn is None:
            return tools
        invalid: set[str] = learn(tools)
        return [tool for tool in tools if tool.name not in invalid] if invalid else tools

    async def list_resources(self, *, timeout: Any = _NO_TIMEOUT) -> list[Resource]:
        return [item async for item in self._every("resources/list", "resources", timeout)]

    async def list_resources_page(
        self, cursor: str | None = None, *, timeout: Any = _NO_TIMEOUT
    ) -> ListResourcesResult:
        result: ListResourcesResult = await self.request("resources/list", _page(cursor), timeout=timeout)
        return result

    async def list_resource_templates(self, *, timeout: Any = _NO_TIMEOUT) -> list[ResourceTemplate]:
        return [item async for item in self._every("resources/templates/list", "resource_templates", timeout)]

    async def list_resource_templates_page(
        self, cursor: str | None = None, *, timeout: Any = _NO_TIMEOUT
    ) -> ListResourceTemplatesResult:
        result: ListResourceTemplatesResult = await self.request(
            "resources/templates/list", _page(cursor), timeout=timeout
        )
        return result

    async def list_prompts(self, *, timeout: Any = _NO_TIMEOUT) -> list[Prompt]:
        return [item async for item in self._every("prompts/list", "prompts", timeout)]

    async def list_prompts_page(self, cursor: str | None = None, *, timeout: Any = _NO_TIMEOUT) -> ListPromptsResult:
        result: ListPromptsResult = await self.request("prompts/list", _page(cursor), timeout=timeout)
        return result

    async def _every(self, method: str, field: str, timeout: Any) -> AsyncIterator[Any]:
        cursor: str | None = None
        seen: set[str] = set()
        for _ in range(self.config.max_pages):
            result = await self.request(method, _page(cursor), timeout=timeout)
            items = self._usable(result.tools) if method == "tools/list" else getattr(result, field)
            for item in items:
                yield item
            following = result.next_cursor
            if following is UNSET or following is None:
                return
            if following in seen:
                raise RemoteError(-32603, f"{method}: the server repeated cursor {following!r}")
            seen.add(following)
            cursor = following
        raise RemoteError(-32603, f"{method}: more than {self.config.max_pages} pages")

    # ------------------------------------------------------------------ tools, resources, prompts

    async def call_tool(
        self,
        name: str,
        arguments: dict[str, Any] | None = None,
        *,
        timeout: Any = _NO_TIMEOUT,
        on_progress: ProgressHandler | None = None,
        task: dict[str, Any] | None = None,
    ) -> CallToolResult | CreateTaskResult:
        """Call a tool. A tool's own failure is a result with ``is_error`` set, not an exception.

        ``task`` asks the server to run the call as a task (legacy: ``params.task``, e.g. ``{"ttl": 60000}``);
        the result is then the created task (poll it with ``get_task``).
        """
        params: dict[str, Any] = {"name": name}
        if arguments is not None:
            params["arguments"] = arguments
        if task is not None:
            params["task"] = task
        result: CallToolResult | CreateTaskResult = await self.request(
            "tools/call", params, timeout=timeout, on_progress=on_progress
        )
        return result

    async def read_resource(self, uri: str, *, timeout: Any = _NO_TIMEOUT) -> ReadResourceResult:
        result: ReadResourceResult = await self.request("resources/read", {"uri": uri}, timeout=timeout)
        return result

    async def get_prompt(
        self, name: str, arguments: dict[str, str] | None = None, *, timeout: Any = _NO_TIMEOUT
    ) -> GetPromptResult:
        params: dict[str, Any] = {"name": name}
        if arguments is not None:
            params["arguments"] = arguments
        result: GetPromptResult = await self.request("prompts/get", params, timeout=timeout)
        return result

    async def complete(
        self,
        ref: dict[str, Any],
        argument: str,
        value: str,
        *,
        context: dict[str, str] | None = None,
        timeout: Any = _NO_TIMEOUT,
    ) -> Completion:
        """Suggestions for one argument: ``ref`` is ``{"type": "ref/prompt", "name": ...}`` or
        ``{"type": "ref/resource", "uri": ...}``; ``context`` holds arguments already chosen."""
        params: dict[str, Any] = {"ref": ref, "argument": {"name": argument, "value": value}}
        if context is not None:
            params["context"] = {"arguments": context}
        result = await self.request("completion/complete", params, timeout=timeout)
        completion: Completion = result.completion
        return completion

    async def set_logging_level(self, level: str, *, timeout: Any = _NO_TIMEOUT) -> None:
        """Ask for log messages at or above ``level``: ``logging/setLevel`` on the legacy wire; on 2026-07-28 the
        level travels in every later request's ``_meta`` (there is no session to set it on)."""
        session = self.driver.session
        if session.modern:
            probe = type(session)(modern=True, log_level=level)  # validates the level the way the session does
            session.log_level = probe.log_level
            await trio.lowlevel.checkpoint()
            return
        await self.request("logging/setLevel", {"level": level}, timeout=timeout)

    async def subscribe(self, uri: str, *, timeout: Any = _NO_TIMEOUT) -> None:
        """Legacy: ``notifications/resources/updated`` for ``uri`` arrive at ``on_notification``."""
        await self.request("resources/subscribe", {"uri": uri}, timeout=timeout)

    async def unsubscribe(self, uri: str, *, timeout: Any = _NO_TIMEOUT) -> None:
        await self.request("resources/unsubscribe", {"uri": uri}, timeout=timeout)

    @asynccontextmanager
    async def listen(
        self,
        *,
        tools: bool = False,
        prompts: bool = False,
        resources: bool = False,
        resource_uris: Sequence[str] = (),
        capacity: int = 256,
    ) -> AsyncIterator[Subscription]:
        """2026-07-28: subscribe to list changes and resource updates for the duration of the block.

        ``async for method, params in subscription`` yields them as they come; ``subscription.acknowledged``
        (or ``await subscription.wait_acknowledged()``) is what the server honours. Leaving the block cancels
        the stream; iteration ends if the server ends it first. (Legacy sessions: ``subscribe``/``unsubscribe``
        and ``on_notification``.)
        """
        if not self.driver.session.modern:
            raise LocalProtocolError("subscriptions/listen is part of the 2026-07-28 wire; use subscribe() here")
        wanted: dict[str, Any] = {}
        if tools:
            wanted["toolsListChanged"] = True
        if prompts:
            wanted["promptsListChanged"] = True
        if resources:
            wanted["resourcesListChanged"] = True
        if resource_uris:
            wanted["resourceSubscriptions"] = list(resource_uris)
        subscription = Subscription(capacity)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._listen, {"notifications": wanted}, subscription)
            try:
                yield subscription
            finally:
                nursery.cancel_scope.cancel()

    async def _listen(self, params: dict[str, Any], subscription: Subscription) -> None:
        try:
            await self.driver.listen(params, subscription)
        except (RemoteError, ConnectionClosed):
            subscription.end()  # a refused or broken stream ends the iteration; it is not the caller's crash

    async def roots_changed(self) -> None:
        """Legacy: tell the server this client's roots changed (``notifications/roots/list_changed``)."""
        await self.driver.notify("notifications/roots/list_changed")

    # ------------------------------------------------------------------ tasks

    async def get_task(self, task_id: str, *, timeout: Any = _NO_TIMEOUT) -> Any:
        """``tasks/get``: the task's status."""
        return await self.request("tasks/get", {"taskId": task_id}, timeout=timeout)

    async def get_task_result(self, task_id: str, *, timeout: Any = _NO_TIMEOUT) -> Any:
        """``tasks/result`` (legacy): waits for the task's end and returns the original request's result."""
        return await self.request("tasks/result", {"taskId": task_id}, timeout=timeout)

    async def wait_task(self, task_id: str, *, timeout: Any = _NO_TIMEOUT) -> Any:
        """Poll ``tasks/get`` until the task ends (honouring the server's poll interval), answering the task's
        input requests with the client's handlers on the way (``tasks/update``); returns the final status.

        ``timeout`` bounds each request, not the wait: wrap the call in ``trio.fail_after`` for that.
        """
        while True:
            status = await self.get_task(task_id, timeout=timeout)
            if status.status in TERMINAL_TASK_STATUSES:
                return status
            requests = status.input_requests
            if status.status == "input_required" and requests is not UNSET and requests:
                answers = await self.driver.answer_input_requests(requests)
                await self.update_task(task_id, answers, timeout=timeout)
                continue
            interval_ms = status.poll_interval_ms if status.poll_interval_ms is not UNSET else status.poll_interval
            await trio.sleep((interval_ms if isinstance(interval_ms, int) and interval_ms > 0 else 1000) / 1000)

    async def list_tasks(self, *, timeout: Any = _NO_TIMEOUT) -> list[Any]:
        return [item async for item in self._every("tasks/list", "tasks", timeout)]

    async def cancel_task(self, task_id: str, *, timeout: Any = _NO_TIMEOUT) -> Any:
        return await self.request("tasks/cancel", {"taskId": task_id}, timeout=timeout)

    async def update_task(self, task_id: str, input_responses: dict[str, Any], *, timeout: Any = _NO_TIMEOUT) -> Any:
        """``tasks/update`` (2026-07-28 tasks extension): answer the task's outstanding input requests."""
        responses = {
            key: value if isinstance(value, msgspec.Raw) else msgspec.Raw(msgspec.json.encode(value))
            for key, value in input_responses.items()
        }
        return await self.request("tasks/update", {"taskId": task_id, "inputResponses": responses}, timeout=timeout)


def _page(cursor: str | None) -> Any:
    return {"cursor": cursor} if cursor is not None else UNSET
