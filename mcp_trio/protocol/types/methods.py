"""The method table: every MCP request and notification of both wire eras.

Each :class:`MethodSpec` names the params and result structs, who may send the message, which
eras carry it, which capability gates it, and whether it may answer with ``InputRequiredResult``
(``mrtr``) or must carry caching hints (``cacheable``) on the modern wire.

Capability paths are dotted *wire* names resolved by :func:`.capability_enabled`, e.g.
``"resources.subscribe"`` or ``"tasks.list"``. ``server_capability`` gates what a server receives
or sends; ``client_capability`` gates what a client receives. These two fields hold the gate that
applies in every era the method exists in. ``tasks/get`` and ``tasks/cancel`` are gated
differently per era (2025-11-25 ``tasks`` capability vs the 2026-07-28 extension named in
``extension``), so their fields are None and :meth:`MethodSpec.server_capability_for` /
:meth:`MethodSpec.client_capability_for` give the gate for one era; prefer those methods.

``sampling/createMessage``, ``elicitation/create`` and ``roots/list`` are legacy JSON-RPC methods;
on the modern wire they exist only inside ``InputRequiredResult.inputRequests`` (see
:data:`INPUT_REQUEST_METHODS`), so their ``eras`` is legacy only.

Decoders are built once per params/result type, on first use (:func:`params_decoder`).
"""

import dataclasses
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final, Literal, TypeAlias

import msgspec

from mcp_trio.protocol.errors import DECODE_ERRORS, describe_decode_error

from ._base import EmptyResult, NotificationParams, WireModel
from .completion import CompleteParams, CompleteResult
from .discover import DiscoverParams, DiscoverResult
from .elicitation import ElicitationCompleteParams, ElicitRequestParams, ElicitResult
from .lifecycle import InitializeParams, InitializeResult, PingParams
from .logging import LoggingMessageParams, SetLevelParams
from .meta import TASKS_EXTENSION
from .prompts import GetPromptParams, GetPromptResult, ListPromptsParams, ListPromptsResult
from .resources import (
    ListResourcesParams,
    ListResourcesResult,
    ListResourceTemplatesParams,
    ListResourceTemplatesResult,
    ReadResourceParams,
    ReadResourceResult,
    ResourceUpdatedParams,
    SubscribeParams,
    UnsubscribeParams,
)
from .roots import ListRootsParams, ListRootsResult
from .sampling import CreateMessageParams, CreateMessageResult
from .subscriptions import SubscriptionsAcknowledgedParams, SubscriptionsListenParams, SubscriptionsListenResult
from .tasks import (
    CancelTaskParams,
    CancelTaskResult,
    GetTaskParams,
    GetTaskPayloadParams,
    GetTaskPayloadResult,
    GetTaskResult,
    ListTasksParams,
    ListTasksResult,
    TaskStatusParams,
    UpdateTaskParams,
    UpdateTaskResult,
)
from .tools import CallToolParams, CallToolResult, ListToolsParams, ListToolsResult
from .utilities import CancelledParams, ProgressParams

__all__ = [
    "Era",
    "Direction",
    "MethodKind",
    "MethodSpec",
    "METHODS",
    "INPUT_REQUEST_METHODS",
    "methods_for_era",
    "params_decoder",
    "result_decoder",
    "peek_result_type",
]

Era: TypeAlias = Literal["legacy", "modern"]
Direction: TypeAlias = Literal["client_to_server", "server_to_client", "both"]
MethodKind: TypeAlias = Literal["request", "notification"]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class MethodSpec:
    """One row of the method table (see the module docstring)."""

    name: str
    params: type[WireModel] | None
    result: type[WireModel] | None
    kind: MethodKind
    direction: Direction
    eras: frozenset[Era]
    server_capability: str | None = None
    client_capability: str | None = None
    mrtr: bool = False
    cacheable: bool = False
    extension: str | None = None

    def server_capability_for(self, era: Era) -> str | None:
        """The server capability path gating this method on ``era``'s wire (None: ungated)."""
        if era == "modern" and self.extension is not None:
            return f"extensions.{self.extension}"
        if era == "legacy" and self.name in _LEGACY_TASK_GATES:
            return _LEGACY_TASK_GATES[self.name]
        return self.server_capability

    def client_capability_for(self, era: Era) -> str | None:
        """The client capability path gating this method on ``era``'s wire (None: ungated).

        Extension methods need the extension declared on both sides (else -32021 on the modern wire).
        """
        if era == "modern" and self.extension is not None:
            return f"extensions.{self.extension}"
        if era == "legacy" and self.name in _LEGACY_TASK_GATES:
            return _LEGACY_TASK_GATES[self.name]
        return self.client_capability


_LEGACY_TASK_GATES: Final[dict[str, str]] = {"tasks/get": "tasks", "tasks/cancel": "tasks.cancel"}
"""2025-11-25 gates (same path on both sides) of the tasks methods that also exist on the modern wire."""


