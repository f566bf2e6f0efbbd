"""The seam between a framing and the session driver: what each side offers the other.

Theory of operation
-------------------
A *framing* (newline-delimited streams, Streamable HTTP, WebSocket) moves bytes and knows where an answer must
go; the *session driver* (``mcp_trio.server.driver``) holds the MCP session logic once for every framing:
requests in flight, running handlers, server-to-client requests, subscriptions, cancellation, and the mapping
of every failure to a JSON-RPC error. They meet here, in two small interfaces, so transports never import the
server layer:

* a framing hands each decoded message to its ``SessionPort.receive``, which answers at once (encoded bytes),
  or starts the request as a task (``RUNNING``) that later answers through ``Outlet.answer``, or needs no
  reply (``None``);
* the driver sends everything else through the framing's ``Outlet``: notifications and server requests tagged
  with the request they belong to (``origin``), so a framing with several response streams (HTTP) can route
  them, and a single-stream framing can ignore the tag.

Everything crossing the seam is already encoded: the driver is the one place that serialises messages, so a
result that cannot be serialised becomes a -32603 answer there, the same on every transport.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final, Protocol, runtime_checkable

from mcp_trio.protocol.errors import McpError
from mcp_trio.protocol.events import RequestReceived
from mcp_trio.protocol.jsonrpc import Message, RequestId
from mcp_trio.protocol.profile import ServerProfile

__all__ = [
    "RUNNING",
    "Running",
    "Reply",
    "Outlet",
    "PushOutlet",
    "SessionPort",
    "SessionHost",
    "StreamLimits",
    "Place",
    "HostedSession",
    "SessionTable",
]


class Running:
    """Sentinel type of ``RUNNING``: the request runs as a task and will answer through ``Outlet.answer``."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "RUNNING"


RUNNING: Final = Running()
#: What ``SessionPort.receive`` returns: the encoded answer to send now, ``RUNNING``, or ``None`` (no reply due).
Reply = bytes | Running | None


class Outlet(Protocol):
    """Where one session's outgoing messages go; each framing implements it.

    ``origin`` is the id of the client request a message belongs to (a handler's progress, logs and
    server-to-client requests), or ``None`` for what belongs to the session as a whole (list changes,
    resource updates).
    """

    async def send(self, data: bytes, origin: RequestId | None) -> None:
        """Queue one encoded message, waiting while the client is too far behind (backpressure).

        Raises:
            trio.BrokenResourceError: the destination is gone for good.
        """

    async def answer(self, request_id: RequestId, data: bytes, status: int) -> None:
        """The final answer of a request that ran as a task; ``status`` is its HTTP status hint."""

    def done(self, request_id: RequestId) -> None:
        """The task of ``request_id`` ended (after its answer, if one was due): release what it held."""

    async def close_stream(self, origin: RequestId, retry_ms: int | None) -> bool:
        """End the request's response stream early so the client resumes later; False where unsupported."""


@runtime_checkable
class PushOutlet(Outlet, Protocol):
    """An outlet that also takes messages without waiting, so a long-lived request can be served without a task
    of its own (a ``subscriptions/listen`` stream over HTTP: the connection's task is the only one it holds).

    The producer keeps what it could not send coalesced on its side (a hub ``Subscriber``), pushes only while
    there is ``room``, and is called back through ``when_room`` once the client caught up.
    """

    @property
    def room(self) -> bool:
        """Whether the client is within its buffer limit (push more only then)."""

    def push(self, data: bytes, origin: RequestId | None) -> None:
        """Queue one encoded message now (it may overshoot the limit by what the producer pushes at once)."""

    def push_answer(self, request_id: RequestId, data: bytes, status: int) -> None:
        """The final answer of a request served by pushes; its response ends after it."""

    def when_room(self, callback: Callable[[], None] | None) -> None:
        """Call ``callback`` each time queued messages have been written out (``None``: stop calling)."""


