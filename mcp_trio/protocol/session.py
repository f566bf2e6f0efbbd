"""The server side of an MCP session, as a sans-IO state machine for both wire eras.

Theory of operation
-------------------
A ``ServerSession`` is fed decoded JSON-RPC messages (``receive``) and returns an ``Event`` (or ``None`` when a
message needs no action); the application answers requests through ``respond``/``respond_error`` and sends its
own messages through ``send_request``/``notify``/``progress``/``log``. Every method returns the message to put on
the wire and never performs I/O, so the same machine serves stdio, sockets and Streamable HTTP.

Era is decided per request. A session that received ``initialize`` is **legacy**: versions are negotiated
once, the server's capabilities gate methods, only ``ping`` may precede ``initialize``, and the server may
send only ``ping`` and log messages until ``notifications/initialized``. A request whose ``_meta`` names a
protocol version is **modern**: it is validated on its own (``accept_modern_request``) and the session keeps no
state for it beyond the in-flight entry that makes cancellation and progress work.

State is one small struct with maps created only when used, because an idle server holds one per connection.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec
from msgspec import UNSET

from mcp_trio.protocol.errors import (
    DECODE_ERRORS,
    InvalidParams,
    InvalidRequest,
    LocalProtocolError,
    McpError,
    MethodNotFound,
    MissingClientCapability,
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
    SessionInitialized,
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
from mcp_trio.protocol.modern import LOG_LEVELS, is_modern_meta, read_modern_meta
from mcp_trio.protocol.profile import ServerProfile
from mcp_trio.protocol.typed import decode_params, decode_result
from mcp_trio.protocol.types import (
    METHODS,
    ClientCapabilities,
    Implementation,
    InitializeParams,
    InitializeResult,
    MethodSpec,
    capability_enabled,
)
from mcp_trio.protocol.versions import BATCHING_VERSIONS, Era, negotiate_legacy_version

__all__ = [
    "ServerSession",
    "SessionSnapshot",
    "encode_snapshot",
    "decode_snapshot",
    "accept_modern_request",
    "nested_capability",
]

# Phases of the legacy lifecycle.
NEW: Final = 0  # nothing yet (a modern-only connection stays here)
INITIALIZING: Final = 1  # initialize answered; waiting for notifications/initialized
READY: Final = 2
CLOSED: Final = 3

_EMPTY_RESULT: Final = msgspec.Raw(b"{}")
_LEVEL_RANK: Final[dict[str, int]] = {level: rank for rank, level in enumerate(LOG_LEVELS)}
_ID_TYPES: Final = (int, str)  # a tuple: ``int | str`` would build a union object on every call (hot path)


class _MetaPeek(msgspec.Struct):
    meta: Any = msgspec.field(default=UNSET, name="_meta")


_meta_peek: Final = msgspec.json.Decoder(_MetaPeek)


def _progress_token(params: Any) -> ProgressToken | None:
    meta = getattr(params, "meta", UNSET)
    if type(meta) is dict:
        token = meta.get("progressToken")
        if isinstance(token, _ID_TYPES) and not isinstance(token, bool):
            return token
    return None


#: Per method and era a client may call: its spec, then the server and the client capability that gate it.
#: Filled on first use, and only for known methods, so it is bounded by the method table.
_ROUTES: Final[dict[tuple[str, Era], tuple[MethodSpec, str | None, str | None]]] = {}


def _route(profile: ServerProfile, name: str, era: Era) -> tuple[MethodSpec, str | None]:
    """The spec of a method the client may call on ``era``'s wire and its client-capability gate.

    Raises:
        MethodNotFound: unknown, not a client request on this wire, or gated by a capability we do not offer.
    """
    known = profile.routes[era]
    hit = known.get(name)
    if hit is not None:
        return hit  # type: ignore[no-any-return]
    route = _ROUTES.get((name, era))
    if route is None:
        spec = METHODS.get(name)
        if spec is None or spec.kind != "request" or spec.direction == "server_to_client" or era not in spec.eras:
            raise MethodNotFound(f"method not found: {name}")
        route = _ROUTES[name, era] = (spec, spec.server_capability_for(era), spec.client_capability_for(era))
    spec, offered, needed = route
    if offered is not None and not profile.offers(offered):
        raise MethodNotFound(f"method not found: {name} (this server does not offer {offered})")
    known[name] = hit = (spec, needed)  # bounded by the method table: only methods that exist get here
    return hit


def accept_modern_request(profile: ServerProfile, request: Request, params: Any = UNSET) -> RequestReceived:
    """Validate one modern (stateless) request on its own and return the event for the application.

    Checks run in the spec's order: the method exists on the modern wire (-32601), its params decode (-32602),
    ``_meta`` carries a supported version (-32602 / -32022) and the client's capabilities (-32602). ``params``
    are the request's params already decoded for its method, when the caller has them (they are not decoded
    twice).

    Raises:
        McpError: the error to answer with (its ``http_status`` is the HTTP status to use).
    """
    spec, needed = _route(profile, request.method, "modern")
    if params is UNSET:
        params = decode_params(spec, request.params)
    meta = read_modern_meta(getattr(params, "meta", UNSET), profile.modern_versions)
    if needed is not None and not capability_enabled(meta.client_capabilities, needed):
        raise MissingClientCapability(
            f"{spec.name} needs the client capability {needed!r} in _meta", nested_capability(needed)
        )
    return RequestReceived(
        request.id, request.method, params, "modern", meta.protocol_version, _progress_token(params), meta
    )


class ServerSession(msgspec.Struct, PeerRequests, gc=False):
    """One client's session with this server (see the module docstring).

    Args:
        profile: the server's identity, capabilities and limits, shared by every session.
    """

    profile: ServerProfile
    phase: int = NEW
    version: str | None = None
    client_capabilities: ClientCapabilities | None = None
    client_info: Implementation | None = None
    log_level: str | None = None
    next_request_id: int = 1
    outgoing: dict[RequestId, str] | None = None  # our requests awaiting an answer: id -> method
    incoming: dict[RequestId, Inflight | None] | None = None  # the peer's requests in progress

    # ------------------------------------------------------------------ receiving

    @property
    def batches_allowed(self) -> bool:
        """JSON-RPC batches are part of 2025-03-26 only (MCP-SPEC 1.8)."""
        return self.version in BATCHING_VERSIONS

    def receive(self, message: Message) -> Event | None:
        """Process one message from the client; return what the application must act on, if anything."""
        if self.phase == CLOSED:
            raise LocalProtocolError("session is closed")
        kind = type(message)
        if kind is Request:
            try:
                return self._accept_request(message)  # type: ignore[arg-type]
            except McpError as error:
                return Answered(error_response(error, message.id))  # type: ignore[union-attr]
        if kind is Notification:
            return self._on_notification(message)  # type: ignore[arg-type]
        if kind is Response:
            return self._on_response(message)  # type: ignore[arg-type]
        return self._on_error_response(message)  # type: ignore[arg-type]

    def reject(self, error: McpError) -> Answered:
        """Answer a message that could not even be decoded (the transport's framing or parse errors)."""
        return Answered(error_response(error))

    def _accept_request(self, request: Request) -> Event:
        method = request.method
        incoming = self.incoming
        if incoming is not None and request.id in incoming:
            raise InvalidRequest(f"request id {request.id!r} is already in use by a request in progress")
        if self.phase == NEW:
            spec = METHODS.get(method)
            params: Any = UNSET
            if spec is not None and spec.params is not None:
                try:
                    params = decode_params(spec, request.params)
                    meta = getattr(params, "meta", UNSET)
                except McpError:  # still find out whether it is modern: removed methods get -32601 first
                    meta = _peek_meta(request.params)
            else:
                meta = _peek_meta(request.params)
            if is_modern_meta(meta) or _claims_modern(meta) or (spec is not None and spec.eras == _MODERN_ONLY):
                return self.track(accept_modern_request(self.profile, request, params))
            if method == "initialize":
                return self._initialize(request)
            if method == "ping":
                return Answered(Response(request.id, _EMPTY_RESULT))
            raise InvalidRequest(
                "session not initialized: send initialize first (or, on the 2026-07-28 wire, "
                "name the protocol version in _meta)"
            )
        if method == "initialize":
            raise InvalidRequest("session already initialized")
        spec, _ = _route(self.profile, method, "legacy")
        params = decode_params(spec, request.params)
        if method == "ping":
            return Answered(Response(request.id, _EMPTY_RESULT))
        if method == "logging/setLevel":
            level = params.level
            if level not in _LEVEL_RANK:
                raise InvalidParams(f"unknown log level {level!r}")
            self.log_level = level
            return Answered(Response(request.id, _EMPTY_RESULT))
        assert self.version is not None
        return self.track(RequestReceived(request.id, method, params, "legacy", self.version, _progress_token(params)))

    def track(self, event: RequestReceived) -> RequestReceived:
        """Record a request in progress (done by ``receive``; stateless HTTP calls it for modern requests)."""
        if self.incoming is None:
            self.incoming = {}
        level = event.meta.log_level if event.meta is not None else None
        token = event.progress_token
        self.incoming[event.id] = (
            None if token is None and level is None else Inflight(progress_token=token, log_level=level)
        )
        return event

    def _initialize(self, request: Request) -> Answered:
        spec = METHODS["initialize"]
        params: InitializeParams = decode_params(spec, request.params)
        profile = self.profile
        self.version = negotiate_legacy_version(params.protocol_version, profile.legacy_versions)
        self.client_capabilities = params.capabilities
        self.client_info = params.client_info
        self.phase = INITIALIZING
        result = InitializeResult(
            protocol_version=self.version,
            capabilities=profile.capabilities,
            server_info=profile.server_info,
            instructions=profile.instructions if profile.instructions is not None else UNSET,
        )
        return Answered(Response(request.id, result))

    def _on_notification(self, notification: Notification) -> Event | None:
        method = notification.method
        if method == "notifications/initialized":
            if self.phase != INITIALIZING:
                return None  # a stray or repeated initialized changes nothing
            self.phase = READY
            return SessionInitialized()
        spec = METHODS.get(method)
        if spec is None or spec.kind != "notification" or spec.direction == "server_to_client":
            return None  # unknown notifications are ignored, as JSON-RPC requires
        try:
            params = decode_params(spec, notification.params)
        except McpError:
            return None  # a notification cannot be answered, even with an error
        if method == "notifications/cancelled":
            return self._on_cancelled(params.request_id, params.reason)
        return NotificationReceived(method, params)

    def _on_cancelled(self, request_id: Any, reason: Any) -> CancelRequested | None:
        if not self._mark_cancelled(request_id):
            return None
        return CancelRequested(request_id, reason if isinstance(reason, str) else None)

    def _on_response(self, response: Response) -> Event | None:
        method = self._pop_outgoing(response.id)
        if method is None:
            return None  # not an answer to anything we asked; nothing to reply to a response
        try:
            result = decode_result(METHODS[method], response.result)
        except McpError as error:
            return ErrorReceived(response.id, method, ErrorObject(int(error.code), error.message))
        return ResponseReceived(response.id, method, result)

    def _on_error_response(self, response: ErrorResponse) -> Event | None:
        if response.id is None:
            return None  # the client could not parse something we sent; nothing to correlate
        method = self._pop_outgoing(response.id)
        if method is None:
            return None
        return ErrorReceived(response.id, method, response.error)

    def _pop_outgoing(self, request_id: RequestId) -> str | None:
        outgoing = self.outgoing
        if outgoing is None:
            return None
        method = outgoing.pop(request_id, None)
        if not outgoing:
            self.outgoing = None
        return method

    # ------------------------------------------------------------------ answering

    # ------------------------------------------------------------------ sending

    def send_request(self, method: str, params: Any = UNSET) -> Request:
        """A server-to-client request (legacy only): ``sampling/createMessage``, ``elicitation/create``, ...

        Raises:
            LocalProtocolError: not a server-to-client request, or the session cannot send it yet.
            MissingClientCapability: the client did not declare the capability the request needs.
        """
        spec = METHODS.get(method)
        if spec is None or spec.kind != "request" or spec.direction == "client_to_server":
            raise LocalProtocolError(f"{method} is not a server-to-client request")
        if self.phase == CLOSED:
            raise LocalProtocolError("session is closed")
        if self.phase == NEW or self.version is None:
            raise LocalProtocolError("server-to-client requests need a legacy session (the modern wire has none)")
        if self.phase != READY and method != "ping":
            raise LocalProtocolError(f"cannot send {method} before the client sent notifications/initialized")
        needed = spec.client_capability_for("legacy")
        caps = self.client_capabilities
        if needed is not None and (caps is None or not capability_enabled(caps, needed)):
            raise MissingClientCapability(
                f"{method} needs the client capability {needed!r}, which this client did not declare",
                nested_capability(needed),
            )
        request_id = self.next_request_id
        self.next_request_id = request_id + 1
        if self.outgoing is None:
            self.outgoing = {}
        self.outgoing[request_id] = method
        return Request(request_id, method, params)

    def forget_request(self, request_id: RequestId, reason: str | None = None) -> Notification | None:
        """Give up on one of our requests; returns the ``notifications/cancelled`` to send, if still pending."""
        if self._pop_outgoing(request_id) is None:
            return None
        params: dict[str, Any] = {"requestId": request_id}
        if reason is not None:
            params["reason"] = reason
        return Notification("notifications/cancelled", params)

    def notify(self, method: str, params: Any = UNSET) -> Notification:
        """A server notification on this session (legacy lifecycle rules apply).

        Raises:
            LocalProtocolError: not a server notification, its capability is not declared, or it is too early.
        """
        spec = METHODS.get(method)
        if spec is None or spec.kind != "notification" or spec.direction == "client_to_server":
            raise LocalProtocolError(f"{method} is not a server notification")
        if spec.server_capability is not None and not capability_enabled(
            self.profile.capabilities, spec.server_capability
        ):
            raise LocalProtocolError(f"{method} needs the server capability {spec.server_capability!r}")
        if self.phase == CLOSED:
            raise LocalProtocolError("session is closed")
        if self.phase != READY and method != "notifications/message":
            raise LocalProtocolError(f"cannot send {method} before the client sent notifications/initialized")
        return Notification(method, params)

    def log_enabled(self, level: str, request_id: RequestId | None = None) -> bool:
        """Whether a log message at ``level`` may be sent now.

        Legacy: the level set by ``logging/setLevel``, else the profile's default. Modern: only within a request
        whose ``_meta`` set a log level, and only at or above it.
        """
        threshold = self.log_level if self.log_level is not None else self.profile.default_log_level
        if self.phase == NEW:  # modern (or not yet initialized): only within a request that set a level
            entry = self.incoming.get(request_id) if self.incoming is not None and request_id is not None else None
            threshold = entry.log_level if entry is not None else None
        return threshold is not None and _LEVEL_RANK[level] >= _LEVEL_RANK[threshold]

    def close(self) -> None:
        """End the session (DELETE, EOF, expiry): later ``receive`` calls are API misuse."""
        self.phase = CLOSED
        self.incoming = self.outgoing = None

    # ------------------------------------------------------------------ hand-off

    def snapshot(self) -> SessionSnapshot:
        """What another process needs to carry this session on (a worker hand-off): the negotiated state.

        Requests in progress cannot move: they belong to the tasks running them here.
        """
        return SessionSnapshot(
            self.phase, self.version, self.client_capabilities, self.client_info, self.log_level, self.next_request_id
        )

    @classmethod
    def restore(cls, profile: ServerProfile, snapshot: SessionSnapshot) -> ServerSession:
        """The session a ``snapshot`` describes, serving ``profile``."""
        return cls(
            profile,
            phase=snapshot.phase,
            version=snapshot.version,
            client_capabilities=snapshot.client_capabilities,
            client_info=snapshot.client_info,
            log_level=snapshot.log_level,
            next_request_id=snapshot.next_request_id,
        )


class SessionSnapshot(msgspec.Struct, array_like=True, omit_defaults=True, gc=False):
    """A legacy session's negotiated state, compact (a msgpack array of a few fields; about 100 bytes with
    typical capabilities): the phase, version, client capabilities and identity, log level and the next id of
    our own requests. ``encode_snapshot`` / ``decode_snapshot`` carry it between processes."""

    phase: int
    version: str | None = None
    client_capabilities: ClientCapabilities | None = None
    client_info: Implementation | None = None
    log_level: str | None = None
    next_request_id: int = 1


_snapshot_encoder: Final = msgspec.msgpack.Encoder()
_snapshot_decoder: Final = msgspec.msgpack.Decoder(SessionSnapshot)


def encode_snapshot(snapshot: SessionSnapshot) -> bytes:
    return _snapshot_encoder.encode(snapshot)


def decode_snapshot(data: bytes) -> SessionSnapshot:
    """Raises ``InvalidRequest`` for bytes that are not a snapshot (they may come from another process)."""
    try:
        return _snapshot_decoder.decode(data)
    except DECODE_ERRORS as exc:
        raise InvalidRequest(f"not a session snapshot: {exc}") from None


_MODERN_ONLY: Final = frozenset({"modern"})
_RESERVED_PREFIX: Final = "io.modelcontextprotocol/"


def _claims_modern(meta: Any) -> bool:
    """A ``_meta`` with any modern per-request key speaks the modern wire, even if it forgot the version."""
    return isinstance(meta, dict) and any(
        isinstance(key, str) and key.startswith(_RESERVED_PREFIX) and key != "io.modelcontextprotocol/related-task"
        for key in meta
    )


def _peek_meta(params: Any) -> Any:
    if not isinstance(params, msgspec.Raw):
        return UNSET
    try:
        return _meta_peek.decode(params).meta
    except DECODE_ERRORS:
        return UNSET


def nested_capability(path: str) -> dict[str, Any]:
    """A capability path as the object ``data.requiredCapabilities`` wants.

    ``"elicitation.url"`` -> ``{"elicitation": {"url": {}}}``; an extension id (which contains dots) stays whole:
    ``"extensions.io.modelcontextprotocol/tasks"`` -> ``{"extensions": {"io.modelcontextprotocol/tasks": {}}}``.
    """
    head, _, rest = path.partition(".")
    if head in ("extensions", "experimental") and rest:
        return {head: {rest: {}}}
    out: dict[str, Any] = {}
    node = out
    for segment in path.split("."):
        node[segment] = {}
        node = node[segment]
    return out
