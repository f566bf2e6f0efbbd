"""Tasks, in both shapes: 2025-11-25 experimental core tasks and the 2026-07-28 tasks extension.

Legacy (2025-11-25, SEP-1686, capability ``tasks``): a request opts in with ``params.task``
(:class:`.TaskMetadata`) and gets :class:`LegacyCreateTaskResult` ``{task: Task}``; the peer polls
``tasks/get``, fetches the payload with ``tasks/result``, lists with ``tasks/list``, cancels with
``tasks/cancel`` (which returns the task) and may push ``notifications/tasks/status``. Tasks run in
both directions (sampling and elicitation can be tasks too). Times are ``ttl``/``pollInterval``.

Modern (extension ``io.modelcontextprotocol/tasks``, SEP-2663): the server alone decides to answer
``tools/call`` with a flat :class:`CreateTaskResult` (``resultType: "task"``); the client polls
``tasks/get`` (whose result inlines ``inputRequests``, ``result`` or ``error`` by status), answers
input with ``tasks/update``, cancels with ``tasks/cancel`` (empty ack) and may listen for
``notifications/tasks`` via ``subscriptions/listen`` (``taskIds`` filter). Times are
``ttlMs``/``pollIntervalMs``.

One :class:`Task` struct carries both spellings; a peer fills those of its era. Where the schema
flattens a task into a result or params (``Result & Task``), the struct repeats the task fields on
top of :class:`.Result`/:class:`.NotificationParams` (msgspec structs have a single base), so every
result struct is a ``Result``. ``ttl``/``ttlMs``
are nullable (``null`` = unlimited) and a decoded ``null`` is re-encoded as ``null``.
"""

from typing import Any, Final, Literal, TypeAlias

import msgspec

from ._base import (
    UNSET,
    Cursor,
    NotificationParams,
    PaginatedParams,
    RelatedTaskMetadata,
    RequestParams,
    Result,
    TaskMetadata,
    UnsetType,
    WireModel,
)
from .error_data import ErrorObject
from .mrtr import InputRequest

__all__ = [
    "TaskStatus",
    "TERMINAL_TASK_STATUSES",
    "TaskMetadata",
    "RelatedTaskMetadata",
    "Task",
    "CreateTaskResult",
    "LegacyCreateTaskResult",
    "GetTaskParams",
    "GetTaskResult",
    "GetTaskPayloadParams",
    "GetTaskPayloadResult",
    "ListTasksParams",
    "ListTasksResult",
    "CancelTaskParams",
    "CancelTaskResult",
    "UpdateTaskParams",
    "UpdateTaskResult",
    "TaskStatusParams",
]

TaskStatus: TypeAlias = Literal["working", "input_required", "completed", "failed", "cancelled"]
"""Task state; the last three are terminal."""

TERMINAL_TASK_STATUSES: Final[frozenset[str]] = frozenset({"completed", "failed", "cancelled"})


class Task(WireModel, kw_only=True):
    """A task's state (both eras; see the module docstring).

    ``input_requests`` (status ``input_required``), ``result`` (``completed``) and ``error``
    (``failed``) are the extension's ``DetailedTask`` fields, filled by ``tasks/get`` and
    ``notifications/tasks``; legacy peers fetch the payload with ``tasks/result`` instead.
    """

    task_id: str
    status: TaskStatus
    created_at: str
    last_updated_at: str
    status_message: str | UnsetType = UNSET
    ttl: int | UnsetType | None = UNSET
    poll_interval: int | UnsetType = UNSET
    ttl_ms: int | UnsetType | None = UNSET
    poll_interval_ms: int | UnsetType = UNSET
    input_requests: dict[str, InputRequest] | UnsetType = UNSET
    result: dict[str, Any] | UnsetType = UNSET
    error: ErrorObject | UnsetType = UNSET


