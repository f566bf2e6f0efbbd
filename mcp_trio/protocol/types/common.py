"""Small shared objects: icons, annotations and ``Implementation`` (client/server identity)."""

from typing import Literal

from ._base import UNSET, Role, UnsetType, WireModel

__all__ = ["Icon", "Annotations", "Implementation"]


class Icon(WireModel, kw_only=True):
    """A sized icon (2025-11-25+) on ``Implementation``, ``Tool``, ``Prompt``, ``Resource``.

    ``src`` is an http(s) URL or a ``data:`` URI; ``sizes`` are ``"WxH"`` or ``"any"``.
    """

    src: str
    mime_type: str | UnsetType = UNSET
    sizes: list[str] | UnsetType = UNSET
    theme: Literal["light", "dark"] | UnsetType = UNSET


class Annotations(WireModel, kw_only=True):
    """Display hints on content blocks and resources.

    ``priority`` is ``int | float`` so an integral value keeps its JSON spelling on re-encode.
    """

    audience: list[Role] | UnsetType = UNSET
    priority: int | float | UnsetType = UNSET
    last_modified: str | UnsetType = UNSET


class Implementation(WireModel, kw_only=True):
    """Name and version of an MCP client or server.

    Legacy: ``initialize`` params ``clientInfo`` and result ``serverInfo``. Modern: the
    ``io.modelcontextprotocol/clientInfo`` request ``_meta`` key and ``serverInfo`` result key.
    ``title``, ``description``, ``icons`` and ``websiteUrl`` arrived in 2025-06-18/2025-11-25.
    """

    name: str
    version: str
    title: str | UnsetType = UNSET
    description: str | UnsetType = UNSET
    icons: list[Icon] | UnsetType = UNSET
    website_url: str | UnsetType = UNSET
