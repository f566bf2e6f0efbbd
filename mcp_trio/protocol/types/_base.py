"""Shared base classes and aliases for every MCP wire type.

Theory of operation
-------------------
Every wire object is a ``msgspec.Struct`` deriving from :class:`WireModel`:

* ``rename="camel"`` maps ``snake_case`` attributes to the camelCase wire names; keys that are not a
  plain camelCase conversion (``_meta``, ``$schema``, ``list``) carry an explicit ``name=``.
* ``omit_defaults=True`` plus ``msgspec.UNSET`` defaults keep *absent* distinct from *null*: an
  optional field is ``X | UnsetType`` and never appears on the wire unless set; a field the schema
  allows to be ``null`` is ``X | None | UnsetType`` and a decoded ``null`` is re-encoded as ``null``.
* Unknown fields are ignored on decode (msgspec's default), so a peer speaking a newer revision
  still decodes. ``array_like`` is never used.

One struct serves both wire eras (legacy ``2024-11-05``..``2025-11-25`` and modern ``2026-07-28``):
era-specific fields are optional and simply stay unset on the other era. For example
:attr:`Result.result_type` is required on the modern wire and absent on the legacy wire.
"""

from typing import Any, Literal, TypeAlias

import msgspec
from msgspec import UNSET, UnsetType

__all__ = [
    "UNSET",
    "UnsetType",
    "WireModel",
    "RequestId",
    "ProgressToken",
    "Cursor",
    "Role",
    "CacheScope",
    "Meta",
    "RequestParams",
    "NotificationParams",
    "PaginatedParams",
    "Result",
    "EmptyResult",
    "CacheableResult",
    "TaskMetadata",
    "RelatedTaskMetadata",
]

RequestId: TypeAlias = str | int
"""A JSON-RPC request id: a string or an integer, never null."""

ProgressToken: TypeAlias = str | int
"""Opaque token that ties ``notifications/progress`` to the request that asked for it."""

Cursor: TypeAlias = str
"""Opaque pagination cursor."""

Role: TypeAlias = Literal["user", "assistant"]
"""Sender or recipient of a message."""

CacheScope: TypeAlias = Literal["public", "private"]
"""Who may reuse a cached modern result (SEP-2549): anyone, or the same authorization context only."""

Meta: TypeAlias = dict[str, Any]
"""The free-form ``_meta`` object. Reserved keys are listed in :mod:`.meta`."""


class WireModel(msgspec.Struct, rename="camel", omit_defaults=True, kw_only=True):
    """Base of every MCP wire struct (see the module docstring for the conventions)."""


class RequestParams(WireModel, kw_only=True):
    """Params carrying only ``_meta``.

    Legacy requests may omit ``_meta`` (and often ``params`` altogether); on the modern wire every
    request's ``_meta`` carries the protocol version and client capabilities (see :class:`.RequestMeta`).
    """

    meta: Meta | UnsetType = msgspec.field(default=UNSET, name="_meta")


class NotificationParams(WireModel, kw_only=True):
    """Params carrying only ``_meta`` (e.g. the ``*/list_changed`` notifications)."""

    meta: Meta | UnsetType = msgspec.field(default=UNSET, name="_meta")


class PaginatedParams(RequestParams, kw_only=True):
    """Params of a paginated list request; ``cursor`` is the previous page's ``nextCursor``."""

    cursor: Cursor | UnsetType = UNSET


class Result(WireModel, kw_only=True):
    """Fields common to every result.

    ``result_type`` is required on the modern wire (``"complete"``, ``"input_required"``, or an
    extension value such as ``"task"``); legacy results leave it unset, and a missing value means
    ``"complete"``.
    """

    meta: Meta | UnsetType = msgspec.field(default=UNSET, name="_meta")
    result_type: str | UnsetType = UNSET


class EmptyResult(Result, kw_only=True):
    """A result with no payload (``ping``, ``resources/subscribe``, ``logging/setLevel``, ...)."""


class CacheableResult(Result, kw_only=True):
    """A result carrying modern caching hints (SEP-2549).

    ``ttl_ms`` and ``cache_scope`` are MUST on complete modern results of ``server/discover``, the
    list methods and ``resources/read``; legacy results leave them unset.
    """

    ttl_ms: int | UnsetType = UNSET
    cache_scope: CacheScope | UnsetType = UNSET


class TaskMetadata(WireModel, gc=False, kw_only=True):
    """2025-11-25 ``params.task``: asks the receiver to run the request as a task.

    Lives here rather than in :mod:`.tasks` because tool, sampling and elicitation params use it.
    """

    ttl: int | UnsetType = UNSET


class RelatedTaskMetadata(WireModel, gc=False, kw_only=True):
    """2025-11-25 value of ``_meta["io.modelcontextprotocol/related-task"]``."""

    task_id: str