class _FlatTaskResult(Result, kw_only=True):
    """The :class:`Task` fields flattened into a result (``Result & Task`` in the schema)."""

    task_id: str
    status: TaskStatus
    created_at: str
    last_updated_at: str
    status_message: str | UnsetType = UNSET
    ttl: int | UnsetType | None = UNSET
    poll_interval: int | UnsetType = UNSET
    ttl_ms: int | UnsetType | None = UNSET
    poll_interval_ms: int | UnsetType = UNSET
    input_requests: dict[str, InputRequest] | UnsetType = UNSET
    result: dict[str, Any] | UnsetType = UNSET
    error: ErrorObject | UnsetType = UNSET


class CreateTaskResult(_FlatTaskResult, kw_only=True):
    """Modern (extension): a task handle returned in place of the request's result.

    ``result_type`` must be ``"task"``. ``task_id`` is the handle for ``tasks/get``/``update``/``cancel``.
    """


class LegacyCreateTaskResult(Result, kw_only=True):
    """2025-11-25: the answer to a task-augmented request, ``{"task": {...}}``."""

    task: Task


class GetTaskParams(RequestParams, kw_only=True):
    """``tasks/get`` (both eras)."""

    task_id: str


class GetTaskResult(_FlatTaskResult, kw_only=True):
    """``tasks/get`` result: the :class:`Task` fields, flat.

    2025-11-25: ``Result & Task``. Extension: ``Result & DetailedTask`` with ``resultType: "complete"``.
    """


class GetTaskPayloadParams(RequestParams, kw_only=True):
    """``tasks/result`` (2025-11-25 only)."""

    task_id: str


class GetTaskPayloadResult(Result, kw_only=True):
    """``tasks/result`` (2025-11-25): the *original request's* result, whatever its type.

    This struct only names the method's result in the method table and would drop the payload.
    Decode the response with the result type of the task's original method (for example
    ``METHODS["tools/call"].result``); its ``_meta`` carries :data:`.RELATED_TASK`.
    """


class ListTasksParams(PaginatedParams, kw_only=True):
    """``tasks/list`` (2025-11-25 only)."""


class ListTasksResult(Result, kw_only=True):
    """``tasks/list`` result (2025-11-25 only)."""

    tasks: list[Task]
    next_cursor: Cursor | UnsetType = UNSET


class CancelTaskParams(RequestParams, kw_only=True):
    """``tasks/cancel`` (both eras)."""

    task_id: str


class CancelTaskResult(Result, kw_only=True):
    """``tasks/cancel`` result.

    2025-11-25 returns the task (so the task fields are here, all optional); the extension returns
    an empty acknowledgement with ``resultType: "complete"`` (every task field unset).
    """

    task_id: str | UnsetType = UNSET
    status: TaskStatus | UnsetType = UNSET
    status_message: str | UnsetType = UNSET
    created_at: str | UnsetType = UNSET
    last_updated_at: str | UnsetType = UNSET
    ttl: int | UnsetType | None = UNSET
    poll_interval: int | UnsetType = UNSET
    ttl_ms: int | UnsetType | None = UNSET
    poll_interval_ms: int | UnsetType = UNSET


class UpdateTaskParams(RequestParams, kw_only=True):
    """``tasks/update`` (extension): responses to the task's outstanding ``inputRequests``.

    Values stay raw, as in the MRTR retry params; decode each with
    :func:`.decode_input_response` against the request the task surfaced under that key.
    """

    task_id: str
    input_responses: dict[str, msgspec.Raw]


class UpdateTaskResult(Result, kw_only=True):
    """``tasks/update`` result: an empty acknowledgement (``resultType: "complete"``)."""


class TaskStatusParams(NotificationParams, kw_only=True):
    """Params of ``notifications/tasks/status`` (2025-11-25) and ``notifications/tasks`` (extension).

    The fields are those of :class:`Task`, flattened into the params.
    """

    task_id: str
    status: TaskStatus
    created_at: str
    last_updated_at: str
    status_message: str | UnsetType = UNSET
    ttl: int | UnsetType | None = UNSET
    poll_interval: int | UnsetType = UNSET
    ttl_ms: int | UnsetType | None = UNSET
    poll_interval_ms: int | UnsetType = UNSET
    input_requests: dict[str, InputRequest] | UnsetType = UNSET
    result: dict[str, Any] | UnsetType = UNSET
    error: ErrorObject | UnsetType = UNSET
