"""Legacy (2025-x) sessions over HTTP: the session record and its resumable SSE streams.

Theory of operation
-------------------
``initialize`` mints a session: an ``HttpSession`` (what HTTP adds: streams, the event store, idleness) and
the session driver behind it (``SessionPort``: the MCP session logic, shared with every transport). The
``HttpSession`` is the driver's ``Outlet``: what a request's handler sends is routed by the request's id to
that request's stream, what belongs to the session as a whole to the standalone stream. Requests run in the
session's shard, not in a connection: on the legacy wire a client that drops the connection has not cancelled
anything, and resumes the stream later with ``GET`` and ``Last-Event-ID``.

A ``LegacyStream`` is the logical stream; a ``ResponseStream`` is one HTTP response currently writing it (its
*writer*), present only while a client is attached. Each event gets the id ``"<stream>-<seq>"`` and goes to the
session's event store and, when attached, to the writer. Resuming attaches a new writer first (so live events
queue behind), then replays the stored events between the client's last id and the attach point as the
response's preamble: nothing is lost or duplicated between the two. Stream 0 is the standalone ``GET`` stream
that carries list-changed and resource-updated notifications and server requests that belong to no POST
stream.

A session ends on ``DELETE``, after ``session_idle_timeout`` without traffic (a session with a running request or
an attached stream is never idle; the runtime's housekeeping sweeps), or when its shard stops: its requests are
cancelled, waiting handlers released, its streams closed and its events discarded.
"""

from __future__ import annotations

import logging
import sys
from typing import Final

import msgspec
import trio

from mcp_trio.protocol.errors import DECODE_ERRORS, InvalidRequest
from mcp_trio.protocol.jsonrpc import RequestId
from mcp_trio.transports.http.config import HttpConfig
from mcp_trio.transports.http.event_store import EventStore, format_event_id
from mcp_trio.transports.http.sse import ResponseStream, retry_frame, sse_frame
from mcp_trio.transports.port import SessionPort

__all__ = ["HttpSession", "LegacyStream", "STANDALONE", "SESSION_OVERHEAD_BYTES", "decode_export"]

logger: Final = logging.getLogger("mcp_trio.http")
STANDALONE: Final = 0
#: What a session costs beyond the objects ``size_info`` sees: its entries in its shard's table and the hub's
#: subscriber set, and its id string (measured with tracemalloc over 1,000 idle sessions: ``benchmarks.state``).
SESSION_OVERHEAD_BYTES: Final = 500


class _Exported(msgspec.Struct, array_like=True, gc=False):
    """A legacy HTTP session on its way to another process (its driver's snapshot inside)."""

    id: str
    next_stream: int
    session: bytes


_export_encoder: Final = msgspec.msgpack.Encoder()
_export_decoder: Final = msgspec.msgpack.Decoder(_Exported)


def decode_export(data: bytes) -> tuple[str, int, bytes]:
    """(session id, next stream number, driver snapshot) of ``HttpSession.export`` bytes.

    Raises:
        InvalidRequest: not an exported session.
    """
    try:
        exported = _export_decoder.decode(data)
    except DECODE_ERRORS as exc:
        raise InvalidRequest(f"not an exported session: {exc}") from None
    return exported.id, exported.next_stream, exported.session


