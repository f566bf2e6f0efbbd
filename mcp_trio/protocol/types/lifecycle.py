"""Legacy session lifecycle: ``initialize``, ``notifications/initialized`` and ``ping``.

All three are gone from the 2026-07-28 wire (``server/discover`` and per-request ``_meta`` replace
the handshake). The server answers ``initialize`` with the requested version when it supports it,
else its own latest.
"""

from ._base import UNSET, RequestParams, Result, UnsetType
from .capabilities import ClientCapabilities, ServerCapabilities
from .common import Implementation

__all__ = ["InitializeParams", "InitializeResult", "PingParams"]


class InitializeParams(RequestParams, kw_only=True):
    """``initialize``."""

    protocol_version: str
    capabilities: ClientCapabilities
    client_info: Implementation


class InitializeResult(Result, kw_only=True):
    """``initialize`` result."""

    protocol_version: str
    capabilities: ServerCapabilities
    server_info: Implementation
    instructions: str | UnsetType = UNSET


class PingParams(RequestParams, kw_only=True):
    """``ping`` (either direction; result is empty)."""
