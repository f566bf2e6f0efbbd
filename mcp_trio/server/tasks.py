"""The modern tasks extension (``io.modelcontextprotocol/tasks``, 2026-07-28): tool calls that outlive requests.

Theory of operation
-------------------
A tool registered with ``task_support="optional"`` or ``"required"`` runs as a *task* when the request's client
capabilities (``_meta``) declare the extension: ``tools/call`` answers at once with a flat ``CreateTaskResult``
(``resultType: "task"``) and the tool runs in the background, in a long-lived nursery the transport provides
(``Peer.nursery``). The client polls ``tasks/get``; input the tool asks for (``Context.elicit`` and friends)
surfaces as ``status: "input_required"`` with ``inputRequests`` and is answered with ``tasks/update``, possibly
one key at a time; ``tasks/cancel`` cancels the tool and settles the task as ``cancelled``. Without the
extension an optional tool runs synchronously and a required one is refused with -32021.

A tool registered with ``task_start="on_detach"`` first runs as an ordinary request (so it can gather input by
MRTR) and becomes a task where it calls ``await ctx.detach()``: that call ends the request's run, and the tool
is re-run from the top as a task with the answers gathered so far (MRTR handlers are idempotent up to their
inputs, so the re-run is safe). The store is bounded (``max_tasks``) and forgets terminal tasks after their TTL.
"""

from __future__ import annotations

import datetime
import logging
import secrets
from typing import TYPE_CHECKING, Any, Final

import msgspec
import trio
from msgspec import UNSET

from mcp_trio.protocol.errors import InternalError, InvalidParams, McpError, ServerBusy
from mcp_trio.protocol.events import RequestReceived
from mcp_trio.protocol.jsonrpc import Notification
from mcp_trio.protocol.session import ServerSession
from mcp_trio.protocol.types import (
    TERMINAL_TASK_STATUSES,
    CallToolResult,
    CreateTaskResult,
    EmptyResult,
    ErrorObject,
    GetTaskResult,
    InputRequest,
    TaskStatus,
)
from mcp_trio.server.context import Context, Peer
from mcp_trio.server.tools import circuit_open_result, record_outcome, tool_exception_result
from supervision import split_exit

if TYPE_CHECKING:
    from mcp_trio.server.server import Server
    from mcp_trio.server.tools import ToolDefinition
    from supervision import DynamicSupervisor

__all__ = ["TaskManager", "TaskRecord", "Detach"]

logger: Final = logging.getLogger("mcp_trio.tasks")


class Detach(Exception):
    """Control flow: a ``task_start="on_detach"`` tool reached ``ctx.detach()`` while running as a request."""


def _now_iso() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class TaskRecord:
    """One task's state. Slotted and small: the store may hold thousands."""

    __slots__ = (
        "_answered",
        "answers",
        "created_at",
        "error",
        "expires_at",
        "input_requests",
        "result",
        "scope",
        "status",
        "task_id",
        "updated_at",
    )

    def __init__(self, task_id: str) -> None:
        self.task_id = task_id
        self.status: TaskStatus = "working"
        self.created_at = self.updated_at = _now_iso()
        self.input_requests: dict[str, InputRequest] | None = None
        self.answers: dict[str, msgspec.Raw] = {}
        self.result: dict[str, Any] | None = None
        self.error: ErrorObject | None = None
        self.scope = trio.CancelScope()
        self.expires_at: float | None = None  # trio time at which a terminal task is forgotten
        self._answered: trio.Event | None = None

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_TASK_STATUSES

    def set_status(self, status: TaskStatus) -> None:
        self.status = status
        self.updated_at = _now_iso()

    async def wait_for_input(self, requests: dict[str, InputRequest]) -> None:
        """Surface ``requests`` as ``input_required`` and wait until ``tasks/update`` answers all of them."""
        self.input_requests = dict(requests)
        self.set_status("input_required")
        while self.input_requests:
            self._answered = trio.Event()
            await self._answered.wait()
        self.input_requests = None
        self.set_status("working")

    def answer(self, responses: dict[str, msgspec.Raw]) -> None:
        """Record answers from ``tasks/update``; unknown keys are ignored, as the spec requires."""
        pending = self.input_requests
        if pending is None:
            return
        for key, value in responses.items():
            if key in pending:
                self.answers[key] = value
                del pending[key]
        if self._answered is not None:
            self._answered.set()


