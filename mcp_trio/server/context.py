"""The per-request ``Context`` handlers may take: progress, logging, cancellation and client input.

One handler body serves both wire eras. On the legacy wire ``request_inputs`` sends real server-to-client
requests (``elicitation/create``, ``sampling/createMessage``, ``roots/list``) and awaits the answers mid-call.
On the modern wire a server cannot send requests, so ``request_inputs`` raises ``InputRequired``; the dispatcher
answers with an ``InputRequiredResult`` whose sealed ``requestState`` carries every answer gathered so far, and
when the client retries, the handler runs again from the top and this time finds its answers. Handlers must
therefore be idempotent up to their input requests (the MRTR contract), and should ask under stable keys.
"""

from __future__ import annotations

import base64
import functools
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, overload

import msgspec

from mcp_trio.protocol.errors import DECODE_ERRORS, InvalidParams, MissingClientCapability
from mcp_trio.protocol.events import RequestReceived
from mcp_trio.protocol.jsonrpc import Notification, Request, RequestId
from mcp_trio.protocol.modern import LOG_LEVELS
from mcp_trio.protocol.session import nested_capability
from mcp_trio.protocol.types import (
    ClientCapabilities,
    CreateMessageParams,
    CreateMessageRequest,
    CreateMessageResult,
    ElicitRequest,
    ElicitRequestParams,
    ElicitResult,
    Implementation,
    InputRequest,
    InputResponse,
    ListRootsRequest,
    ListRootsResult,
    ReadResourceResult,
    capability_enabled,
    decode_input_response,
)

if TYPE_CHECKING:
    from mcp_trio.protocol.session import ServerSession
    from mcp_trio.server.tasks import TaskRecord

__all__ = ["Peer", "Context", "InputRequired", "ModelElicitation", "ResourceReadout", "ReadResourceContents"]

_CAPABILITY_OF = {
    CreateMessageRequest: "sampling",
    ElicitRequest: "elicitation",
    ListRootsRequest: "roots",
}


class Peer(Protocol):
    """How a request reaches its client: the session driver (``server/driver.py``) or a task's stand-in.

    Every call names the request it is about (``origin``), so one peer serves all of a session's requests.
    """

    async def send(self, message: Notification, origin: RequestId | None) -> None:
        """Send a notification about request ``origin`` (progress, log); may wait under backpressure."""

    async def ask(self, request: Request, origin: RequestId | None) -> Any:
        """Send a server-to-client request on behalf of ``origin`` and return its decoded result (legacy wire).

        Raises:
            RemoteError: the client answered with an error.
        """

    async def close_stream(self, origin: RequestId, retry_ms: int | None = None) -> bool:
        """End ``origin``'s response stream early so the client resumes later (legacy HTTP SSE, SEP-1699).

        Returns False where the transport has no such stream (stdio, sockets, JSON responses).
        """

    # A peer that can run work past the end of a request (tasks) also offers ``background``, a
    # ``supervision.DynamicSupervisor`` that outlives the request.


class InputRequired(Exception):
    """Control flow of the modern wire: the handler needs client input it does not have yet."""

    def __init__(self, requests: dict[str, InputRequest], answers: dict[str, msgspec.Raw], state: str | None):
        super().__init__(f"input required: {', '.join(requests)}")
        self.requests = requests
        self.answers = answers
        self.state = state


class ModelElicitation:
    """The answer to ``Context.elicit(..., schema=Model)``: ``data`` is the model when the user accepted."""

    __slots__ = ("action", "content", "data")

    def __init__(self, action: str, content: dict[str, Any], data: Any) -> None:
        self.action = action
        self.content = content
        self.data = data

    def __repr__(self) -> str:
        return f"ModelElicitation({self.action!r}, data={self.data!r})"


class ReadResourceContents:
    """One item of a ``ResourceReadout``, as the official SDK's ``ctx.read_resource`` yields them: ``content`` is
    the text, or the decoded bytes of a blob."""

    __slots__ = ("content", "meta", "mime_type")

    def __init__(self, content: str | bytes, mime_type: str | None, meta: dict[str, Any] | None) -> None:
        self.content = content
        self.mime_type = mime_type
        self.meta = meta

    def __repr__(self) -> str:
        return f"ReadResourceContents({self.content!r}, mime_type={self.mime_type!r})"


