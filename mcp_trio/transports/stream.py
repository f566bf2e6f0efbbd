"""Newline-delimited JSON framing (stdio, TCP, Unix sockets): one connection served by one task.

Theory of operation
-------------------
This module moves bytes; the MCP session behind them is a ``SessionPort`` (the server's session driver). An
idle connection is one task blocked in ``receive_some`` plus four small objects (this one, the driver, its
``ServerSession`` and the ``LineFramer``): no channel, no nursery, no second task, no buffer.

* Every message of a chunk of input is decoded and handed to ``port.receive``; the answers of all of them go
  out in a single write (coalescing). Input that cannot be framed or decoded gets a JSON-RPC error and the
  connection carries on.
* At ``max_in_flight`` requests running as tasks a further request is refused at once (``in_flight_policy``
  ``"refuse"``, the default: -32000, reason ``connection_in_flight``), or the reader holds it (one message) and
  stops reading (``"block"``): TCP pushes back on the client, and nothing accepted is dropped. If a running
  handler waits on the client meanwhile, pausing would deadlock (the answer is behind the held request), so the
  held request is refused at once either way.
* A connection must complete its handshake within the runtime's ``handshake_timeout`` (its shard checks, see
  ``abort``), and may be rate-limited (``Place.limiter``): both are decided outside this module.
* Output goes to one ``bytearray`` outbox; whichever task finds no flush in progress becomes the flusher, so
  writes are serialised without a lock or a writer task. Past ``max_outbox_bytes`` producers wait for the drain.
* A client that closes its sending side still gets the answers to what it sent (up to ``drain_timeout``).

The framing is pluggable: the framer (``MessageFramer``: bytes in, whole messages out; ``LineFramer`` by default)
comes as an argument, and a subclass changes how a message is written (``_post``), what else a chunk of input
asks to write (``_feed``), what an aborted connection is told last (``_farewell``), what ending input means
(``_drain_requests``) and how writing ends (``_finish_writes``). ``WebSocketConnection`` is this class with
WebSocket frames for lines: feeding, in-flight limits and refusal, the outbox and its flushes exist once.
"""

from __future__ import annotations

import contextlib
import math
import sys
from typing import Any, NoReturn, Protocol

import trio

from mcp_trio.protocol.errors import InvalidRequest, McpError
from mcp_trio.protocol.framing import NEED_DATA, LineFramer, NeedData
from mcp_trio.protocol.jsonrpc import Request, RequestId, decode_message
from mcp_trio.transports.lean_socket import LeanSocketStream, write_nowait
from mcp_trio.transports.port import Place, SessionHost

__all__ = ["StreamConnection", "MessageFramer", "TASK_BYTES"]

#: What an idle connection's task costs beyond the objects ``size_info`` sees: the Trio task, its coroutine
#: frames down to the blocked read, the socket object, the supervision handle and the shard's table entry
#: (measured with tracemalloc over 1,000 idle TCP connections: ``python -m benchmarks.state``).
TASK_BYTES = 4_400

#: How long a connection being aborted may take to receive its last message (other streams than sockets).
_ABORT_WRITE_SECONDS = 0.1


class MessageFramer(Protocol):
    """What a connection asks of its framer (sans-IO, h11-style): ``LineFramer``, ``WebSocketFramer``."""

    @property
    def buffered(self) -> int:
        """Bytes held for messages not yet returned."""

    def receive_data(self, data: bytes) -> None:
        """Feed bytes from the peer; ``b""`` means end of input."""

    def next_message(self) -> bytes | NeedData:
        """The next whole message, or ``NEED_DATA``; raises ``McpError`` for input to answer and skip."""