class SessionPort(Protocol):
    """One MCP session as a framing sees it (implemented by the server's ``SessionDriver``)."""

    #: The HTTP status hint of the last immediate reply (200 unless it was an error with another hint).
    reply_status: int
    #: When that reply was a refusal (503): its retry hint in milliseconds (HTTP's ``Retry-After``).
    retry_after_ms: int
    #: The rate limits this session is subject to (``Place.limiter``); ``None`` when none applies.
    limiter: Any

    def receive(self, message: Message) -> Reply:
        """Act on one decoded message from the client.

        Raises:
            LocalProtocolError: the session is closed.
        """

    def run(self, event: RequestReceived) -> Reply:
        """Start a request that was already accepted on its own (the stateless 2026-07-28 HTTP wire)."""

    def reject(self, error: McpError) -> bytes:
        """The encoded answer to input that could not be decoded (framing or JSON errors)."""

    def refuse(self, reason: str, detail: str, request_id: RequestId | None = None) -> bytes:
        """The encoded refusal (-32000, counted under ``reason``) of a request a framing's own limit stops."""

    def cancel(self, request_id: RequestId) -> None:
        """Stop a running request whose client is gone; no answer is sent."""

    def close(self) -> None:
        """End the session: running requests are cancelled, waiting handlers released."""

    def snapshot(self) -> bytes:
        """The session's state, compact, for another process to carry on (``SessionHost.open_session``)."""

    def size_info(self) -> dict[str, int]:
        """Bytes held for the session, by part."""

    @property
    def closed(self) -> bool: ...

    @property
    def in_flight(self) -> int:
        """Requests running as tasks."""

    @property
    def waiting_on_client(self) -> bool:
        """A handler awaits the client's answer to a server-to-client request (so reading must go on)."""

    @property
    def established(self) -> bool:
        """The legacy handshake happened (``initialize`` was accepted)."""

    @property
    def batches_allowed(self) -> bool:
        """JSON-RPC batches are accepted (the negotiated revision is 2025-03-26)."""

    @property
    def ready(self) -> bool:
        """The handshake is complete (``notifications/initialized``, or a first 2026-07-28 request)."""


class StreamLimits(Protocol):
    """The limits a stream framing reads (``mcp_trio.ServerConfig`` has them all)."""

    @property
    def max_message_size(self) -> int: ...
    @property
    def max_in_flight(self) -> int: ...
    @property
    def in_flight_policy(self) -> str: ...
    @property
    def max_outbox_bytes(self) -> int: ...
    @property
    def receive_size(self) -> int: ...
    @property
    def drain_timeout(self) -> float: ...
    @property
    def close_timeout(self) -> float: ...


class Place(Protocol):
    """Where a connection lives in the runtime (a shard), as far as a framing needs to know."""

    def forget_connection(self, connection_id: int) -> None:
        """The connection ended."""

    def awaiting_handshake(self, key: int | str) -> None:
        """A connection (by id) or legacy session (by id) must complete its handshake in time, or be ended."""

    def limiter(self, kind: str, client: Callable[[], str | None]) -> Any:
        """The rate limits of a new ``"connection"`` or ``"session"`` (``None`` when none applies);
        ``client()`` names its client identity and is called only when per-client limits are configured."""


class SessionHost(Protocol):
    """What a server offers the framings (implemented by ``mcp_trio.Server``)."""

    @property
    def profile(self) -> ServerProfile: ...

    @property
    def limits(self) -> StreamLimits: ...

    def input_schema(self, tool: str) -> Mapping[str, Any] | None:
        """The input schema of a tool, for the routing-header checks of the HTTP transport."""

    def open_session(self, outlet: Outlet, place: Any, snapshot: bytes | None = None) -> SessionPort:
        """A new session whose messages go to ``outlet`` and whose tasks run in ``place`` (a runtime shard);
        with ``snapshot`` (``SessionPort.snapshot``), one that carries on from it."""


class HostedSession(Protocol):
    """A session that outlives its connections (legacy HTTP), as the runtime keeps and expires it."""

    @property
    def id(self) -> str: ...

    @property
    def ready(self) -> bool:
        """Its handshake is complete (``notifications/initialized`` arrived)."""

    def expired(self, now: float) -> bool:
        """Whether it has been idle past its timeout at ``now`` (trio time); a busy session never is."""

    async def close(self) -> None:
        """End it: cancel its requests, close its streams, forget its events."""


class SessionTable(Protocol):
    """Where a framing keeps sessions that outlive connections (implemented by the runtime's shards)."""

    def place_of(self, session_id: str) -> Any:
        """The shard a session with this id lives in (its tasks run there)."""

    def add(self, session: HostedSession) -> None: ...

    def get(self, session_id: str) -> HostedSession | None: ...

    async def end(self, session: HostedSession) -> None:
        """Forget ``session`` and close it."""

    def __len__(self) -> int: ...