class ResourceReadout(Sequence[ReadResourceContents]):
    """What ``Context.read_resource`` returns: the ``ReadResourceResult``'s ``contents`` (``result`` is the whole
    result), and at the same time the sequence of ``ReadResourceContents`` the official SDK returns, so handlers
    written either way work unchanged."""

    __slots__ = ("_items", "contents", "result")

    def __init__(self, result: ReadResourceResult) -> None:
        self.result = result
        self.contents = result.contents
        self._items = [
            ReadResourceContents(
                item.text if isinstance(item.text, str) else base64.b64decode(str(item.blob)),
                item.mime_type if isinstance(item.mime_type, str) else None,
                item.meta if isinstance(item.meta, dict) else None,
            )
            for item in result.contents
        ]

    @overload
    def __getitem__(self, index: int) -> ReadResourceContents: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[ReadResourceContents]: ...

    def __getitem__(self, index: int | slice) -> ReadResourceContents | Sequence[ReadResourceContents]:
        return self._items[index]

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"ResourceReadout({self._items!r})"


#: The JSON Schema types an elicitation form field may have (the specification's ``PrimitiveSchemaDefinition``).
_FORM_TYPES = frozenset({"string", "number", "integer", "boolean"})


def _model_schema(model: Any) -> dict[str, Any]:
    """A pydantic model's JSON Schema as an elicitation form, rendered as the official SDK renders it: flat
    (``$defs`` are not allowed there), ``T | None`` as ``T`` (a form field is optional by being left out of
    ``required``, never by a null type, which no form answer may carry) and no ``None`` defaults.

    Raises:
        TypeError: not a pydantic model, or a field a form cannot hold (a nested model, a list without choices).
    """
    make = getattr(model, "model_json_schema", None)
    if make is None:
        raise TypeError(f"schema= takes a pydantic model class, not {model!r}")
    document: dict[str, Any] = make(schema_generator=_form_schema_generator())
    if "$defs" in document:
        raise TypeError(f"{model.__name__}: an elicitation form holds primitive fields only (no nested models)")
    for field, schema in document.get("properties", {}).items():
        items = schema.get("items", {}) if schema.get("type") == "array" else {}
        if schema.get("type") not in _FORM_TYPES and "enum" not in schema and not ("enum" in items or "anyOf" in items):
            raise TypeError(f"{model.__name__}.{field}: an elicitation form cannot hold {schema!r}")
    document.pop("title", None)
    return document


@functools.cache
def _form_schema_generator() -> type[Any]:
    """The pydantic schema generator of elicitation forms (built on first use: pydantic is an optional extra)."""
    from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
    from pydantic_core import core_schema

    class FormSchema(GenerateJsonSchema):
        def nullable_schema(self, schema: core_schema.NullableSchema) -> JsonSchemaValue:
            return self.generate_inner(schema["schema"])

        def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
            result = super().default_schema(schema)
            if result.get("default") is None:
                result.pop("default", None)
            return result

    return FormSchema


