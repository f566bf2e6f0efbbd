"""The client side of an MCP session, as a sans-IO state machine for both wire eras: the mirror of ``ServerSession``.

Theory of operation
-------------------
A ``ClientSession`` builds the messages a client sends (``initialize``, ``initialized``, ``send_request``,
``cancel``, ``respond``, ``retry_with_inputs``) and is fed the server's decoded messages (``receive``), returning
an ``Event`` (or ``None`` when nothing needs doing). It never performs I/O.

**Legacy** (``ClientSession()``): ``initialize`` opens the handshake; until its response only ``ping`` may be
sent. The response is checked: the server must pick a version this client speaks, else the session is refused
(an ``ErrorReceived`` for ``initialize``, then every later call raises ``LocalProtocolError``). Once
``initialized()`` was sent, requests are gated by the server's declared capabilities and the server may send its
own requests, which are gated by *this* client's capabilities (an undeclared one is answered -32601 by the
session itself, as an ``Answered`` event).

**Modern** (``ClientSession(modern=True, capabilities=..., client_info=...)``): no handshake; every request's
``_meta`` carries the protocol version, the client capabilities, the client info and the optional log level.
Results are decoded by ``resultType``: ``InputRequiredResult`` (MRTR, answered with ``retry_with_inputs``, which
builds the retry under a new id), ``CreateTaskResult`` (tasks extension) or the method's own result. Server
capabilities are unknown until a ``server/discover`` result arrives; from then on they gate requests.

Progress from the server must increase for each token; a notification that does not is ignored (``receive``
returns ``None``) and counted in ``progress_violations``, so one misbehaving server cannot corrupt the caller's
progress bars yet stays observable.

State is one small struct with maps created only when used and dropped again when empty.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec
from msgspec import UNSET, UnsetType

from mcp_trio.protocol.errors import (
    DECODE_ERRORS,
    ErrorCode,
    InvalidParams,
    InvalidRequest,
    LocalProtocolError,
    McpError,
    MethodNotFound,
    describe_decode_error,
)
from mcp_trio.protocol.events import (
    Answered,
    CancelRequested,
    ErrorReceived,
    Event,
    NotificationReceived,
    ProgressToken,
    RequestReceived,
    ResponseReceived,
)
from mcp_trio.protocol.inflight import Inflight, PeerRequests
from mcp_trio.protocol.jsonrpc import (
    ErrorObject,
    ErrorResponse,
    Message,
    Notification,
    Request,
    RequestId,
    Response,
    error_response,
)
from mcp_trio.protocol.modern import (
    LOG_LEVELS,
    META_CLIENT_CAPABILITIES,
    META_CLIENT_INFO,
    META_LOG_LEVEL,
    META_PROTOCOL_VERSION,
    META_SERVER_INFO,
)
from mcp_trio.protocol.typed import decode_params, decode_result, decoder_for
from mcp_trio.protocol.types import (
    METHODS,
    PROGRESS_TOKEN,
    TASKS_EXTENSION,
    ClientCapabilities,
    CreateTaskResult,
    Implementation,
    InitializeParams,
    InputRequiredResult,
    LegacyCreateTaskResult,
    MethodSpec,
    ServerCapabilities,
    capability_enabled,
    peek_result_type,
)
from mcp_trio.protocol.versions import (
    BATCHING_VERSIONS,
    LATEST_LEGACY_VERSION,
    LEGACY_VERSIONS,
    MODERN_VERSIONS,
    Era,
)

__all__ = ["ClientSession"]

# Phases (a modern session starts READY and stays there until closed).
NEW: Final = 0  # nothing sent yet
INITIALIZING: Final = 1  # initialize sent, no response yet
INITIALIZED: Final = 2  # initialize answered; initialized() not sent yet
READY: Final = 3
CLOSED: Final = 4

_EMPTY_RESULT: Final = msgspec.Raw(b"{}")
_ID_TYPES: Final = (int, str)  # a tuple: ``int | str`` would build a union object on every call (hot path)
_encoder: Final = msgspec.json.Encoder()


class _Outgoing(msgspec.Struct, gc=False):
    """One of our requests awaiting its answer."""

    method: str
    progress_token: ProgressToken | None = None
    last_progress: float | None = None
    task: bool = False  # legacy task-augmented: the answer is a LegacyCreateTaskResult


def _meta_of(params: Any) -> Any:
    if isinstance(params, dict):
        return params.get("_meta", UNSET)
    return getattr(params, "meta", UNSET)


def _token_in(meta: Any) -> ProgressToken | None:
    if isinstance(meta, dict):
        token = meta.get(PROGRESS_TOKEN)
        if isinstance(token, _ID_TYPES) and not isinstance(token, bool):
            return token
    return None


def _with_fields(params: Any, meta: dict[str, Any] | None, **fields: Any) -> Any:
    """``params`` with ``meta`` merged into its ``_meta`` and ``fields`` (struct names) set; never mutates it."""
    if params is UNSET or params is None:
        params = {}
    if isinstance(params, msgspec.Struct):
        changes = dict(fields)
        if meta is not None:
            old = getattr(params, "meta", UNSET)
            changes["meta"] = {**(old if isinstance(old, dict) else {}), **meta}
        return msgspec.structs.replace(params, **changes)
    if not isinstance(params, dict):
        raise LocalProtocolError(f"params must be a dict or a params struct, not {type(params).__name__}")
    out = dict(params)
    for name, value in fields.items():
        out[_WIRE_NAMES[name]] = value
    if meta is not None:
        old = out.get("_meta")
        out["_meta"] = {**(old if isinstance(old, dict) else {}), **meta}
    return out


_WIRE_NAMES: Final = {"input_responses": "inputResponses", "request_state": "requestState"}


def _result_type(result: Any) -> str:
    """``resultType`` of a received result: raw JSON from the wire, or an in-memory dict or struct."""
    if isinstance(result, msgspec.Raw | bytes):
        return peek_result_type(result)
    value = result.get("resultType") if isinstance(result, dict) else getattr(result, "result_type", None)
    return value if isinstance(value, str) else "complete"


def _decode_as(kind: type, method: str, result: Any) -> Any:
    try:
        if isinstance(result, msgspec.Raw | bytes):
            return decoder_for(kind).decode(result)
        return msgspec.convert(result, kind)
    except DECODE_ERRORS as exc:
        raise InvalidParams(f"invalid result for {method}: {describe_decode_error(exc)}") from None


class ClientSession(msgspec.Struct, PeerRequests, kw_only=True, gc=False):
    """One connection's client side (see the module docstring).

    Args:
        modern: speak the stateless 2026-07-28 wire (per-request ``_meta``, no handshake).
        capabilities: what this client supports (legacy: may be given to ``initialize`` instead).
        client_info: this client's identity (legacy: may be given to ``initialize`` instead).
        log_level: modern only: ask for log messages at or above this level within each request.
        versions: the protocol versions this client accepts, newest first (default: every one of its era).
        version: modern only: the version to name in ``_meta`` (default: the newest of ``versions``).
    """

    modern: bool = False
    capabilities: ClientCapabilities | None = None
    client_info: Implementation | None = None
    log_level: str | None = None
    versions: tuple[str, ...] | None = None
    version: str | None = None
    phase: int = NEW
    server_capabilities: ServerCapabilities | None = None
    server_info: Implementation | None = None
    instructions: str | None = None
    closed_reason: str | None = None
    progress_violations: int = 0
    next_request_id: int = 1
    outgoing: dict[RequestId, _Outgoing] | None = None  # our requests awaiting an answer
    incoming: dict[RequestId, Inflight | None] | None = None  # the server's requests in progress
    progress_tokens: dict[ProgressToken, RequestId] | None = None  # token -> our request that carries it

    def __post_init__(self) -> None:
        if self.versions is None:
            self.versions = MODERN_VERSIONS if self.modern else LEGACY_VERSIONS
        if self.log_level is not None and self.log_level not in LOG_LEVELS:
            raise LocalProtocolError(f"unknown log level {self.log_level!r}; expected one of {', '.join(LOG_LEVELS)}")
        if not self.modern:
            if self.log_level is not None:
                raise LocalProtocolError("legacy sessions set the log level with logging/setLevel, not log_level")
            return
        if self.version is None:
            self.version = self.versions[0]
        if self.version not in MODERN_VERSIONS or self.version not in self.versions:
            raise LocalProtocolError(f"{self.version!r} is not a modern protocol version this client supports")
        if self.capabilities is None:
            self.capabilities = ClientCapabilities()
        self.phase = READY

    @property
    def era(self) -> Era:
        return "modern" if self.modern else "legacy"

    @property
    def batches_allowed(self) -> bool:
        """JSON-RPC batches are part of 2025-03-26 only (MCP-SPEC 1.8)."""
        return self.version in BATCHING_VERSIONS

    # ------------------------------------------------------------------ lifecycle (legacy)

    def initialize(
        self,
        capabilities: ClientCapabilities | None = None,
        client_info: Implementation | None = None,
        version: str = LATEST_LEGACY_VERSION,
    ) -> Request:
        """The ``initialize`` request that opens a legacy session (``capabilities``/``client_info`` default to the
        session's own).

        Raises:
            LocalProtocolError: a modern session, initialize already sent, or nothing to declare.
        """
        self._check_open()
        if self.modern:
            raise LocalProtocolError("the modern wire has no initialize: every request carries _meta instead")
        if self.phase != NEW:
            raise LocalProtocolError("initialize was already sent")
        assert self.versions is not None
        if version not in self.versions:
            raise LocalProtocolError(f"{version!r} is not a protocol version this client supports")
        capabilities = capabilities if capabilities is not None else self.capabilities
        client_info = client_info if client_info is not None else self.client_info
        if capabilities is None or client_info is None:
            raise LocalProtocolError("initialize needs the client's capabilities and client_info")
        self.capabilities, self.client_info = capabilities, client_info
        self.phase = INITIALIZING
        params = InitializeParams(protocol_version=version, capabilities=capabilities, client_info=client_info)
        return self._register("initialize", params, None)

    def initialized(self) -> Notification:
        """``notifications/initialized``, due once the ``initialize`` response was accepted.

        Raises:
            LocalProtocolError: the handshake is not at that point.
        """
        self._check_open()
        if self.phase != INITIALIZED:
            raise LocalProtocolError("notifications/initialized is due only after a successful initialize response")
        self.phase = READY
        return Notification("notifications/initialized")

    def close(self, reason: str = "closed") -> None:
        """End the session: later calls are API misuse and nothing in flight will be answered."""
        self.phase = CLOSED
        self.closed_reason = reason
        self.outgoing = self.incoming = None
        self.progress_tokens = None

    def _check_open(self) -> None:
        if self.phase == CLOSED:
            raise LocalProtocolError(f"session is closed: {self.closed_reason}")

    # ------------------------------------------------------------------ sending

    def send_request(self, method: str, params: Any = UNSET, *, progress_token: ProgressToken | None = None) -> Request:
        """A client-to-server request with a fresh id (modern: ``_meta`` added to ``params``).

        Args:
            method: the method name (not ``initialize``: use ``initialize()``).
            params: a params struct, a dict, or nothing; never mutated.
            progress_token: ask for ``notifications/progress`` under this token (must be unique in flight).

        Raises:
            LocalProtocolError: not a client request of this era, too early in the handshake, the server did not
                declare the capability the method needs, or the progress token is already in use.
        """
        self._check_open()
        spec = METHODS.get(method)
        era = self.era
        if spec is None or spec.kind != "request" or spec.direction == "server_to_client":
            raise LocalProtocolError(f"{method} is not a client-to-server request")
        if method == "initialize":
            raise LocalProtocolError("use initialize() to open a session")
        if era not in spec.eras:
            raise LocalProtocolError(f"{method} is not part of the {era} wire")
        if self.phase != READY and method != "ping":
            raise LocalProtocolError(f"cannot send {method} before the session is initialized (only ping may)")
        if method != "ping":
            self._check_server_capability(spec, era)
        meta: dict[str, Any] | None = self._modern_meta() if self.modern else None
        if progress_token is not None:
            meta = {**(meta or {}), PROGRESS_TOKEN: progress_token}
        if meta is not None:
            params = _with_fields(params, meta)
        return self._register(method, params, _token_in(_meta_of(params)))

    def _check_server_capability(self, spec: MethodSpec, era: Era) -> None:
        needed = spec.server_capability_for(era)
        caps = self.server_capabilities
        if needed is not None and caps is not None and not capability_enabled(caps, needed):
            raise LocalProtocolError(f"{spec.name} needs the server capability {needed!r}, which the server lacks")

    def _modern_meta(self) -> dict[str, Any]:
        meta: dict[str, Any] = {
            META_PROTOCOL_VERSION: self.version,
            META_CLIENT_CAPABILITIES: msgspec.to_builtins(self.capabilities),
        }
        if self.client_info is not None:
            meta[META_CLIENT_INFO] = msgspec.to_builtins(self.client_info)
        if self.log_level is not None:
            meta[META_LOG_LEVEL] = self.log_level
        return meta

    def _register(self, method: str, params: Any, token: ProgressToken | None) -> Request:
        tokens = self.progress_tokens
        if token is not None:
            if tokens is not None and token in tokens:
                raise LocalProtocolError(f"progress token {token!r} is already used by a request in flight")
            if tokens is None:
                tokens = self.progress_tokens = {}
        request_id = self.next_request_id
        self.next_request_id = request_id + 1
        task = not self.modern and getattr(params, "task", UNSET) is not UNSET
        if isinstance(params, dict):
            task = not self.modern and "task" in params
        if self.outgoing is None:
            self.outgoing = {}
        self.outgoing[request_id] = _Outgoing(method, token, task=task)
        if token is not None:
            assert tokens is not None
            tokens[token] = request_id
        return Request(request_id, method, params)

    def retry_with_inputs(
        self,
        original: Request,
        input_responses: dict[str, Any],
        request_state: str | UnsetType | None = UNSET,
    ) -> Request:
        """The MRTR retry of ``original`` (answered with ``InputRequiredResult``): a new id, the client's
        ``inputResponses`` and the server's ``requestState`` echoed verbatim (omitted when it sent none).

        Args:
            original: the request as this session built it (its params keep the original arguments).
            input_responses: key -> result struct (``ElicitResult``...), ``msgspec.Raw`` or plain JSON value.
            request_state: the ``requestState`` of the ``InputRequiredResult``, if it had one.

        Raises:
            LocalProtocolError: not a modern session, or the method does not support MRTR.
        """
        self._check_open()
        spec = METHODS.get(original.method)
        if not self.modern or spec is None or not spec.mrtr:
            raise LocalProtocolError(f"{original.method} cannot be retried with input responses on this session")
        responses = {
            key: value if isinstance(value, msgspec.Raw) else msgspec.Raw(_encoder.encode(value))
            for key, value in input_responses.items()
        }
        params = original.params
        if isinstance(params, msgspec.Raw):
            params = decode_params(spec, params)
        fields: dict[str, Any] = {"input_responses": responses}
        if isinstance(request_state, str):
            fields["request_state"] = request_state
        params = _with_fields(params, None, **fields)
        if isinstance(params, dict) and not isinstance(request_state, str):
            params.pop("requestState", None)
        elif isinstance(params, msgspec.Struct) and not isinstance(request_state, str):
            params = msgspec.structs.replace(params, request_state=UNSET)
        return self.send_request(original.method, params)

    def cancel(self, request_id: RequestId, reason: str | None = None) -> Notification | None:
        """Give up on one of our requests: the ``notifications/cancelled`` to send, or ``None`` if it was already
        answered. A late answer to it is then ignored.

        Raises:
            LocalProtocolError: ``initialize`` cannot be cancelled.
        """
        self._check_open()
        entry = self.outgoing.get(request_id) if self.outgoing is not None else None
        if entry is None:
            return None
        if entry.method == "initialize":
            raise LocalProtocolError("initialize must not be cancelled")
        self._pop_outgoing(request_id)
        params: dict[str, Any] = {"requestId": request_id}
        if reason is not None:
            params["reason"] = reason
        return Notification("notifications/cancelled", params)

    def notify(self, method: str, params: Any = UNSET) -> Notification:
        """A client notification (e.g. ``notifications/roots/list_changed``); ``initialized()``, ``cancel()`` and
        ``progress()`` build the lifecycle, cancellation and progress ones.

        Raises:
            LocalProtocolError: not a client notification of this era, too early, or its capability undeclared.
        """
        self._check_open()
        spec = METHODS.get(method)
        if spec is None or spec.kind != "notification" or spec.direction == "server_to_client":
            raise LocalProtocolError(f"{method} is not a client notification")
        if method in ("notifications/initialized", "notifications/cancelled", "notifications/progress"):
            raise LocalProtocolError(f"use the session's own method to send {method}")
        if self.era not in spec.eras:
            raise LocalProtocolError(f"{method} is not part of the {self.era} wire")
        if self.phase != READY:
            raise LocalProtocolError(f"cannot send {method} before the session is initialized")
        needed = spec.client_capability_for(self.era)
        if needed is not None and (self.capabilities is None or not capability_enabled(self.capabilities, needed)):
            raise LocalProtocolError(f"{method} needs the client capability {needed!r}, which this client lacks")
        return Notification(method, params)

    # ------------------------------------------------------------------ receiving

    def receive(self, message: Message) -> Event | None:
        """Process one message from the server; return what the application must act on, if anything.

        Raises:
            LocalProtocolError: the session is closed (or was refused during the handshake).
        """
        self._check_open()
        kind = type(message)
        if kind is Request:
            return self._on_request(message)  # type: ignore[arg-type]
        if kind is Notification:
            return self._on_notification(message)  # type: ignore[arg-type]
        if kind is Response:
            return self._on_response(message)  # type: ignore[arg-type]
        return self._on_error_response(message)  # type: ignore[arg-type]

    def _on_request(self, request: Request) -> Event:
        try:
            return self._accept_request(request)
        except McpError as error:
            return Answered(error_response(error, request.id))

    def _accept_request(self, request: Request) -> Event:
        method = request.method
        incoming = self.incoming
        if incoming is not None and request.id in incoming:
            raise InvalidRequest(f"request id {request.id!r} is already in use by a request in progress")
        if self.modern:
            raise MethodNotFound(f"method not found: {method} (the modern wire has no server-to-client requests)")
        spec = METHODS.get(method)
        if spec is None or spec.kind != "request" or spec.direction == "client_to_server" or "legacy" not in spec.eras:
            raise MethodNotFound(f"method not found: {method}")
        if self.phase != READY and method != "ping":
            raise InvalidRequest(f"{method} before notifications/initialized: only ping may come this early")
        needed = spec.client_capability_for("legacy")
        if needed is not None and (self.capabilities is None or not capability_enabled(self.capabilities, needed)):
            raise MethodNotFound(f"method not found: {method} (this client does not offer {needed})")
        params = decode_params(spec, request.params)
        if method == "ping":
            return Answered(Response(request.id, _EMPTY_RESULT))
        token = _token_in(_meta_of(params))
        if self.incoming is None:
            self.incoming = {}
        self.incoming[request.id] = None if token is None else Inflight(progress_token=token)
        assert self.version is not None
        return RequestReceived(request.id, method, params, "legacy", self.version, token)

    def _on_notification(self, notification: Notification) -> Event | None:
        spec = METHODS.get(notification.method)
        if (
            spec is None
            or spec.kind != "notification"
            or spec.direction == "client_to_server"
            or self.era not in spec.eras
        ):
            return None  # unknown notifications are ignored, as JSON-RPC requires
        try:
            params = decode_params(spec, notification.params)
        except McpError:
            return None  # a notification cannot be answered, even with an error
        if spec.name == "notifications/cancelled":
            return self._on_cancelled(params)
        if spec.name == "notifications/progress":
            return self._on_progress(notification, params)
        return NotificationReceived(spec.name, params)

    def _on_cancelled(self, params: Any) -> Event | None:
        request_id, reason = params.request_id, params.reason
        incoming = self.incoming
        if incoming is not None and request_id in incoming:
            if not self._mark_cancelled(request_id):
                return None
            return CancelRequested(request_id, reason if isinstance(reason, str) else None)
        outgoing = self.outgoing
        pending = outgoing.get(request_id) if outgoing is not None and self.modern else None
        if pending is not None and pending.method == "subscriptions/listen":
            # The server tore down our listen stream: no result will follow.
            self._pop_outgoing(request_id)
            return NotificationReceived("notifications/cancelled", params)
        return None

    def _on_progress(self, notification: Notification, params: Any) -> Event | None:
        tokens = self.progress_tokens
        request_id = tokens.get(params.progress_token) if tokens is not None else None
        entry = self.outgoing.get(request_id) if self.outgoing is not None and request_id is not None else None
        if entry is None:
            return None  # late (after the answer) or never asked for
        if entry.last_progress is not None and params.progress <= entry.last_progress:
            self.progress_violations += 1
            return None
        entry.last_progress = params.progress
        return NotificationReceived(notification.method, params)

    def _on_response(self, response: Response) -> Event | None:
        entry = self._pop_outgoing(response.id)
        if entry is None:
            return None  # not an answer to anything we (still) await
        method = entry.method
        try:
            result = self._decode_result(entry, response.result)
        except McpError as error:
            if method == "initialize":
                return self._refuse(response.id, ErrorObject(int(error.code), error.message))
            return ErrorReceived(response.id, method, ErrorObject(int(error.code), error.message))
        if method == "initialize":
            return self._on_initialize_result(response.id, result)
        if method == "server/discover":
            self.server_capabilities = result.capabilities
            info = result.meta.get(META_SERVER_INFO) if isinstance(result.meta, dict) else None
            if info is not None:
                try:
                    self.server_info = msgspec.convert(info, Implementation)
                except DECODE_ERRORS:
                    self.server_info = None
            self.instructions = result.instructions if isinstance(result.instructions, str) else None
        return ResponseReceived(response.id, method, result)

    def _decode_result(self, entry: _Outgoing, result: Any) -> Any:
        spec = METHODS[entry.method]
        if not self.modern:
            if entry.task:
                # A receiver without task support processes the request normally (2025-11-25): either answer.
                try:
                    return _decode_as(LegacyCreateTaskResult, spec.name, result)
                except McpError:
                    return decode_result(spec, result)
            return decode_result(spec, result)
        try:
            result_type = _result_type(result)
        except DECODE_ERRORS as exc:
            raise InvalidParams(f"invalid result for {spec.name}: {describe_decode_error(exc)}") from None
        if result_type == "complete":
            return decode_result(spec, result)
        if result_type == "input_required":
            if not spec.mrtr:
                raise InvalidParams(f"invalid result for {spec.name}: it cannot ask for input (input_required)")
            answer = _decode_as(InputRequiredResult, spec.name, result)
            if answer.input_requests is UNSET and answer.request_state is UNSET:
                raise InvalidParams(f"invalid result for {spec.name}: input_required needs inputRequests or state")
            return answer
        if result_type == "task":
            caps = self.capabilities
            if caps is None or not capability_enabled(caps, f"extensions.{TASKS_EXTENSION}"):
                raise InvalidParams(f"invalid result for {spec.name}: a task, but this client declared no tasks")
            return _decode_as(CreateTaskResult, spec.name, result)
        raise InvalidParams(f"invalid result for {spec.name}: unknown resultType {result_type!r}")

    def _on_initialize_result(self, request_id: RequestId, result: Any) -> Event:
        version = result.protocol_version
        assert self.versions is not None
        if version not in self.versions:
            supported = list(self.versions)
            message = (
                f"the server chose protocol version {version!r}, which this client does not support "
                f"(supported: {', '.join(supported)})"
            )
            data = {"supported": supported, "requested": version}
            return self._refuse(request_id, ErrorObject(int(ErrorCode.INVALID_PARAMS), message, data))
        self.version = version
        self.server_capabilities = result.capabilities
        self.server_info = result.server_info
        self.instructions = result.instructions if isinstance(result.instructions, str) else None
        self.phase = INITIALIZED
        return ResponseReceived(request_id, "initialize", result)

    def _refuse(self, request_id: RequestId, error: ErrorObject) -> ErrorReceived:
        self.close(f"initialize failed: {error.message}")
        return ErrorReceived(request_id, "initialize", error)

    def _on_error_response(self, response: ErrorResponse) -> Event | None:
        if response.id is None:
            return None  # the server could not parse something we sent; nothing to correlate
        entry = self._pop_outgoing(response.id)
        if entry is None:
            return None
        if entry.method == "initialize":
            return self._refuse(response.id, response.error)
        return ErrorReceived(response.id, entry.method, response.error)

    def _pop_outgoing(self, request_id: RequestId) -> _Outgoing | None:
        outgoing = self.outgoing
        if outgoing is None:
            return None
        entry = outgoing.pop(request_id, None)
        if not outgoing:
            self.outgoing = None
        if entry is not None and entry.progress_token is not None and self.progress_tokens is not None:
            self.progress_tokens.pop(entry.progress_token, None)
            if not self.progress_tokens:
                self.progress_tokens = None
        return entry