class LegacyStream:
    """One resumable SSE stream of a session (see the module docstring)."""

    __slots__ = ("completed", "id", "next_seq", "request_id", "resumable", "session", "writer")

    def __init__(
        self, session: HttpSession, stream_id: int, *, resumable: bool = True, request_id: RequestId | None = None
    ) -> None:
        self.session = session
        self.id = stream_id
        self.request_id = request_id  # the POST whose answer this stream carries (None: the standalone stream)
        self.next_seq = 1  # 0 is the priming event's position: "before everything"
        self.writer: ResponseStream | None = None
        self.resumable = resumable  # events are stored (the client saw an event id it can resume from)
        self.completed = False

    def attached(self) -> bool:
        writer = self.writer
        return writer is not None and not writer.detached and not writer.ended

    def attach(self, writer: ResponseStream) -> int:
        """Make ``writer`` the live destination; returns the first sequence number it will receive."""
        self.writer = writer
        return self.next_seq

    def priming_frame(self, retry_ms: int) -> bytes:
        """The event that gives the client an id to resume from before anything else happened."""
        event_id = format_event_id(self.id, self.next_seq - 1).encode("ascii")
        return b"id: " + event_id + b"\nretry: %d\ndata: \n\n" % retry_ms

    async def emit(self, data: bytes, *, final: bool = False) -> None:
        """Send one encoded message on this stream: stored (if resumable), and written if a client is attached."""
        seq = self.next_seq
        self.next_seq = seq + 1
        frame = sse_frame(data, format_event_id(self.id, seq))
        writer = self.writer
        if writer is not None and writer.detached:
            self.writer = writer = None
        if final:
            self._complete()
            if writer is not None:
                writer.finish(data, frame)
        elif writer is not None:
            writer.post(frame)
        if self.resumable:
            session = self.session
            await session.store.append(session.id, self.id, seq, data)
        if writer is not None and not final:
            await writer.wait_space()

    def close_early(self, retry_ms: int) -> bool:
        """End the current response after a ``retry:`` hint; later events wait in the store for a resume."""
        if not self.resumable or self.completed:
            return False
        writer, self.writer = self.writer, None
        if writer is not None:
            writer.end(retry_frame(retry_ms))
        return True

    def abandon(self) -> None:
        """The request ended without an answer to send (cancelled, or answered out of band)."""
        self._complete()
        if self.writer is not None:
            self.writer.end()

    def _complete(self) -> None:
        self.completed = True
        if self.id != STANDALONE:
            self.session.forget_stream(self)


