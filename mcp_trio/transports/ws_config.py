"""Limits and defaults of the WebSocket transport, with units. No limit of it lives anywhere else."""

from __future__ import annotations

from typing import Final

import attrs

from mcp_trio.transports.validators import positive as _positive
from mcp_trio.transports.validators import positive_or_none as _positive_or_none

__all__ = ["WebSocketConfig", "SUBPROTOCOL"]

#: The subprotocol of MCP over WebSocket (SEP-1288), offered by clients and echoed by the server.
SUBPROTOCOL: Final = "mcp"


@attrs.frozen
class WebSocketConfig:
    """Tunables of one WebSocket endpoint (the server's; a client uses the defaults).

    Attributes:
        max_message_size: largest message accepted, in bytes of UTF-8; a larger one closes the WebSocket with
            1009. ``None``: the server's own ``ServerConfig.max_message_size`` (4 MiB by default), as on streams.
        ping_interval: seconds the client may stay silent before the server pings it; ``None`` turns keep-alive
            off.
        pong_timeout: seconds after a ping within which the client must send something (its pong, or anything
            else); then it is presumed gone: Close 1011 and the connection is dropped.
        sweep_interval: seconds between keep-alive sweeps (one task per endpoint checks every connection, so
            no read arms a timer): pings go out and silent clients are dropped up to this much late.
        handshake_timeout: seconds from accepting a connection to the end of its HTTP upgrade; then it is
            closed without an answer. (The MCP handshake that follows has the runtime's ``handshake_timeout``.)
        max_handshake_bytes: largest upgrade request (request line and headers), in bytes; larger: HTTP 431.
        allowed_hosts: ``Host`` values accepted (``"name"`` for any port, ``"name:port"`` for one); ``None``:
            ``localhost``, ``127.0.0.1`` and ``[::1]`` with the bound port, plus the bound address. Others: 421.
        allowed_origins: ``Origin`` values accepted (``scheme://host[:port]``); ``None``: ``http`` and ``https``
            origins of the allowed hosts. An upgrade without ``Origin`` (not a browser) is accepted; others: 403.
    """

    max_message_size: int | None = None
    ping_interval: float | None = attrs.field(default=20.0, validator=_positive_or_none)
    pong_timeout: float = attrs.field(default=20.0, validator=_positive)
    sweep_interval: float = attrs.field(default=1.0, validator=_positive)
    handshake_timeout: float = attrs.field(default=10.0, validator=_positive)
    max_handshake_bytes: int = 16 * 1024
    allowed_hosts: tuple[str, ...] | None = None
    allowed_origins: tuple[str, ...] | None = None

    def __attrs_post_init__(self) -> None:
        if self.max_message_size is not None and self.max_message_size < 1:
            raise ValueError("max_message_size must be positive")
        if self.max_handshake_bytes < 1:
            raise ValueError("max_handshake_bytes must be positive")
