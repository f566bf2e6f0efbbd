"""``server/discover`` (2026-07-28, MUST implement): versions, capabilities and instructions.

The modern replacement for the informational half of ``initialize``. Its result is cacheable
(``ttlMs``/``cacheScope``) and SHOULD carry ``_meta["io.modelcontextprotocol/serverInfo"]``.
"""

from ._base import UNSET, CacheableResult, RequestParams, UnsetType
from .capabilities import ServerCapabilities

__all__ = ["DiscoverParams", "DiscoverResult"]


class DiscoverParams(RequestParams, kw_only=True):
    """``server/discover`` (only the per-request ``_meta``)."""


class DiscoverResult(CacheableResult, kw_only=True):
    """``server/discover`` result."""

    supported_versions: list[str]
    capabilities: ServerCapabilities
    instructions: str | UnsetType = UNSET