class HttpSession:
    """One legacy session over HTTP (see the module docstring): the driver's ``Outlet`` and a ``HostedSession``.

    Args:
        session_id: the ``Mcp-Session-Id`` (minted with ``secrets``).
        config: the endpoint's limits (stream buffers, idle timeout, ``retry:``).
        store: where events wait for a resume.
    """

    __slots__ = (
        "_by_request",
        "_streams",
        "closed",
        "config",
        "id",
        "last_active",
        "next_stream",
        "port",
        "standalone",
        "store",
    )

    def __init__(self, session_id: str, config: HttpConfig, store: EventStore) -> None:
        self.id = session_id
        self.config = config
        self.store = store
        self.port: SessionPort | None = None  # the session driver, set right after this object is made
        self.last_active = trio.current_time()
        self.next_stream = 1
        self.standalone = LegacyStream(self, STANDALONE)
        # POST streams by stream id (for resumes) and by request id (for the driver's routing); made when needed.
        self._streams: dict[int, LegacyStream] | None = None
        self._by_request: dict[RequestId, LegacyStream] | None = None
        self.closed = False

    def __repr__(self) -> str:
        return f"<HttpSession {self.id[:8]}... closed={self.closed}>"

    @property
    def driver(self) -> SessionPort:
        assert self.port is not None
        return self.port

    def touch(self) -> None:
        self.last_active = trio.current_time()

    # ------------------------------------------------------------------ size and hand-off

    def size_info(self) -> dict[str, int]:
        """Bytes this session holds, by part (shallow sizes of what it owns; its driver's parts too)."""
        info = {"http_session": sys.getsizeof(self), "standalone_stream": sys.getsizeof(self.standalone)}
        if self._streams is not None:
            info["streams"] = sys.getsizeof(self._streams) + sum(sys.getsizeof(s) for s in self._streams.values())
        if self.port is not None:
            info.update(self.port.size_info())
        return info

    def estimate_memory(self) -> int:
        """Bytes this session costs in all (it has no task while idle): ``size_info`` plus its entry in its
        shard's table and the hub's subscriber set (``SESSION_OVERHEAD_BYTES``, measured)."""
        return sum(self.size_info().values()) + SESSION_OVERHEAD_BYTES

    def export(self) -> bytes:
        """The session as bytes another process can carry on with ``LegacyEndpoint.adopt`` (same id, same
        negotiated state and subscriptions, streams numbered on from here). Stored events stay in the event
        store, which must be shared for resumes to work across processes."""
        assert self.port is not None
        exported: bytes = _export_encoder.encode(_Exported(self.id, self.next_stream, self.port.snapshot()))
        return exported

    # ------------------------------------------------------------------ streams

    def open_stream(self, request_id: RequestId, *, resumable: bool) -> LegacyStream:
        """The stream of a request that runs as a task (its answer and what its handler sends go there)."""
        stream = LegacyStream(self, self.next_stream, resumable=resumable, request_id=request_id)
        self.next_stream += 1
        if self._streams is None:
            self._streams = {}
        if self._by_request is None:
            self._by_request = {}
        self._streams[stream.id] = stream
        self._by_request[request_id] = stream
        return stream

    def stream(self, stream_id: int) -> LegacyStream | None:
        """A live stream by id (the standalone stream, or a POST stream whose request still runs)."""
        if stream_id == STANDALONE:
            return self.standalone
        return self._streams.get(stream_id) if self._streams is not None else None

    def forget_stream(self, stream: LegacyStream) -> None:
        if self._streams is not None:
            self._streams.pop(stream.id, None)
            if not self._streams:
                self._streams = None

    def _request_stream(self, request_id: RequestId | None) -> LegacyStream | None:
        if request_id is None or self._by_request is None:
            return None
        return self._by_request.get(request_id)

    def _target(self, origin: RequestId | None) -> LegacyStream:
        """Where a message about ``origin`` goes: its request's stream, unless its client can never see it
        there (a JSON response, or a writer gone for good), then the standalone stream."""
        stream = self._request_stream(origin)
        if stream is None or stream.completed:
            return self.standalone
        if stream.resumable:
            return stream
        writer = stream.writer
        if writer is not None and writer.live and not writer.detached and not writer.ended:
            return stream
        return self.standalone

    @property
    def ready(self) -> bool:
        """The handshake is complete (``HostedSession``): ``notifications/initialized`` arrived."""
        return self.port is not None and self.port.ready

    @property
    def busy(self) -> bool:
        """Running requests or attached clients keep a session alive regardless of idle time."""
        port = self.port
        if port is not None and port.in_flight:
            return True
        if self.standalone.attached():
            return True
        return self._streams is not None and any(s.attached() for s in self._streams.values())

    def expired(self, now: float) -> bool:
        return not self.busy and now - self.last_active >= self.config.session_idle_timeout

    # ------------------------------------------------------------------ the Outlet interface for the driver

    async def send(self, data: bytes, origin: RequestId | None) -> None:
        if self.closed:
            raise trio.BrokenResourceError("the session ended")
        await self._target(origin).emit(data)

    async def answer(self, request_id: RequestId, data: bytes, status: int) -> None:
        stream = self._request_stream(request_id)
        if stream is None or self.closed:
            await trio.lowlevel.checkpoint()
            return
        await stream.emit(data, final=True)

    def done(self, request_id: RequestId) -> None:
        """The request's task ended: a stream left without its answer (cancelled) ends here."""
        by_request = self._by_request
        stream = by_request.pop(request_id, None) if by_request is not None else None
        if by_request is not None and not by_request:
            self._by_request = None
        if stream is not None and not stream.completed:
            stream.abandon()
        self.touch()

    async def close_stream(self, origin: RequestId, retry_ms: int | None) -> bool:
        await trio.lowlevel.checkpoint()
        stream = self._request_stream(origin)
        if stream is None:
            return False
        return stream.close_early(retry_ms if retry_ms is not None else self.config.sse_retry_ms)

    # ------------------------------------------------------------------ ending

    async def close(self) -> None:
        """End the session (``HostedSession``): its driver, its streams, its stored events."""
        if self.closed:
            await trio.lowlevel.checkpoint()
            return
        self.closed = True
        if self.port is not None:
            self.port.close()
        streams = [self.standalone, *(self._streams.values() if self._streams is not None else ())]
        for stream in streams:
            if stream.writer is not None:
                stream.writer.end()
        self._streams = self._by_request = None
        await self.store.discard(self.id)
