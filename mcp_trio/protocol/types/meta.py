"""Reserved ``_meta`` keys and typed views of the ``_meta`` objects.

``_meta`` stays a plain ``dict[str, Any]`` on every struct so unknown keys survive a round trip.
When a layer needs the reserved keys validated, it converts the dict once with
``msgspec.convert(params.meta, RequestMeta)``.

Modern (2026-07-28) requests MUST carry :data:`PROTOCOL_VERSION` and :data:`CLIENT_CAPABILITIES`
and SHOULD carry :data:`CLIENT_INFO`; results SHOULD carry :data:`SERVER_INFO`; notifications on a
``subscriptions/listen`` stream MUST carry :data:`SUBSCRIPTION_ID`. :data:`RELATED_TASK` is the
2025-11-25 tasks key. ``traceparent``/``tracestate``/``baggage`` are reserved for OpenTelemetry.
"""

from typing import Final

import msgspec

from ._base import UNSET, ProgressToken, RelatedTaskMetadata, RequestId, UnsetType, WireModel
from .capabilities import ClientCapabilities
from .common import Implementation
from .logging import LoggingLevel

__all__ = [
    "PROGRESS_TOKEN",
    "PROTOCOL_VERSION",
    "CLIENT_CAPABILITIES",
    "CLIENT_INFO",
    "LOG_LEVEL",
    "SERVER_INFO",
    "SUBSCRIPTION_ID",
    "RELATED_TASK",
    "TRACEPARENT",
    "TRACESTATE",
    "BAGGAGE",
    "RESERVED_META_KEYS",
    "TASKS_EXTENSION",
    "RequestMeta",
    "NotificationMeta",
    "ResultMeta",
]

PROGRESS_TOKEN: Final = "progressToken"
PROTOCOL_VERSION: Final = "io.modelcontextprotocol/protocolVersion"
CLIENT_CAPABILITIES: Final = "io.modelcontextprotocol/clientCapabilities"
CLIENT_INFO: Final = "io.modelcontextprotocol/clientInfo"
LOG_LEVEL: Final = "io.modelcontextprotocol/logLevel"
SERVER_INFO: Final = "io.modelcontextprotocol/serverInfo"
SUBSCRIPTION_ID: Final = "io.modelcontextprotocol/subscriptionId"
RELATED_TASK: Final = "io.modelcontextprotocol/related-task"
TRACEPARENT: Final = "traceparent"
TRACESTATE: Final = "tracestate"
BAGGAGE: Final = "baggage"

RESERVED_META_KEYS: Final[frozenset[str]] = frozenset(
    {
        PROGRESS_TOKEN,
        PROTOCOL_VERSION,
        CLIENT_CAPABILITIES,
        CLIENT_INFO,
        LOG_LEVEL,
        SERVER_INFO,
        SUBSCRIPTION_ID,
        RELATED_TASK,
        TRACEPARENT,
        TRACESTATE,
        BAGGAGE,
    }
)
"""Keys defined by the specification (both eras) and the tasks extension."""

TASKS_EXTENSION: Final = "io.modelcontextprotocol/tasks"
"""Extension id of the 2026-07-28 tasks extension (in ``capabilities.extensions``)."""


class RequestMeta(WireModel, kw_only=True):
    """Typed view of a request's ``_meta``.

    ``protocol_version`` and ``client_capabilities`` are optional here because legacy requests do
    not carry them; the modern session layer rejects their absence with -32602.
    """

    progress_token: ProgressToken | UnsetType = msgspec.field(default=UNSET, name=PROGRESS_TOKEN)
    protocol_version: str | UnsetType = msgspec.field(default=UNSET, name=PROTOCOL_VERSION)
    client_capabilities: ClientCapabilities | UnsetType = msgspec.field(default=UNSET, name=CLIENT_CAPABILITIES)
    client_info: Implementation | UnsetType = msgspec.field(default=UNSET, name=CLIENT_INFO)
    log_level: LoggingLevel | UnsetType = msgspec.field(default=UNSET, name=LOG_LEVEL)
    related_task: RelatedTaskMetadata | UnsetType = msgspec.field(default=UNSET, name=RELATED_TASK)
    traceparent: str | UnsetType = UNSET
    tracestate: str | UnsetType = UNSET
    baggage: str | UnsetType = UNSET


class NotificationMeta(WireModel, kw_only=True):
    """Typed view of a notification's ``_meta``."""

    subscription_id: RequestId | UnsetType = msgspec.field(default=UNSET, name=SUBSCRIPTION_ID)
    related_task: RelatedTaskMetadata | UnsetType = msgspec.field(default=UNSET, name=RELATED_TASK)
    traceparent: str | UnsetType = UNSET
    tracestate: str | UnsetType = UNSET
    baggage: str | UnsetType = UNSET


class ResultMeta(WireModel, kw_only=True):
    """Typed view of a result's ``_meta``.

    ``subscription_id`` is set on the ``subscriptions/listen`` result that closes a stream.
    """

    server_info: Implementation | UnsetType = msgspec.field(default=UNSET, name=SERVER_INFO)
    subscription_id: RequestId | UnsetType = msgspec.field(default=UNSET, name=SUBSCRIPTION_ID)
    related_task: RelatedTaskMetadata | UnsetType = msgspec.field(default=UNSET, name=RELATED_TASK)
