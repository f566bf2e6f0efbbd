"""Client limits and defaults, with units: every limit lives here, none as a magic number in code."""

from __future__ import annotations

from typing import Literal

import attrs

from mcp_trio.protocol.framing import DEFAULT_MAX_MESSAGE_SIZE
from mcp_trio.transports.validators import positive as _positive
from mcp_trio.transports.validators import positive_or_none as _positive_or_none

__all__ = ["ClientConfig", "Era"]

#: Which wire to speak: ``"auto"`` probes with ``server/discover`` and falls back to ``initialize``.
Era = Literal["auto", "modern", "legacy"]


@attrs.frozen
class ClientConfig:
    """Tunables of one client session.

    Attributes:
        era: the wire to speak. ``"auto"`` (the default) sends ``server/discover`` first and speaks 2026-07-28 if
            the server does, else falls back to ``initialize`` (any other answer, or none within
            ``discover_timeout``), as the specification asks of dual-era clients.
        request_timeout: seconds a request may take before it is given up (``RequestTimeout``; legacy: the
            server is told with ``notifications/cancelled``); ``None`` waits forever. Each call may override it.
        discover_timeout: seconds the ``"auto"`` probe waits for ``server/discover`` before trying ``initialize``.
        max_input_rounds: 2026-07-28: how many ``InputRequiredResult`` rounds one call may take before it fails
            (a server that keeps asking would otherwise loop forever).
        max_pages: how many pages the ``list_*`` helpers follow before they fail (a server whose cursors never
            end would otherwise loop forever).
        max_message_size: largest message accepted from the server, in bytes (stream transports: larger lines
            are answered -32600 and skipped; HTTP: a larger body or event fails the request).
        max_in_flight: legacy: server-to-client requests (sampling, elicitation, roots) handled at once; more
            are refused with -32000.
        max_outbox_bytes: stream transports: bytes queued for the server before senders wait for the drain.
        receive_size: stream transports: bytes read per system call.
        drain_timeout: seconds the client keeps answering the server's requests after the server closed its
            sending side.
        close_timeout: seconds closing may take to write what is queued.
        terminate_timeout: stdio: seconds a server subprocess has to exit after its stdin closes, and again
            after SIGTERM, before it is killed.
        max_connections: HTTP: connections one client keeps open to its server for requests at most (requests
            beyond wait); the legacy standalone stream has a connection of its own besides.
        max_head_bytes: HTTP: largest response head accepted, in bytes.
        max_resumes: HTTP, legacy: how often a broken response stream is resumed (``Last-Event-ID``), and how
            many failed reconnections in a row end the standalone stream.
        standalone_stream: HTTP, legacy: open the GET stream for server messages outside any request (list
            changes, resource updates). Off, an idle session holds no connection and no task.
        local_address: ``tcp://``, ``http(s)://`` and ``ws(s)://``: the local IP address every connection is
            bound to (``None``: the kernel's choice). Each (source address, server address, server port) has only
            ~28K ephemeral ports, so a load generator holding more sessions than that to one server spreads them
            over several source addresses (``127.0.0.2``, ``127.0.0.3``... on loopback). The port is still picked
            by the kernel at connect time (``IP_BIND_ADDRESS_NO_PORT``), per destination, so a bound address does
            not use up its ports for every other destination. Other targets refuse it (``ValueError``).
    """

    era: Era = "auto"
    request_timeout: float | None = attrs.field(default=60.0, validator=_positive_or_none)
    discover_timeout: float = attrs.field(default=5.0, validator=_positive)
    max_input_rounds: int = 8
    max_pages: int = 1000
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE
    max_in_flight: int = 16
    max_outbox_bytes: int = 1 << 20
    receive_size: int = 65536
    drain_timeout: float = attrs.field(default=5.0, validator=_positive)
    close_timeout: float = attrs.field(default=2.0, validator=_positive)
    terminate_timeout: float = attrs.field(default=2.0, validator=_positive)
    max_connections: int = 4
    max_head_bytes: int = 16384
    max_resumes: int = 3
    standalone_stream: bool = True
    local_address: str | None = None

    def __attrs_post_init__(self) -> None:
        if self.era not in ("auto", "modern", "legacy"):
            raise ValueError(f"era must be 'auto', 'modern' or 'legacy', not {self.era!r}")
        for name in (
            "max_input_rounds",
            "max_pages",
            "max_message_size",
            "max_in_flight",
            "receive_size",
            "max_connections",
            "max_head_bytes",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")

    #: The stream framing's in-flight policy (``StreamLimits``): a client refuses, it never stalls its reader.
    @property
    def in_flight_policy(self) -> str:
        return "refuse"
