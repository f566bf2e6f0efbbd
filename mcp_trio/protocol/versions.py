"""Protocol revisions and which wire era each belongs to.

The legacy era (``initialize`` + sessions) spans 2024-11-05 .. 2025-11-25; the modern, stateless era starts at
2026-07-28. One server answers both on the same endpoint, as the spec's versioning page allows.
"""

from __future__ import annotations

from typing import Final, Literal

__all__ = [
    "Era",
    "LEGACY_VERSIONS",
    "MODERN_VERSIONS",
    "LATEST_LEGACY_VERSION",
    "LATEST_MODERN_VERSION",
    "BATCHING_VERSIONS",
    "DEFAULT_HTTP_LEGACY_VERSION",
    "era_of",
    "negotiate_legacy_version",
]

Era = Literal["legacy", "modern"]

#: Newest first: the order ``initialize`` negotiation prefers.
LEGACY_VERSIONS: Final = ("2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05")
MODERN_VERSIONS: Final = ("2026-07-28",)
LATEST_LEGACY_VERSION: Final = LEGACY_VERSIONS[0]
LATEST_MODERN_VERSION: Final = MODERN_VERSIONS[0]
#: JSON-RPC batches are part of exactly this revision (added 2025-03-26, removed 2025-06-18).
BATCHING_VERSIONS: Final = frozenset({"2025-03-26"})
#: What a legacy HTTP request without an ``MCP-Protocol-Version`` header is assumed to speak.
DEFAULT_HTTP_LEGACY_VERSION: Final = "2025-03-26"

_ERAS: Final[dict[str, Era]] = {
    **dict.fromkeys(LEGACY_VERSIONS, "legacy"),
    **dict.fromkeys(MODERN_VERSIONS, "modern"),
}


def era_of(version: str) -> Era | None:
    """Return the era of a known revision, or ``None`` for a version we do not speak."""
    return _ERAS.get(version)


def negotiate_legacy_version(requested: object, supported: tuple[str, ...] = LEGACY_VERSIONS) -> str:
    """The ``initialize`` rule: echo the client's version if we support it, else offer our latest."""
    if isinstance(requested, str) and requested in supported:
        return requested
    return supported[0]