_C2S: Final = "client_to_server"
_S2C: Final = "server_to_client"
_BOTH: Final = "both"
_LEGACY: Final[frozenset[Era]] = frozenset({"legacy"})
_MODERN: Final[frozenset[Era]] = frozenset({"modern"})
_ALL: Final[frozenset[Era]] = frozenset({"legacy", "modern"})


def _request(
    name: str,
    params: type[WireModel],
    result: type[WireModel],
    direction: Direction,
    eras: frozenset[Era],
    **kw: Any,
) -> MethodSpec:
    return MethodSpec(name=name, params=params, result=result, kind="request", direction=direction, eras=eras, **kw)


def _notification(
    name: str, params: type[WireModel], direction: Direction, eras: frozenset[Era], **kw: Any
) -> MethodSpec:
    return MethodSpec(name=name, params=params, result=None, kind="notification", direction=direction, eras=eras, **kw)


_SPECS: Final = (
    # Lifecycle (legacy) and discovery (modern).
    _request("initialize", InitializeParams, InitializeResult, _C2S, _LEGACY),
    _request("ping", PingParams, EmptyResult, _BOTH, _LEGACY),
    _request("server/discover", DiscoverParams, DiscoverResult, _C2S, _MODERN, cacheable=True),
    # Tools, resources, prompts, completion.
    _request("tools/list", ListToolsParams, ListToolsResult, _C2S, _ALL, server_capability="tools", cacheable=True),
    _request("tools/call", CallToolParams, CallToolResult, _C2S, _ALL, server_capability="tools", mrtr=True),
    _request(
        "resources/list",
        ListResourcesParams,
        ListResourcesResult,
        _C2S,
        _ALL,
        server_capability="resources",
        cacheable=True,
    ),
    _request(
        "resources/templates/list",
        ListResourceTemplatesParams,
        ListResourceTemplatesResult,
        _C2S,
        _ALL,
        server_capability="resources",
        cacheable=True,
    ),
    _request(
        "resources/read",
        ReadResourceParams,
        ReadResourceResult,
        _C2S,
        _ALL,
        server_capability="resources",
        mrtr=True,
        cacheable=True,
    ),
    _request(
        "resources/subscribe",
        SubscribeParams,
        EmptyResult,
        _C2S,
        _LEGACY,
        server_capability="resources.subscribe",
    ),
    _request(
        "resources/unsubscribe",
        UnsubscribeParams,
        EmptyResult,
        _C2S,
        _LEGACY,
        server_capability="resources.subscribe",
    ),
    _request(
        "prompts/list",
        ListPromptsParams,
        ListPromptsResult,
        _C2S,
        _ALL,
        server_capability="prompts",
        cacheable=True,
    ),
    _request("prompts/get", GetPromptParams, GetPromptResult, _C2S, _ALL, server_capability="prompts", mrtr=True),
    _request("completion/complete", CompleteParams, CompleteResult, _C2S, _ALL, server_capability="completions"),
    _request("logging/setLevel", SetLevelParams, EmptyResult, _C2S, _LEGACY, server_capability="logging"),
    _request("subscriptions/listen", SubscriptionsListenParams, SubscriptionsListenResult, _C2S, _MODERN),
    # Server-to-client requests (legacy; modern: MRTR input requests only).
    _request(
        "sampling/createMessage",
        CreateMessageParams,
        CreateMessageResult,
        _S2C,
        _LEGACY,
        client_capability="sampling",
    ),
    _request("elicitation/create", ElicitRequestParams, ElicitResult, _S2C, _LEGACY, client_capability="elicitation"),
    _request("roots/list", ListRootsParams, ListRootsResult, _S2C, _LEGACY, client_capability="roots"),
    # Tasks: 2025-11-25 experimental (either direction) and the 2026-07-28 extension (client to server).
    _request(
        "tasks/get",
        GetTaskParams,
        GetTaskResult,
        _BOTH,
        _ALL,
        extension=TASKS_EXTENSION,
    ),
    _request(
        "tasks/result",
        GetTaskPayloadParams,
        GetTaskPayloadResult,
        _BOTH,
        _LEGACY,
        server_capability="tasks",
        client_capability="tasks",
    ),
    _request(
        "tasks/list",
        ListTasksParams,
        ListTasksResult,
        _BOTH,
        _LEGACY,
        server_capability="tasks.list",
        client_capability="tasks.list",
    ),
    _request(
        "tasks/cancel",
        CancelTaskParams,
        CancelTaskResult,
        _BOTH,
        _ALL,
        extension=TASKS_EXTENSION,
    ),
    _request("tasks/update", UpdateTaskParams, UpdateTaskResult, _C2S, _MODERN, extension=TASKS_EXTENSION),
    # Notifications.
    _notification("notifications/initialized", NotificationParams, _C2S, _LEGACY),
    _notification("notifications/cancelled", CancelledParams, _BOTH, _ALL),
    _notification("notifications/progress", ProgressParams, _BOTH, _ALL),
    _notification("notifications/message", LoggingMessageParams, _S2C, _ALL, server_capability="logging"),
    _notification(
        "notifications/tools/list_changed",
        NotificationParams,
        _S2C,
        _ALL,
        server_capability="tools.listChanged",
    ),
    _notification(
        "notifications/prompts/list_changed",
        NotificationParams,
        _S2C,
        _ALL,
        server_capability="prompts.listChanged",
    ),
    _notification(
        "notifications/resources/list_changed",
        NotificationParams,
        _S2C,
        _ALL,
        server_capability="resources.listChanged",
    ),
    _notification(
        "notifications/resources/updated",
        ResourceUpdatedParams,
        _S2C,
        _ALL,
        server_capability="resources.subscribe",
    ),
    _notification(
        "notifications/roots/list_changed",
        NotificationParams,
        _C2S,
        _LEGACY,
        client_capability="roots.listChanged",
    ),
    _notification(
        "notifications/elicitation/complete",
        ElicitationCompleteParams,
        _S2C,
        _LEGACY,
        client_capability="elicitation.url",
    ),
    _notification(
        "notifications/tasks/status",
        TaskStatusParams,
        _BOTH,
        _LEGACY,
        server_capability="tasks",
        client_capability="tasks",
    ),
    _notification("notifications/subscriptions/acknowledged", SubscriptionsAcknowledgedParams, _S2C, _MODERN),
    _notification("notifications/tasks", TaskStatusParams, _S2C, _MODERN, extension=TASKS_EXTENSION),
)