class StreamConnection:
    """One newline-delimited JSON connection: framing, outbox and flow control around a session.

    Args:
        host: the server (its limits, and the session driver it opens for this connection).
        stream: the byte stream (a ``LeanSocketStream``, stdio, or an in-memory stream in tests).
        place: where the connection lives in the runtime (its shard).
        connection_id: unique within the process; names the connection in logs and the shard's table.
        framer: how bytes become messages; by default newline-delimited (``LineFramer``).
    """

    __slots__ = (
        "_drained",
        "_eof",
        "_held",
        "_slot_free",
        "closed",
        "flushing",
        "framer",
        "id",
        "idle_since",
        "limits",
        "outbox",
        "park_enabled",
        "place",
        "port",
        "stream",
        "task",
    )

    def __init__(
        self,
        host: SessionHost,
        stream: trio.abc.Stream,
        place: Place,
        connection_id: int,
        framer: MessageFramer | None = None,
    ) -> None:
        self.id = connection_id
        self.stream = stream
        self.place = place
        self.limits = limits = host.limits
        self.framer: MessageFramer = framer if framer is not None else LineFramer(limits.max_message_size)
        self.outbox: bytearray | None = None
        self.flushing = False
        self.closed = False
        self._slot_free: trio.Event | None = None
        self._drained: trio.Event | None = None
        self._held: Any = None  # a request waiting for a free in-flight slot (at most one)
        self._eof = False
        #: Since when the connection's task has waited for input (``inf`` while it is busy): the runtime parks
        #: connections idle for long (``park``), so an idle one holds no task.
        self.idle_since = math.inf
        #: Set by the runtime when it may park this connection; ``task`` is then the task running ``run``.
        self.park_enabled = False
        self.task: trio.lowlevel.Task | None = None
        self.port = port = host.open_session(self, place)
        port.limiter = place.limiter("connection", self._client)
        place.awaiting_handshake(connection_id)

    def __repr__(self) -> str:
        return f"<connection {self.id} {_describe(self.stream)}>"

    def _client(self) -> str | None:
        """The client identity for per-client rate limits: the peer's address (host, without the port)."""
        description = _describe(self.stream)
        return description.rpartition(":")[0] if description.startswith("tcp ") else description

    def size_info(self) -> dict[str, int]:
        """Bytes this connection holds, by part (shallow sizes of what it owns; its session's parts too)."""
        info = {
            "connection": sys.getsizeof(self),
            "stream": sys.getsizeof(self.stream),
            "framer": sys.getsizeof(self.framer) + self.framer.buffered,
        }
        if self.outbox is not None:
            info["outbox"] = sys.getsizeof(self.outbox)
        info.update(self.port.size_info())
        return info

    def estimate_memory(self) -> int:
        """Bytes this connection costs in all: what ``size_info`` sees plus its task, the task's coroutine frames,
        its supervision handle and table entries (``TASK_BYTES``, measured: Python cannot attribute those cheaply)."""
        return sum(self.size_info().values()) + TASK_BYTES

    @property
    def ready(self) -> bool:
        """The session's handshake is complete (its shard stops checking the deadline)."""
        return self.port.ready

    async def abort(self, error: McpError) -> None:
        """End the connection now, telling the client why in a last message (an overdue handshake): best effort,
        without waiting for a slow client."""
        if self.closed:
            return
        self._farewell(error)
        await self._hang_up()

    def _farewell(self, error: McpError) -> None:
        """Queue what an aborted connection is told last: the error, as a JSON-RPC message."""
        self._post(self.port.reject(error))

    async def _hang_up(self) -> None:
        """Close now, writing what is queued only if that needs no waiting for a slow client."""
        outbox, self.outbox = self.outbox, None
        self.closed = True
        if outbox and not self.flushing:
            with (
                contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError, trio.BusyResourceError),
                trio.move_on_after(_ABORT_WRITE_SECONDS),
            ):
                rest = write_nowait(self.stream, outbox)
                if rest and type(self.stream) is not LeanSocketStream:  # a socket that takes nothing now never will
                    await self.stream.send_all(rest)
        await self.stream.aclose()  # the reader wakes with ClosedResourceError and the connection ends

    # ------------------------------------------------------------------ reading

    def parkable(self, idle_before: float) -> bool:
        """Whether the connection has waited for input since before ``idle_before`` with nothing else to do, on a
        socket a readiness watcher can watch: it can then give up its task (``park``) until input comes."""
        return (
            self.idle_since < idle_before
            and _blocked(self.task)
            and not self.closed
            and not self.outbox
            and self._held is None
            and not self.framer.buffered
            and type(self.stream) is LeanSocketStream
            and self.port.ready
            and not self.port.in_flight
            and not self.port.waiting_on_client
        )

    def park(self) -> None:
        """End the connection's task without ending the connection: its wait for input (where ``parkable`` saw
        it blocked) is interrupted with ``_Parked``, ``run`` returns, and the runtime starts ``run`` again when
        input (or a close) arrives. Nothing was read, so nothing is lost."""
        _interrupt(self.task)

    async def run(self) -> None:
        """Serve the connection until the peer leaves (the connection's child task), or until it is parked."""
        limits = self.limits
        if self.park_enabled:
            self.task = trio.lowlevel.current_task()
        try:
            while True:
                self._feed()
                if self.outbox:
                    await self.flush()
                if self.closed:
                    break
                if self._held is not None:
                    self._slot_free = trio.Event()
                    await self._slot_free.wait()
                    continue
                if self._eof:
                    await self._drain_requests(limits.drain_timeout)
                    break
                self.idle_since = trio.current_time()
                try:
                    data = await self.stream.receive_some(limits.receive_size)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    break
                except _Parked:  # ``park``: the task ends, the connection does not
                    self.task = None
                    self.place.parked(self)  # type: ignore[attr-defined]
                    return
                finally:
                    self.idle_since = math.inf
                if data:
                    self.framer.receive_data(bytes(data))
                else:
                    self.framer.receive_data(b"")
                    self._eof = True
        except BaseException:
            await self._close()
            raise
        await self._close()

    def _feed(self) -> None:
        """Process buffered messages until input runs out or a request must wait for a free slot."""
        framer = self.framer
        port = self.port
        limits = self.limits
        limit = limits.max_in_flight
        block = limits.in_flight_policy == "block"
        while True:
            message = self._held
            if message is None:
                try:
                    line = framer.next_message()
                except McpError as error:
                    self._post(port.reject(error))
                    continue
                if line is NEED_DATA:
                    return
                try:
                    message = decode_message(line)  # type: ignore[arg-type]
                except McpError as error:
                    self._post(port.reject(error))
                    continue
                if isinstance(message, list):
                    self._feed_batch(message)
                    continue
            if type(message) is Request and port.in_flight >= limit:
                if block and not port.waiting_on_client:
                    self._held = message
                    return
                self._held = None
                detail = f"{limit} requests in progress on this connection"
                self._post(port.refuse("connection_in_flight", detail, message.id))
                continue
            self._held = None
            reply = port.receive(message)
            if reply.__class__ is bytes:
                self._post(reply)

    def _feed_batch(self, batch: list[Any]) -> None:
        port = self.port
        if not port.batches_allowed:
            self._post(port.reject(InvalidRequest("JSON-RPC batches are only part of 2025-03-26")))
            return
        for member in batch:
            reply = port.reject(member) if isinstance(member, McpError) else port.receive(member)
            if reply.__class__ is bytes:
                self._post(reply)

    def _wake_reader(self) -> None:
        if self._slot_free is not None:
            self._slot_free.set()

    async def _drain_requests(self, seconds: float) -> None:
        with trio.move_on_after(seconds):
            while self.port.in_flight:
                self._slot_free = trio.Event()
                await self._slot_free.wait()

    # ------------------------------------------------------------------ writing

    def _post(self, data: bytes) -> None:
        if self.closed:
            return
        if self.outbox is None:
            self.outbox = bytearray(data)
        else:
            self.outbox += data
        self.outbox += b"\n"

    async def flush(self) -> None:
        """Write the outbox; if another task is writing, wait only when the outbox is over its limit."""
        if self.flushing:
            if self.outbox is not None and len(self.outbox) > self.limits.max_outbox_bytes:
                if self._drained is None:
                    self._drained = trio.Event()
                await self._drained.wait()
            else:
                await trio.lowlevel.checkpoint()
            return
        self.flushing = True
        try:
            while not self.closed and self.outbox:
                data, self.outbox = self.outbox, None
                rest = write_nowait(self.stream, data)  # no scheduler pass when the kernel takes it all
                if rest:
                    await self.stream.send_all(rest)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            self.closed = True
            self.outbox = None
        finally:
            self.flushing = False
            if self._drained is not None:
                self._drained.set()
                self._drained = None

    # ------------------------------------------------------------------ the Outlet interface for the driver

    async def send(self, data: bytes, origin: RequestId | None) -> None:
        await trio.lowlevel.checkpoint_if_cancelled()  # a handler's progress and logs are checkpoints
        if self.closed:
            raise trio.BrokenResourceError("the connection is closed")
        self._post(data)
        if self._held is not None and self.port.waiting_on_client:
            self._wake_reader()  # a reader paused at the in-flight limit must now read the client's answer
        await self.flush()
        await trio.lowlevel.cancel_shielded_checkpoint()

    async def answer(self, request_id: RequestId, data: bytes, status: int) -> None:
        self._post(data)
        await self.flush()

    def done(self, request_id: RequestId) -> None:
        self._wake_reader()

    async def close_stream(self, origin: RequestId, retry_ms: int | None) -> bool:
        await trio.lowlevel.checkpoint()
        return False  # a byte stream has no resumable response streams

    # ------------------------------------------------------------------ closing

    async def _finish_writes(self) -> None:
        """Let a flush under way finish, then write what is left (answers posted before closing go out)."""
        while self.flushing:
            if self._drained is None:
                self._drained = trio.Event()
            await self._drained.wait()
        await self.flush()

    async def close_parked(self) -> None:
        """Close a parked connection (its shard is stopping): what ``run`` does when it ends."""
        await self._close()

    async def _close(self) -> None:
        with trio.CancelScope(shield=True):
            with trio.move_on_after(self.limits.close_timeout):
                await self._finish_writes()
            self.closed = True
            self.port.close()
            self.place.forget_connection(self.id)
            await self.stream.aclose()


