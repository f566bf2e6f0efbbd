"""Limits and defaults of the Streamable HTTP transport, with units. No limit lives anywhere else."""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from mcp_trio.transports.http.auth import AuthSettings
    from mcp_trio.transports.http.event_store import EventStore
    from mcp_trio.transports.http.session_store import SessionStore

__all__ = ["HttpConfig"]

_POSITIVE = (
    "max_header_bytes",
    "max_body_bytes",
    "max_pipeline_bytes",
    "receive_size",
    "max_stream_buffer_bytes",
    "max_sessions",
    "event_store_max_events",
    "event_store_max_bytes",
)
_POSITIVE_SECONDS = (
    "keep_alive_timeout",
    "keep_alive_sweep_interval",
    "header_timeout",
    "body_timeout",
    "write_timeout",
    "sse_keepalive_interval",
    "session_idle_timeout",
    "event_store_max_age",
)


@attrs.frozen
class HttpConfig:
    """Tunables of one HTTP endpoint.

    Attributes:
        max_header_bytes: largest request head (request line + headers), in bytes; larger: 431 and close.
        max_body_bytes: largest request body, in bytes (Content-Length or chunked); larger: 413 and close.
        max_pipeline_bytes: bytes of a pipelined next request buffered while a response streams; past it the
            server stops reading (TCP pushes back) until the current response ends.
        receive_size: bytes asked of the socket per read.
        keep_alive_timeout: seconds an idle keep-alive connection may wait for its next request; then closed.
        keep_alive_sweep_interval: seconds between checks of idle connections against ``keep_alive_timeout``
            (one sweep per endpoint instead of a timer per request): an idle connection closes up to this much
            later than ``keep_alive_timeout``.
        header_timeout: seconds from the first byte of a request to the end of its head; then 408 and close
            (slowloris).
        body_timeout: seconds to receive a whole request body; then 408 and close.
        write_timeout: seconds one write may block on a client that does not read; then the connection drops.
        max_stream_buffer_bytes: bytes of SSE frames queued for one stream before producers wait for the
            client to read them.
        sse_keepalive_interval: seconds of silence on an SSE stream before a ``: keep-alive`` comment (sent by
            the keep-alive sweep, so up to ``keep_alive_sweep_interval`` later).
        sse_retry_ms: the ``retry:`` field, in milliseconds, sent with the priming event of resumable streams.
        legacy_sessions: serve the 2025-x session wire (``initialize``, ``Mcp-Session-Id``, GET, DELETE)
            besides the stateless 2026-07-28 wire; ``False`` makes the endpoint modern-only.
        max_sessions: legacy sessions alive at once; a further ``initialize`` gets 503.
        session_idle_timeout: seconds a legacy session with no request, stream or task lives on; then it ends
            (its id gets 404) at the runtime's next sweep (``RuntimeConfig.session_sweep_interval``).
        event_store: where legacy SSE events are kept for resumption; ``None`` builds an in-memory store from
            the three limits below.
        session_store: where legacy sessions' negotiated state is saved so that a process that does not hold a
            session can adopt it instead of answering 404 (``session_store.SessionStore``: a replaced worker's
            sessions carry on, or any node of several); ``None``: sessions live only in their process.
        event_store_max_events: events kept per session by the in-memory store (oldest dropped first).
        event_store_max_bytes: bytes of events kept per session by the in-memory store.
        event_store_max_age: seconds an event stays replayable in the in-memory store.
        allowed_hosts: ``Host`` values accepted (``"name"`` for any port, ``"name:port"`` for one); ``None``:
            ``localhost``, ``127.0.0.1`` and ``[::1]`` with the bound port, plus the bound address. Others: 421.
        allowed_origins: ``Origin`` values accepted (``scheme://host[:port]``); ``None``: ``http`` and ``https``
            origins of the allowed hosts. A request without ``Origin`` (not a browser) is accepted; others: 403.
        auth: bearer-token authentication (OAuth resource server); ``None`` serves without authentication.
        worker_id: this worker's name when the server runs as several processes (``--workers``): legacy session
            ids start with it (``<worker_id>.<random>``), so any worker knows which one holds a session.
        worker_socket_dir: where every worker also serves this endpoint on a Unix socket
            (``<dir>/<worker_id>.sock``): a request for another worker's session is forwarded there.
    """

    max_header_bytes: int = 16 * 1024
    max_body_bytes: int = 4 * 1024 * 1024
    max_pipeline_bytes: int = 64 * 1024
    receive_size: int = 64 * 1024
    keep_alive_timeout: float = 75.0
    keep_alive_sweep_interval: float = 1.0
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    write_timeout: float = 30.0
    max_stream_buffer_bytes: int = 1024 * 1024
    sse_keepalive_interval: float = 15.0
    sse_retry_ms: int = 1000
    legacy_sessions: bool = True
    max_sessions: int = 10_000
    session_idle_timeout: float = 30 * 60.0
    event_store: EventStore | None = None
    session_store: SessionStore | None = None
    event_store_max_events: int = 1000
    event_store_max_bytes: int = 4 * 1024 * 1024
    event_store_max_age: float = 5 * 60.0
    allowed_hosts: tuple[str, ...] | None = None
    allowed_origins: tuple[str, ...] | None = None
    auth: AuthSettings | None = None
    worker_id: str | None = None
    worker_socket_dir: str | None = None

    def __attrs_post_init__(self) -> None:
        for name in _POSITIVE:
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive")
        for name in _POSITIVE_SECONDS:
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be a positive number of seconds")
        if self.sse_retry_ms < 0:
            raise ValueError("sse_retry_ms must not be negative")