METHODS: Final[Mapping[str, MethodSpec]] = MappingProxyType({spec.name: spec for spec in _SPECS})
"""Every method of both eras, by name."""

INPUT_REQUEST_METHODS: Final[frozenset[str]] = frozenset({"sampling/createMessage", "elicitation/create", "roots/list"})
"""Methods a modern server may embed in ``InputRequiredResult.inputRequests`` (and a task's)."""

_PARAMS_DECODERS: dict[type[WireModel], msgspec.json.Decoder[Any]] = {}
_RESULT_DECODERS: dict[type[WireModel], msgspec.json.Decoder[Any]] = {}


def methods_for_era(era: Era) -> Mapping[str, MethodSpec]:
    """The subset of :data:`METHODS` sent as JSON-RPC messages on one era's wire."""
    return {name: spec for name, spec in METHODS.items() if era in spec.eras}


def params_decoder(spec: MethodSpec) -> msgspec.json.Decoder[Any]:
    """The JSON decoder for ``spec``'s params, built on first use and then reused.

    Absent ``params`` on the wire is equivalent to ``spec.params()`` where the struct has no
    required field.

    Raises:
        ValueError: ``spec`` has no params type.
    """
    if spec.params is None:
        raise ValueError(f"{spec.name} has no params type")
    return _cached(_PARAMS_DECODERS, spec.params)


def result_decoder(spec: MethodSpec) -> msgspec.json.Decoder[Any]:
    """The JSON decoder for ``spec``'s result (requests only), built on first use.

    MRTR and task answers have other shapes: check ``resultType`` first.

    Raises:
        ValueError: ``spec`` is a notification.
    """
    if spec.result is None:
        raise ValueError(f"{spec.name} is a notification and has no result")
    return _cached(_RESULT_DECODERS, spec.result)


def _cached(cache: dict[type[WireModel], msgspec.json.Decoder[Any]], cls: type[WireModel]) -> msgspec.json.Decoder[Any]:
    decoder = cache.get(cls)
    if decoder is None:
        decoder = cache[cls] = msgspec.json.Decoder(cls)
    return decoder


class _ResultTypeProbe(WireModel, gc=False, kw_only=True):
    result_type: str | None = None


_PROBE_DECODER: Final = msgspec.json.Decoder(_ResultTypeProbe)


def peek_result_type(data: bytes | str | msgspec.Raw) -> str:
    """Read only ``resultType`` from an encoded result; absent means ``"complete"``.

    Use it to pick between the method's result struct, ``InputRequiredResult`` (``"input_required"``)
    and ``CreateTaskResult`` (``"task"``) before decoding the whole result.

    Raises:
        msgspec.DecodeError: ``data`` is not a JSON object, or one we refuse (nested too deeply, too large).
    """
    try:
        return _PROBE_DECODER.decode(data).result_type or "complete"
    except msgspec.DecodeError:
        raise
    except DECODE_ERRORS as exc:  # RecursionError from skipping a deep member: still only a msgspec error
        raise msgspec.DecodeError(describe_decode_error(exc)) from None
