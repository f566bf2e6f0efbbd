"""What every session of one server shares: identity, capabilities, versions. One object per server."""

from __future__ import annotations

from typing import Any

import attrs

from mcp_trio.protocol.types import Implementation, ServerCapabilities, capability_enabled
from mcp_trio.protocol.versions import LEGACY_VERSIONS, MODERN_VERSIONS

__all__ = ["ServerProfile"]


@attrs.frozen
class ServerProfile:
    """The server-wide facts a session needs; shared by reference so a session stays small.

    Attributes:
        server_info: ``serverInfo`` in ``initialize`` results and modern ``_meta``.
        capabilities: what the server offers; gates methods and notifications.
        instructions: optional usage hints for the client's model.
        legacy_versions: legacy revisions offered in ``initialize``, newest first.
        modern_versions: modern revisions accepted in per-request ``_meta``, newest first.
        default_log_level: legacy sessions send log messages at or above this level until the client calls
            ``logging/setLevel`` (``None``: nothing until then).
    """

    server_info: Implementation
    capabilities: ServerCapabilities
    instructions: str | None = None
    legacy_versions: tuple[str, ...] = LEGACY_VERSIONS
    modern_versions: tuple[str, ...] = MODERN_VERSIONS
    default_log_level: str | None = "info"
    _offered: dict[str, bool] = attrs.field(factory=dict, init=False, eq=False, repr=False)
    #: Per wire era, the methods a client may call and what each needs (``session._route``), remembered.
    routes: dict[str, dict[str, Any]] = attrs.field(
        factory=lambda: {"legacy": {}, "modern": {}}, init=False, eq=False, repr=False
    )

    def offers(self, path: str) -> bool:
        """Whether the server declares the capability at ``path`` (``capability_enabled``), remembered per path:
        every request asks, and a profile's capabilities never change (the server builds a new profile)."""
        offered = self._offered.get(path)
        if offered is None:
            offered = self._offered[path] = capability_enabled(self.capabilities, path)
        return offered