class TaskManager:
    """The task store and the ``tasks/*`` handlers of one server."""

    def __init__(self, server: Server) -> None:
        self._server = server
        self._tasks: dict[str, TaskRecord] = {}

    def _config(self) -> Any:
        return self._server.config

    def __len__(self) -> int:
        return len(self._tasks)

    def _evict(self) -> None:
        now = trio.current_time()
        expired = [t for t in self._tasks.values() if t.expires_at is not None and t.expires_at <= now]
        for task in expired:
            del self._tasks[task.task_id]

    def _lookup(self, task_id: str) -> TaskRecord:
        self._evict()
        task = self._tasks.get(task_id)
        if task is None:
            raise InvalidParams(f"unknown task: {task_id}", {"taskId": task_id})
        return task

    # ------------------------------------------------------------------ creating and running

    def start(
        self,
        session: ServerSession,
        peer: Peer,
        event: RequestReceived,
        tool: ToolDefinition,
        validated: msgspec.Struct,
        answers: dict[str, msgspec.Raw] | None,
    ) -> CreateTaskResult:
        """Create a task running ``tool`` in the background and return the ``CreateTaskResult``.

        Raises:
            ServerBusy: the store is full (``ServerConfig.max_tasks``): an explicit, immediate refusal (reason
                ``tasks``).
        """
        self._evict()
        config = self._config()
        if len(self._tasks) >= config.max_tasks:
            raise ServerBusy(f"server busy: {config.max_tasks} tasks exist; retry later", reason="tasks")
        background: DynamicSupervisor | None = getattr(peer, "background", None)
        if background is None:
            raise InternalError("this transport cannot run tasks")
        task = TaskRecord(secrets.token_urlsafe(16))
        if answers:
            task.answers.update(answers)
        self._tasks[task.task_id] = task
        background.start_child_nowait(self._run, session, event, tool, validated, task, value=f"task {task.task_id}")
        return CreateTaskResult(
            result_type="task",
            task_id=task.task_id,
            status=task.status,
            created_at=task.created_at,
            last_updated_at=task.updated_at,
            ttl_ms=config.task_ttl_ms,
            poll_interval_ms=config.task_poll_interval_ms,
        )

    async def _run(
        self,
        session: ServerSession,
        event: RequestReceived,
        tool: ToolDefinition,
        validated: msgspec.Struct,
        task: TaskRecord,
    ) -> None:
        context = Context(session, _TaskPeer(), event, task.answers, None, task=task)
        result: CallToolResult | None = None
        try:
            with task.scope:
                breaker = tool.breaker
                try:
                    if breaker is not None and not breaker.allow(trio.current_time()):
                        result = circuit_open_result(tool, breaker.retry_after(trio.current_time()))
                        return
                    kwargs = tool.call_args(validated, context)
                    try:
                        value = await self._server.dispatcher.invoke(tool.fn, kwargs, tool.is_async, tool.blocking)
                    except BaseException as exc:
                        if breaker is not None:
                            record_outcome(breaker, trio.current_time(), exc)
                        raise
                    if breaker is not None:
                        record_outcome(breaker, trio.current_time(), None)
                    result = tool.shape(value)
                except McpError as error:
                    task.error = ErrorObject(code=int(error.code), message=error.message, data=error.data)
                except BaseException as exc:
                    failure, passing = split_exit(exc)
                    if passing is not None:
                        raise
                    assert failure is not None
                    result = tool_exception_result(tool, failure)
        finally:
            if task.scope.cancelled_caught or (result is None and task.error is None):
                task.set_status("cancelled")
            elif task.error is not None:
                task.set_status("failed")
            else:
                assert result is not None
                result.result_type = "complete"
                task.result = msgspec.to_builtins(result)
                task.set_status("completed")
            task.input_requests = None
            task.expires_at = trio.current_time() + self._config().task_ttl_ms / 1000

    # ------------------------------------------------------------------ tasks/get, tasks/update, tasks/cancel

    def get(self, session: ServerSession, peer: Peer, event: RequestReceived) -> GetTaskResult:
        task = self._lookup(event.params.task_id)
        config = self._config()
        return GetTaskResult(
            result_type="complete",
            task_id=task.task_id,
            status=task.status,
            created_at=task.created_at,
            last_updated_at=task.updated_at,
            ttl_ms=config.task_ttl_ms,
            poll_interval_ms=config.task_poll_interval_ms,
            input_requests=task.input_requests if task.status == "input_required" and task.input_requests else UNSET,
            result=task.result if task.result is not None else UNSET,
            error=task.error if task.error is not None else UNSET,
        )

    def update(self, session: ServerSession, peer: Peer, event: RequestReceived) -> EmptyResult:
        task = self._lookup(event.params.task_id)
        task.answer(event.params.input_responses)
        return EmptyResult(result_type="complete")

    def cancel(self, session: ServerSession, peer: Peer, event: RequestReceived) -> EmptyResult:
        task = self._lookup(event.params.task_id)
        if not task.terminal:
            task.scope.cancel()
        return EmptyResult(result_type="complete")


class _TaskPeer:
    """A task has no open request to report progress or logs on: they are dropped, by design."""

    async def send(self, message: Notification, origin: Any = None) -> None:
        await trio.lowlevel.checkpoint()

    async def ask(self, request: Any, origin: Any = None) -> Any:
        raise InternalError("a task cannot send requests; use Context.request_inputs")

    async def close_stream(self, origin: Any = None, retry_ms: int | None = None) -> bool:
        await trio.lowlevel.checkpoint()
        return False