class _Parked(Exception):
    """Raised in a connection's wait for input to park it (``StreamConnection.park``)."""


def _raise_parked() -> NoReturn:
    raise _Parked


def _blocked(task: trio.lowlevel.Task | None) -> bool:
    """Whether ``task`` is blocked in a wait (not about to run), so that ``_interrupt`` can end that wait. Trio
    keeps this in private attributes; without them, nothing is ever parked."""
    return task is not None and getattr(task, "_abort_func", None) is not None and hasattr(task, "_attempt_abort")


def _interrupt(task: trio.lowlevel.Task | None) -> None:
    """End ``task``'s wait with ``_Parked``, the way Trio delivers a cancellation or a ``KeyboardInterrupt`` to a
    blocked task (its wait's abort function unregisters it, then the task is rescheduled with the exception);
    a wait that cannot be aborted (a scheduler pass) finishes as it would, and the task carries on."""
    if _blocked(task):
        task._attempt_abort(_raise_parked)  # type: ignore[union-attr]


def _describe(stream: trio.abc.Stream) -> str:
    """Where a connection comes from, for logs (computed only when asked)."""
    sock = getattr(stream, "socket", None)
    if sock is None:
        return type(stream).__name__
    try:
        peer = sock.getpeername()
    except OSError:
        return "closed socket"
    if isinstance(peer, tuple):
        return f"tcp {peer[0]}:{peer[1]}"
    return f"unix {peer or sock.getsockname()}"