class Context:
    """What a handler can do besides returning its result. Created only for handlers that ask for it."""

    __slots__ = ("_answers", "_can_detach", "_peer", "_session", "_task", "event", "request_state")

    def __class_getitem__(cls, parameters: Any) -> type[Context]:
        """``Context[AppContext]`` (the official SDK's generic spelling) is ``Context`` itself, so annotations
        written for the SDK keep naming the context parameter; the lifespan value is not type-checked."""
        return cls

    def __init__(
        self,
        session: ServerSession,
        peer: Peer,
        event: RequestReceived,
        answers: dict[str, msgspec.Raw] | None = None,
        request_state: str | None = None,
        *,
        task: TaskRecord | None = None,
        can_detach: bool = False,
    ) -> None:
        self._session = session
        self._peer = peer
        self.event = event
        self._answers = answers
        self._task = task
        self._can_detach = can_detach
        #: Application state a previous round stored with ``request_inputs(..., state=...)`` (modern wire).
        self.request_state = request_state

    @property
    def task_id(self) -> str | None:
        """The task this call runs as (tasks extension), or ``None`` for an ordinary request."""
        return self._task.task_id if self._task is not None else None

    async def detach(self) -> None:
        """Become a task here (tools registered with ``task_start="on_detach"``).

        While the call is an ordinary request whose client accepts tasks, this ends the request's run: the
        client gets a ``CreateTaskResult`` and the tool is re-run from the top as a task, with every input
        gathered so far. Where the call already is a task, or cannot become one, it returns at once.
        """
        if self._task is None and self._can_detach:
            from mcp_trio.server.tasks import Detach

            raise Detach

    @property
    def request_id(self) -> int | str:
        return self.event.id

    @property
    def request_context(self) -> Context:
        """This context: handlers written for the official SDK reach the lifespan's value (and the request id and
        protocol version) through ``ctx.request_context.lifespan_context``, and so they port unchanged."""
        return self

    @property
    def era(self) -> str:
        return self.event.era

    @property
    def protocol_version(self) -> str:
        return self.event.version

    @property
    def client_capabilities(self) -> ClientCapabilities:
        """The client's capabilities: from ``initialize`` (legacy) or this request's ``_meta`` (modern)."""
        if self.event.meta is not None:
            caps: ClientCapabilities = self.event.meta.client_capabilities
            return caps
        return self._session.client_capabilities or ClientCapabilities()

    @property
    def client_info(self) -> Implementation | None:
        if self.event.meta is not None:
            info: Implementation | None = self.event.meta.client_info
            return info
        return self._session.client_info

    async def report_progress(self, progress: float, total: float | None = None, message: str | None = None) -> None:
        """Send ``notifications/progress`` if the client asked for progress; ``progress`` must increase."""
        notification = self._session.progress(self.event.id, progress, total, message)
        if notification is not None:
            await self._peer.send(notification, self.event.id)

    async def log(self, level: str, data: Any, logger: str | None = None, *, logger_name: str | None = None) -> None:
        """Send a log message to the client if its level admits it (``logging/setLevel`` or ``_meta``);
        ``logger_name`` is the official SDK's name for ``logger``."""
        logger = logger if logger is not None else logger_name
        if level not in LOG_LEVELS:
            raise ValueError(f"unknown log level {level!r}")
        if not self._session.log_enabled(level, self.event.id if self.event.era == "modern" else None):
            return
        params: dict[str, Any] = {"level": level, "data": data}
        if logger is not None:
            params["logger"] = logger
        await self._peer.send(Notification("notifications/message", params), self.event.id)

    async def read_resource(self, uri: str) -> ResourceReadout:
        """Read one of this server's resources (static or templated) from inside a handler: its ``contents``,
        which also iterate as the official SDK's ``Context.read_resource`` result does (items with ``content``
        and ``mime_type``).

        Raises:
            ResourceNotFound: no resource or template matches ``uri``.
        """
        server = getattr(self._peer, "server", None)
        if server is None:
            raise LookupError("this context has no server to read from")
        return ResourceReadout(await server.dispatcher.read_for(uri, self))

    @property
    def lifespan_context(self) -> Any:
        """What the server's ``lifespan`` yielded (``None`` without one), shared by every request."""
        server = getattr(self._peer, "server", None)
        return getattr(server, "lifespan_value", None)

    async def close_stream(self, retry_ms: int | None = None) -> bool:
        """Ask the transport to close this request's SSE stream now; the client resumes with Last-Event-ID.

        The result is still delivered (replayed from the session's event store). False where not supported.
        """
        return await self._peer.close_stream(self.event.id, retry_ms)

    async def debug(self, data: Any, logger: str | None = None, *, logger_name: str | None = None) -> None:
        await self.log("debug", data, logger, logger_name=logger_name)

    async def info(self, data: Any, logger: str | None = None, *, logger_name: str | None = None) -> None:
        await self.log("info", data, logger, logger_name=logger_name)

    async def warning(self, data: Any, logger: str | None = None, *, logger_name: str | None = None) -> None:
        await self.log("warning", data, logger, logger_name=logger_name)

    async def error(self, data: Any, logger: str | None = None, *, logger_name: str | None = None) -> None:
        await self.log("error", data, logger, logger_name=logger_name)

    def _require(self, request: InputRequest) -> None:
        needed = _CAPABILITY_OF[type(request)]
        if isinstance(request, ElicitRequest) and request.params.is_url_mode:
            needed = "elicitation.url"
        if not capability_enabled(self.client_capabilities, needed):
            raise MissingClientCapability(
                f"this request needs the client capability {needed!r}", nested_capability(needed)
            )

    async def request_inputs(
        self, requests: Mapping[str, InputRequest], *, state: str | None = None
    ) -> dict[str, InputResponse]:
        """Ask the client for several inputs at once and return the answers by key.

        Args:
            requests: input requests by key (the key names the answer on the modern wire).
            state: application state to carry to the next round (modern wire; see ``request_state``).

        Raises:
            MissingClientCapability: the client did not declare a capability a request needs (-32021).
            RemoteError: the client answered a legacy request with an error.
        """
        for request in requests.values():
            self._require(request)
        if self._task is not None:
            return await self._task_inputs(requests)
        if self.event.era == "legacy":
            answers: dict[str, InputResponse] = {}
            for key, request in requests.items():
                wire = self._session.send_request(request.__struct_config__.tag, request.params)  # type: ignore[arg-type]
                answers[key] = await self._peer.ask(wire, self.event.id)
            return answers
        known = self._answers or {}
        missing = {key: request for key, request in requests.items() if key not in known}
        decoded: dict[str, InputResponse] = {}
        for key, request in requests.items():
            if key in missing:
                continue
            try:
                decoded[key] = decode_input_response(request, known[key])
            except DECODE_ERRORS:
                missing[key] = request  # an answer of the wrong shape: ask again rather than fail
        if missing:
            raise InputRequired(missing, {k: v for k, v in known.items() if k not in missing}, state)
        return decoded

    async def _task_inputs(self, requests: Mapping[str, InputRequest]) -> dict[str, InputResponse]:
        """Inputs of a task: ask through ``input_required`` status and wait for ``tasks/update``."""
        task = self._task
        assert task is not None
        while True:
            decoded: dict[str, InputResponse] = {}
            missing: dict[str, InputRequest] = {}
            for key, request in requests.items():
                raw = task.answers.get(key)
                if raw is None:
                    missing[key] = request
                    continue
                try:
                    decoded[key] = decode_input_response(request, raw)
                except DECODE_ERRORS:
                    del task.answers[key]
                    missing[key] = request
            if not missing:
                return decoded
            await task.wait_for_input(missing)

    async def elicit(
        self,
        message: str,
        requested_schema: dict[str, Any] | None = None,
        *,
        key: str = "elicitation",
        schema: Any = None,
    ) -> Any:
        """Ask the user for structured input (form mode): an ``ElicitResult`` for a JSON Schema.

        ``schema=Model`` (a pydantic model class, as the official SDK takes) asks with the model's JSON Schema and
        returns a ``ModelElicitation``: ``action``, ``content``, and ``data``, the model built from an accepted
        answer.

        Raises:
            ValueError: an accepted answer the model refuses (as the official SDK raises: in a tool, an error
                result).
        """
        if (requested_schema is None) == (schema is None):
            raise TypeError("elicit takes a JSON Schema (requested_schema) or a model (schema=), not both or neither")
        form: dict[str, Any] = _model_schema(schema) if schema is not None else requested_schema  # type: ignore[assignment]
        request = ElicitRequest(params=ElicitRequestParams(message=message, requested_schema=form))
        answer = (await self.request_inputs({key: request}))[key]
        if not isinstance(answer, ElicitResult):
            raise InvalidParams("the elicitation answer is not an ElicitResult")
        if schema is None:
            return answer
        content = answer.content if isinstance(answer.content, dict) else {}
        data = None
        if answer.action == "accept":
            try:
                data = schema.model_validate(content)
            except ValueError as error:  # pydantic's ValidationError is a ValueError
                raise ValueError(f"the elicited answer does not fit {schema.__name__}: {error}") from None
        return ModelElicitation(answer.action, content, data)

    async def sample(self, params: CreateMessageParams, *, key: str = "sampling") -> CreateMessageResult:
        """Ask the client's model for a completion."""
        answer = (await self.request_inputs({key: CreateMessageRequest(params=params)}))[key]
        if not isinstance(answer, CreateMessageResult):
            raise InvalidParams("the sampling answer is not a CreateMessageResult")
        return answer

    async def list_roots(self, *, key: str = "roots") -> ListRootsResult:
        """Ask the client for its roots."""
        answer = (await self.request_inputs({key: ListRootsRequest()}))[key]
        if not isinstance(answer, ListRootsResult):
            raise InvalidParams("the roots answer is not a ListRootsResult")
        return answer
