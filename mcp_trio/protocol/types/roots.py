"""Roots: ``roots/list`` (server asks the client) and ``notifications/roots/list_changed``.

Legacy: a server-to-client request gated by the client ``roots`` capability. Modern: only inside
an ``InputRequiredResult`` (MRTR) and deprecated (SEP-2577); the list-changed notification is gone.
"""

import msgspec

from ._base import UNSET, Meta, RequestParams, Result, UnsetType, WireModel

__all__ = ["Root", "ListRootsParams", "ListRootsResult"]


class Root(WireModel, kw_only=True):
    """A directory or file the server may operate on (a ``file://`` URI)."""

    uri: str
    name: str | UnsetType = UNSET
    meta: Meta | UnsetType = msgspec.field(default=UNSET, name="_meta")


class ListRootsParams(RequestParams, kw_only=True):
    """``roots/list`` (no parameters besides ``_meta``)."""


class ListRootsResult(Result, kw_only=True):
    """``roots/list`` result."""

    roots: list[Root]
