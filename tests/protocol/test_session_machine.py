"""A hypothesis state machine driving a ClientSession and a ServerSession back to back, for both eras.

The two "applications" take random legal and illegal actions (requests of any method, server requests and
notifications, cancellations, progress, answers in random order, reused ids, garbage bytes). A small model
predicts which actions the sessions must refuse and what must be in flight; the invariants check that the
sessions agree with the model, that every client request gets exactly one response (at most one once
cancelled), that a legacy server says nothing but ping and logs before ``initialized``, and that no map
outlives the last request in flight.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, ClassVar

import msgspec
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from session_pair_helpers import CLIENT_INFO, MODERN_VERSION, feed_server, profile

from mcp_trio.protocol import (
    LEGACY_VERSIONS,
    Answered,
    CancelRequested,
    ClientSession,
    ErrorReceived,
    ErrorResponse,
    InvalidParams,
    LocalProtocolError,
    McpError,
    MissingClientCapability,
    NotificationReceived,
    Request,
    RequestReceived,
    Response,
    ResponseReceived,
    ServerSession,
    SessionInitialized,
    decode_message,
    encode_message,
)
from mcp_trio.protocol.types import (
    METHODS,
    ClientCapabilities,
    InputRequiredResult,
    ListChangedCapability,
    SamplingCapability,
    ServerCapabilities,
    capability_enabled,
)

SERVER_CAPS = ServerCapabilities(
    tools=ListChangedCapability(list_changed=True),
    prompts=ListChangedCapability(),  # no listChanged
    logging={},
    completions={},
)
CLIENT_CAPS = ClientCapabilities(roots=ListChangedCapability(), sampling=SamplingCapability())
PARAMS: dict[str, Any] = {
    "tools/call": {"name": "t", "arguments": {}},
    "prompts/get": {"name": "p"},
    "resources/read": {"uri": "a://b"},
    "resources/subscribe": {"uri": "a://b"},
    "logging/setLevel": {"level": "warning"},
    "completion/complete": {"ref": {"type": "ref/prompt", "name": "p"}, "argument": {"name": "a", "value": "v"}},
    "tasks/get": {"taskId": "t"},
    "sampling/createMessage": {"messages": [], "maxTokens": 1},
    "elicitation/create": {"message": "?", "requestedSchema": {"type": "object", "properties": {}}},
}
RESULTS: dict[str, Any] = {
    "ping": {},
    "tools/list": {"tools": []},
    "tools/call": {"content": []},
    "prompts/list": {"prompts": []},
    "prompts/get": {"messages": []},
    "completion/complete": {"completion": {"values": []}},
    "server/discover": {"supportedVersions": [MODERN_VERSION], "capabilities": msgspec.to_builtins(SERVER_CAPS)},
    "roots/list": {"roots": []},
    "sampling/createMessage": {"role": "assistant", "content": {"type": "text", "text": "x"}, "model": "m"},
}
# Every request name (legal or not on each side), with the MRTR methods weighted up so retries happen.
CLIENT_METHODS = [*sorted(name for name, spec in METHODS.items() if spec.kind == "request"), "no/such"]
CLIENT_METHODS += ["tools/call", "prompts/get"] * 4
SERVER_METHODS = ["ping", "roots/list", "sampling/createMessage", "elicitation/create", "tasks/list", "tools/list"]
SERVER_NOTIFICATIONS = [
    "notifications/message",
    "notifications/tools/list_changed",
    "notifications/prompts/list_changed",
    "notifications/resources/list_changed",
]
# Fuzz stays clear of what would legitimately change the model (lifecycle, cancellation, progress, int ids).
FUZZ_METHODS = [
    "ping",
    "tools/list",
    "tools/call",
    "no/such",
    "notifications/message",
    "notifications/roots/list_changed",
]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=6),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=8,
)
fuzz_envelopes = st.fixed_dictionaries(
    {},
    optional={
        "jsonrpc": st.sampled_from(["2.0", "1.0"]) | json_values,
        "id": st.text(max_size=4).map(lambda t: "g" + t) | st.none() | st.booleans() | st.floats(allow_nan=False),
        "method": st.sampled_from(FUZZ_METHODS) | json_values,
        "params": json_values,
        "result": json_values,
        "error": json_values,
    },
)


class SessionPairMachine(RuleBasedStateMachine):
    modern: ClassVar[bool] = False

    def __init__(self) -> None:
        super().__init__()
        self.version: str | None = None
        self.server = ServerSession(profile(SERVER_CAPS))
        if self.modern:
            self.client = ClientSession(modern=True, capabilities=CLIENT_CAPS, client_info=CLIENT_INFO)
        else:
            self.client = ClientSession(capabilities=CLIENT_CAPS, client_info=CLIENT_INFO)
        self.c2s: list[bytes] = []
        self.s2c: list[bytes] = []
        # The model.
        self.handshake = "new"  # legacy client: new -> sent -> answered -> ready
        self.server_got_initialize = False
        self.server_saw_initialized = False
        self.client_knows_caps = False
        self.client_ids: set[Any] = set()
        self.client_requests: dict[Any, Request] = {}
        self.client_inflight: dict[Any, str] = {}  # sent, neither answered nor cancelled
        self.client_cancelled: set[Any] = set()
        self.client_last_progress: dict[Any, float] = {}
        self.responses: Counter[Any] = Counter()
        self.server_methods: dict[Any, str] = {}  # every request the server sent
        self.server_inflight: dict[Any, str] = {}
        self.server_pending: dict[Any, RequestReceived] = {}  # the server app's work
        self.server_cancelled: set[Any] = set()
        self.server_progress: dict[Any, float] = {}
        self.client_pending: dict[Any, RequestReceived] = {}  # the client app's work
        self.client_cancelled_by_server: set[Any] = set()
        self.input_required: list[tuple[Request, InputRequiredResult]] = []
        self.tokens = 0

    @initialize(version=st.sampled_from([None, *LEGACY_VERSIONS]))
    def maybe_handshake(self, version: str | None) -> None:
        """Most legacy runs start from a completed handshake (delivered in order); the rest build it by rules."""
        if self.modern or version is None:
            return
        self.version = version
        self._sent(self.client.initialize(version=version))
        self.deliver_to_server()
        self.deliver_to_client()
        self.client_initialized()
        self.deliver_to_server()
        assert self.server_saw_initialized
        assert self.client.version == self.server.version == version

    # ------------------------------------------------------------------ the wire

    def emit_c2s(self, message: Any) -> None:
        self.c2s.append(encode_message(message))

    def emit_s2c(self, message: Any) -> None:
        kind = type(message)
        if kind is Response or kind is ErrorResponse:
            if message.id in self.client_ids:
                self.responses[message.id] += 1
        elif not self.modern and not self.server_saw_initialized:
            if kind is Request:
                assert message.method == "ping", f"server sent {message.method} before initialized"
            elif message.method == "notifications/cancelled":  # giving up on its own ping is part of ping
                assert self.server_methods[message.params["requestId"]] == "ping"
            else:
                assert message.method == "notifications/message", f"server sent {message.method} before initialized"
        self.s2c.append(encode_message(message))

    @precondition(lambda self: self.c2s)
    @rule()
    def deliver_to_server(self) -> None:
        message = decode_message(self.c2s.pop(0))
        assert not isinstance(message, list)
        if type(message) is Request and message.method == "initialize":
            self.server_got_initialize = True
        event = self.server.receive(message)
        if isinstance(event, Answered):
            self.emit_s2c(event.message)
        elif isinstance(event, RequestReceived):
            assert event.id not in self.server_pending
            self.server_pending[event.id] = event
        elif isinstance(event, CancelRequested):
            assert event.id in self.server_pending
            assert event.id not in self.server_cancelled
            self.server_cancelled.add(event.id)
        elif isinstance(event, SessionInitialized):
            assert not self.modern
            self.server_saw_initialized = True
        elif isinstance(event, ResponseReceived | ErrorReceived):
            assert self.server_inflight.pop(event.id) == event.method
        else:
            assert event is None or isinstance(event, NotificationReceived), event

    @precondition(lambda self: self.s2c)
    @rule()
    def deliver_to_client(self) -> None:
        message = decode_message(self.s2c.pop(0))
        assert not isinstance(message, list)
        event = self.client.receive(message)
        if isinstance(event, Answered):
            self.emit_c2s(event.message)
        elif isinstance(event, RequestReceived):
            assert not self.modern
            assert event.id not in self.client_pending
            self.client_pending[event.id] = event
        elif isinstance(event, CancelRequested):
            assert event.id in self.client_pending
            self.client_cancelled_by_server.add(event.id)
        elif isinstance(event, ResponseReceived | ErrorReceived):
            assert self.client_inflight.pop(event.id) == event.method
            self.client_last_progress.pop(event.id, None)
            if event.method == "initialize":
                assert isinstance(event, ResponseReceived), event
                self.handshake = "answered"
            if event.method == "server/discover" and isinstance(event, ResponseReceived):
                self.client_knows_caps = True
            if isinstance(event, ResponseReceived) and isinstance(event.result, InputRequiredResult):
                self.input_required.append((self.client_requests[event.id], event.result))
        elif isinstance(event, NotificationReceived):
            if event.method == "notifications/progress":
                owners = [
                    i
                    for i, r in self.client_requests.items()
                    if i in self.client_inflight and _token(r) == event.params.progress_token
                ]
                assert len(owners) == 1
                assert event.params.progress > self.client_last_progress.get(owners[0], float("-inf"))
                self.client_last_progress[owners[0]] = event.params.progress
        else:
            assert event is None, event

    # ------------------------------------------------------------------ the client application

    @rule()
    def client_initialize(self) -> None:
        legal = not self.modern and self.handshake == "new"
        try:
            request = self.client.initialize()
        except LocalProtocolError:
            assert not legal
            return
        assert legal
        self.handshake = "sent"
        self._sent(request)

    @rule()
    def client_initialized(self) -> None:
        legal = not self.modern and self.handshake == "answered"
        try:
            notification = self.client.initialized()
        except LocalProtocolError:
            assert not legal
            return
        assert legal
        self.handshake = "ready"
        self.emit_c2s(notification)

    @rule(method=st.sampled_from(CLIENT_METHODS), with_token=st.booleans())
    def client_request(self, method: str, with_token: bool) -> None:
        token = None
        if with_token:
            self.tokens += 1
            token = f"p{self.tokens}"
        try:
            request = self.client.send_request(method, PARAMS.get(method, {}), progress_token=token)
        except LocalProtocolError:
            assert not self._legal_client_request(method), method
            return
        assert self._legal_client_request(method), method
        self._sent(request)

    def _legal_client_request(self, method: str) -> bool:
        spec = METHODS.get(method)
        era = "modern" if self.modern else "legacy"
        if spec is None or spec.kind != "request" or spec.direction == "server_to_client" or method == "initialize":
            return False
        if era not in spec.eras:
            return False
        if not self.modern and self.handshake != "ready":
            return method == "ping"
        needed = spec.server_capability_for(era)
        caps_known = not self.modern or self.client_knows_caps
        return method == "ping" or needed is None or not caps_known or capability_enabled(SERVER_CAPS, needed)

    def _sent(self, request: Request) -> None:
        assert request.id not in self.client_ids, "client request ids must never repeat"
        self.client_ids.add(request.id)
        self.client_requests[request.id] = request
        self.client_inflight[request.id] = request.method
        self.emit_c2s(request)

    @precondition(lambda self: any(m != "initialize" for m in self.client_inflight.values()))
    @rule(data=st.data())
    def client_cancel(self, data: st.DataObject) -> None:
        request_id = data.draw(st.sampled_from(sorted(i for i, m in self.client_inflight.items() if m != "initialize")))
        notification = self.client.cancel(request_id, "bored")
        assert notification is not None
        del self.client_inflight[request_id]
        self.client_last_progress.pop(request_id, None)
        self.client_cancelled.add(request_id)
        self.emit_c2s(notification)

    @precondition(lambda self: any(i not in self.client_inflight for i in self.client_ids))
    @rule(data=st.data())
    def client_cancel_something_finished(self, data: st.DataObject) -> None:
        request_id = data.draw(st.sampled_from(sorted(i for i in self.client_ids if i not in self.client_inflight)))
        assert self.client.cancel(request_id) is None

    @precondition(lambda self: self.input_required)
    @rule(data=st.data())
    def client_retry(self, data: st.DataObject) -> None:
        original, result = self.input_required.pop(data.draw(st.integers(0, len(self.input_required) - 1)))
        responses = {key: {"action": "decline"} for key in (result.input_requests or {})}
        self._sent(self.client.retry_with_inputs(original, responses, result.request_state))

    @precondition(lambda self: self.client_pending)
    @rule(data=st.data(), fail=st.booleans())
    def client_answer(self, data: st.DataObject, fail: bool) -> None:
        request_id = data.draw(st.sampled_from(sorted(self.client_pending, key=repr)))
        self._client_answer(request_id, fail)

    def _client_answer(self, request_id: Any, fail: bool) -> None:
        event = self.client_pending.pop(request_id)
        if fail or event.method not in RESULTS:
            answer: Any = self.client.respond_error(request_id, InvalidParams("no"))
        else:
            answer = self.client.respond(request_id, RESULTS[event.method])
        cancelled = request_id in self.client_cancelled_by_server
        self.client_cancelled_by_server.discard(request_id)
        assert (answer is None) == cancelled
        if answer is not None:
            self.emit_c2s(answer)

    @precondition(lambda self: self.client_pending)
    @rule(data=st.data())
    def client_sees_a_reused_id(self, data: st.DataObject) -> None:
        request_id = data.draw(st.sampled_from(sorted(self.client_pending, key=repr)))
        event = self.client.receive(decode_message(encode_message(Request(request_id, "roots/list"))))  # type: ignore[arg-type]
        assert isinstance(event, Answered)
        assert isinstance(event.message, ErrorResponse)
        assert (event.message.id, event.message.error.code) == (request_id, -32600)

    # ------------------------------------------------------------------ the server application

    @precondition(lambda self: self.server_pending)
    @rule(data=st.data(), how=st.sampled_from(["result", "error", "input", "input", "forget"]))
    def server_answer(self, data: st.DataObject, how: str) -> None:
        request_id = data.draw(st.sampled_from(sorted(self.server_pending, key=repr)))
        self._server_answer(request_id, how)

    def _server_answer(self, request_id: Any, how: str) -> None:
        event = self.server_pending.pop(request_id)
        self.server_progress.pop(request_id, None)
        cancelled = request_id in self.server_cancelled
        self.server_cancelled.discard(request_id)
        if how == "forget" and cancelled:
            self.server.forget(request_id)
            return
        spec = METHODS[event.method]
        if how == "input" and event.era == "modern" and spec.mrtr:
            answer: Any = self.server.respond(
                request_id, {"resultType": "input_required", "inputRequests": {"r": {"method": "roots/list"}}}
            )
        elif how == "error" or event.method not in RESULTS:
            answer = self.server.respond_error(request_id, InvalidParams("no"))
        else:
            answer = self.server.respond(request_id, RESULTS[event.method])
        assert (answer is None) == cancelled
        if answer is not None:
            self.emit_s2c(answer)

    @precondition(lambda self: self.server_pending)
    @rule(data=st.data(), step=st.sampled_from([1.0, 0.5, 0.0, -1.0]))
    def server_progress_report(self, data: st.DataObject, step: float) -> None:
        request_id = data.draw(st.sampled_from(sorted(self.server_pending, key=repr)))
        event = self.server_pending[request_id]
        last = self.server_progress.get(request_id)
        value = (last if last is not None else 0.0) + step
        quiet = event.progress_token is None or request_id in self.server_cancelled
        try:
            notification = self.server.progress(request_id, value, total=10)
        except LocalProtocolError:
            assert not quiet
            assert last is not None
            assert value <= last
            return
        if quiet:
            assert notification is None
            return
        assert notification is not None
        assert last is None or value > last
        self.server_progress[request_id] = value
        self.emit_s2c(notification)

    @rule(method=st.sampled_from(SERVER_METHODS))
    def server_request(self, method: str) -> None:
        params = PARAMS.get(method, msgspec.UNSET)
        spec = METHODS[method]
        legal_now = not self.modern and self.server_got_initialize and (self.server_saw_initialized or method == "ping")
        needed = spec.client_capability_for("legacy")
        declared = needed is None or capability_enabled(CLIENT_CAPS, needed)
        try:
            request = self.server.send_request(method, params)
        except MissingClientCapability:
            assert legal_now
            assert not declared
            assert spec.direction != "client_to_server"
            return
        except LocalProtocolError:
            assert not (legal_now and declared and spec.direction != "client_to_server")
            return
        assert legal_now
        assert declared
        assert spec.direction != "client_to_server"
        assert request.id not in self.server_methods, "server request ids must never repeat"
        self.server_methods[request.id] = method
        self.server_inflight[request.id] = method
        self.emit_s2c(request)

    @precondition(lambda self: self.server_inflight)
    @rule(data=st.data())
    def server_cancel(self, data: st.DataObject) -> None:
        request_id = data.draw(st.sampled_from(sorted(self.server_inflight, key=repr)))
        notification = self.server.forget_request(request_id, "timeout")
        assert notification is not None
        del self.server_inflight[request_id]
        self.emit_s2c(notification)

    @rule(method=st.sampled_from(SERVER_NOTIFICATIONS))
    def server_notify(self, method: str) -> None:
        spec = METHODS[method]
        declared = spec.server_capability is None or capability_enabled(SERVER_CAPS, spec.server_capability)
        legal = declared and (method == "notifications/message" or self.server_saw_initialized)
        params = {"level": "info", "data": 1} if method == "notifications/message" else msgspec.UNSET
        try:
            notification = self.server.notify(method, params)
        except LocalProtocolError:
            assert not legal
            return
        assert legal
        self.emit_s2c(notification)

    @precondition(lambda self: self.server_pending)
    @rule(data=st.data())
    def server_sees_a_reused_id(self, data: st.DataObject) -> None:
        request_id = data.draw(st.sampled_from(sorted(self.server_pending, key=repr)))
        event = self.server.receive(decode_message(encode_message(Request(request_id, "tools/list"))))  # type: ignore[arg-type]
        assert isinstance(event, Answered)
        assert isinstance(event.message, ErrorResponse)
        assert (event.message.id, event.message.error.code) == (request_id, -32600)

    # ------------------------------------------------------------------ garbage

    @rule(data=st.binary(max_size=40) | fuzz_envelopes.map(msgspec.json.encode))
    def garbage_to_server(self, data: bytes) -> None:
        replies, events = feed_server(self.server, data)
        self._discard(events)
        for reply in replies:
            assert "result" in reply or reply["error"]["code"] in (-32700, -32600, -32601, -32602, -32022, -32021)

    @rule(data=st.binary(max_size=40) | fuzz_envelopes.map(msgspec.json.encode))
    def garbage_to_client(self, data: bytes) -> None:
        try:
            message = decode_message(data)
        except McpError:
            return
        for member in message if isinstance(message, list) else [message]:
            if isinstance(member, McpError):
                continue
            event = self.client.receive(member)
            if isinstance(event, RequestReceived):
                assert self.client.respond_error(event.id, InvalidParams("fuzz")) is not None
            else:
                assert event is None or isinstance(event, Answered | NotificationReceived), event

    def _discard(self, events: list[Any]) -> None:
        for event in events:
            if isinstance(event, RequestReceived):
                assert self.server.respond_error(event.id, InvalidParams("fuzz")) is not None
            else:
                assert isinstance(event, NotificationReceived), event

    # ------------------------------------------------------------------ invariants

    @invariant()
    def maps_are_dropped_when_empty(self) -> None:
        for table in (
            self.client.outgoing,
            self.client.incoming,
            self.client.progress_tokens,
            self.server.outgoing,
            self.server.incoming,
        ):
            assert table is None or len(table) > 0

    @invariant()
    def sessions_agree_with_the_model(self) -> None:
        assert set(self.client.outgoing or ()) == set(self.client_inflight)
        assert set(self.client.incoming or ()) == set(self.client_pending)
        assert set(self.server.outgoing or ()) == set(self.server_inflight)
        assert set(self.server.incoming or ()) == set(self.server_pending)
        assert self.client.progress_violations == 0

    @invariant()
    def no_request_is_answered_twice(self) -> None:
        assert all(count <= 1 for count in self.responses.values()), self.responses

    def teardown(self) -> None:
        for _ in range(10_000):
            if self.c2s:
                self.deliver_to_server()
            elif self.s2c:
                self.deliver_to_client()
            elif self.server_pending:
                self._server_answer(next(iter(self.server_pending)), "result")
            elif self.client_pending:
                self._client_answer(next(iter(self.client_pending)), fail=False)
            else:
                break
        for request_id in self.client_ids:
            if request_id in self.client_cancelled:
                assert self.responses[request_id] <= 1
            else:
                assert self.responses[request_id] == 1, (request_id, self.client_requests[request_id].method)
        assert self.client_inflight == {}
        self.maps_are_dropped_when_empty()
        self.sessions_agree_with_the_model()
        assert self.client.outgoing is self.client.incoming is self.client.progress_tokens is None
        assert self.server.outgoing is self.server.incoming is None


def _token(request: Request) -> Any:
    params = request.params
    meta = params.get("_meta") if isinstance(params, dict) else getattr(params, "meta", None)
    return meta.get("progressToken") if isinstance(meta, dict) else None


class ModernPairMachine(SessionPairMachine):
    modern = True


TestLegacySessionPair = SessionPairMachine.TestCase
TestLegacySessionPair.settings = settings(max_examples=75, stateful_step_count=40)
TestModernSessionPair = ModernPairMachine.TestCase
TestModernSessionPair.settings = settings(max_examples=75, stateful_step_count=40)
