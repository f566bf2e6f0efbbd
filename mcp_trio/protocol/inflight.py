"""The peer's requests in progress, as both session state machines keep them.

A server session tracks the client's requests and a client session the server's; either way an answer is due
unless the peer cancelled, progress about a request must increase and carries the peer's token, and the map is
dropped (``None``) as soon as it is empty, so an idle session holds no dict at all.
"""

from __future__ import annotations

from typing import Any

import msgspec

from mcp_trio.protocol.errors import LocalProtocolError, McpError
from mcp_trio.protocol.events import ProgressToken
from mcp_trio.protocol.jsonrpc import ErrorResponse, Notification, RequestId, Response, error_response

__all__ = ["Inflight", "PeerRequests"]


class Inflight(msgspec.Struct, gc=False):
    """What is kept for a peer request in progress, when more than its id is needed."""

    progress_token: ProgressToken | None = None
    last_progress: float | None = None
    log_level: str | None = None  # modern wire: this request's _meta log level
    cancelled: bool = False


class PeerRequests:
    """Mixin for session Structs with ``incoming: dict[RequestId, Inflight | None] | None``."""

    __slots__ = ()
    incoming: dict[RequestId, Inflight | None] | None

    def _check_open(self) -> None:
        """Sessions that refuse use after closing override this."""

    def _mark_cancelled(self, request_id: Any) -> bool:
        """Record the peer's cancellation; True if it cancels a request in progress for the first time."""
        incoming = self.incoming
        if incoming is None or request_id not in incoming:
            return False  # already answered, or never ours: the spec says ignore
        entry = incoming[request_id]
        if entry is None:
            entry = incoming[request_id] = Inflight()
        if entry.cancelled:
            return False
        entry.cancelled = True
        return True

    def _finish(self, request_id: RequestId) -> bool:
        """Forget a request in progress; False if the peer cancelled it (then nothing is sent)."""
        self._check_open()
        incoming = self.incoming
        if incoming is None or request_id not in incoming:
            raise LocalProtocolError(f"no request {request_id!r} in progress (answered twice?)")
        entry = incoming.pop(request_id)
        if not incoming:
            self.incoming = None  # type: ignore[misc]  # the field lives on the Struct using this mixin
        return entry is None or not entry.cancelled

    def respond(self, request_id: RequestId, result: Any) -> Response | None:
        """The response to a ``RequestReceived``; ``None`` if the peer cancelled the request meanwhile."""
        return Response(request_id, result) if self._finish(request_id) else None

    def respond_error(self, request_id: RequestId, error: McpError) -> ErrorResponse | None:
        """The error response to a ``RequestReceived``; ``None`` if the peer cancelled it meanwhile."""
        return error_response(error, request_id) if self._finish(request_id) else None

    def forget(self, request_id: RequestId) -> None:
        """Drop a request in progress without answering it (it was cancelled)."""
        incoming = self.incoming
        if incoming is not None:
            incoming.pop(request_id, None)
            if not incoming:
                self.incoming = None  # type: ignore[misc]  # the field lives on the Struct using this mixin

    def in_progress(self, request_id: RequestId) -> bool:
        """Whether the peer still awaits an answer to ``request_id``."""
        incoming = self.incoming
        if incoming is None or request_id not in incoming:
            return False
        entry = incoming[request_id]
        return entry is None or not entry.cancelled

    def progress(
        self, request_id: RequestId, progress: float, total: float | None = None, message: str | None = None
    ) -> Notification | None:
        """``notifications/progress`` for a peer request in progress, or ``None`` if it asked for none.

        Raises:
            LocalProtocolError: ``progress`` did not increase (the spec requires it to).
        """
        self._check_open()
        entry = self.incoming.get(request_id) if self.incoming is not None else None
        if entry is None or entry.progress_token is None or entry.cancelled:
            return None
        if entry.last_progress is not None and progress <= entry.last_progress:
            raise LocalProtocolError(f"progress must increase: {progress} after {entry.last_progress}")
        entry.last_progress = progress
        params: dict[str, Any] = {"progressToken": entry.progress_token, "progress": progress}
        if total is not None:
            params["total"] = total
        if message is not None:
            params["message"] = message
        return Notification("notifications/progress", params)
