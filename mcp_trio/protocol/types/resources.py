"""Resources: descriptors, contents and the ``resources/*`` methods.

Era differences: ``resources/subscribe``/``unsubscribe`` are legacy only (the modern wire opts in
through ``subscriptions/listen``); list results and the ``resources/read`` result carry
``ttlMs``/``cacheScope`` on the modern wire; ``resources/read`` may answer with an
``InputRequiredResult`` (MRTR) on the modern wire, so its params accept ``inputResponses`` and
``requestState``. Not-found is -32002 on the legacy wire and -32602 (``data.uri``) on the modern one.
"""

import msgspec

from ._base import (
    UNSET,
    CacheableResult,
    Cursor,
    Meta,
    NotificationParams,
    PaginatedParams,
    RequestParams,
    UnsetType,
    WireModel,
)
from .common import Annotations, Icon

__all__ = [
    "Resource",
    "ResourceTemplate",
    "ResourceContents",
    "ListResourcesParams",
    "ListResourcesResult",
    "ListResourceTemplatesParams",
    "ListResourceTemplatesResult",
    "ReadResourceParams",
    "ReadResourceResult",
    "SubscribeParams",
    "UnsubscribeParams",
    "ResourceUpdatedParams",
]


class Resource(WireModel, kw_only=True):
    """A readable resource as listed by ``resources/list`` (and the base of ``ResourceLink``)."""

    uri: str
    name: str
    title: str | UnsetType = UNSET
    description: str | UnsetType = UNSET
    mime_type: str | UnsetType = UNSET
    annotations: Annotations | UnsetType = UNSET
    size: int | UnsetType = UNSET
    icons: list[Icon] | UnsetType = UNSET
    meta: Meta | UnsetType = msgspec.field(default=UNSET, name="_meta")


class ResourceTemplate(WireModel, kw_only=True):
    """An RFC 6570 URI template the server can resolve."""

    uri_template: str
    name: str
    title: str | UnsetType = UNSET
    description: str | UnsetType = UNSET
    mime_type: str | UnsetType = UNSET
    annotations: Annotations | UnsetType = UNSET
    icons: list[Icon] | UnsetType = UNSET
    meta: Meta | UnsetType = msgspec.field(default=UNSET, name="_meta")


class ResourceContents(WireModel, kw_only=True):
    """Contents of a resource: the schema's untagged ``TextResourceContents | BlobResourceContents``.

    The two schema types differ only by which of ``text`` (UTF-8 text) or ``blob`` (base64 bytes)
    is present, with no discriminator, so one struct holds both and validation requires exactly
    one of them. Use :attr:`is_blob` to branch.
    """

    uri: str
    mime_type: str | UnsetType = UNSET
    text: str | UnsetType = UNSET
    blob: str | UnsetType = UNSET
    meta: Meta | UnsetType = msgspec.field(default=UNSET, name="_meta")

    def __post_init__(self) -> None:
        if (self.text is UNSET) == (self.blob is UNSET):
            raise ValueError("resource contents need exactly one of `text` or `blob`")

    @property
    def is_blob(self) -> bool:
        """True for ``BlobResourceContents`` (base64 in ``blob``), False for text contents."""
        return self.blob is not UNSET


class ListResourcesParams(PaginatedParams, kw_only=True):
    """``resources/list``."""


class ListResourcesResult(CacheableResult, kw_only=True):
    """``resources/list`` result (paginated; cacheable on the modern wire)."""

    resources: list[Resource]
    next_cursor: Cursor | UnsetType = UNSET


class ListResourceTemplatesParams(PaginatedParams, kw_only=True):
    """``resources/templates/list``."""


class ListResourceTemplatesResult(CacheableResult, kw_only=True):
    """``resources/templates/list`` result (paginated; cacheable on the modern wire)."""

    resource_templates: list[ResourceTemplate]
    next_cursor: Cursor | UnsetType = UNSET


class ReadResourceParams(RequestParams, kw_only=True):
    """``resources/read``; ``input_responses``/``request_state`` are the modern MRTR retry fields.

    ``input_responses`` values stay raw JSON: each is decoded with the result type of the matching
    ``inputRequests`` entry (``ElicitResult``, ``CreateMessageResult`` or ``ListRootsResult``).
    """

    uri: str
    input_responses: dict[str, msgspec.Raw] | UnsetType = UNSET
    request_state: str | UnsetType = UNSET


class ReadResourceResult(CacheableResult, kw_only=True):
    """``resources/read`` result; ``contents`` should never be empty."""

    contents: list[ResourceContents]


class SubscribeParams(RequestParams, kw_only=True):
    """``resources/subscribe`` (legacy only)."""

    uri: str


class UnsubscribeParams(RequestParams, kw_only=True):
    """``resources/unsubscribe`` (legacy only)."""

    uri: str


class ResourceUpdatedParams(NotificationParams, kw_only=True):
    """``notifications/resources/updated``; modern: only on a ``subscriptions/listen`` stream."""

    uri: str
