"""Client and server capability objects for both eras.

Legacy peers exchange capabilities once, in ``initialize``; modern clients send theirs in every
request's ``_meta`` (``io.modelcontextprotocol/clientCapabilities``) and servers publish theirs in
``server/discover``. Era differences:

* client ``roots`` has ``listChanged`` only on the legacy wire (``roots/list_changed`` is gone);
* ``tasks`` (2025-11-25 experimental) is legacy only; the modern wire negotiates the tasks
  extension through ``extensions["io.modelcontextprotocol/tasks"]``;
* ``extensions`` is modern only.

Capability presence is an empty object (``{}``), so flag-less capabilities are ``dict[str, Any]``.
:func:`capability_enabled` resolves the dotted wire paths used by :mod:`.methods`.
"""

from typing import Any

import msgspec

from ._base import UNSET, UnsetType, WireModel

__all__ = [
    "ListChangedCapability",
    "ResourcesCapability",
    "SamplingCapability",
    "ElicitationCapability",
    "TasksCapability",
    "ClientCapabilities",
    "ServerCapabilities",
    "capability_enabled",
]


class ListChangedCapability(WireModel, gc=False, kw_only=True):
    """``{listChanged?}``: server ``tools``/``prompts``, legacy client ``roots``."""

    list_changed: bool | UnsetType = UNSET


class ResourcesCapability(WireModel, gc=False, kw_only=True):
    """Server ``resources``: ``subscribe`` is legacy (modern uses ``subscriptions/listen``)."""

    subscribe: bool | UnsetType = UNSET
    list_changed: bool | UnsetType = UNSET


class SamplingCapability(WireModel, kw_only=True):
    """Client ``sampling``: ``context`` (deprecated ``includeContext``) and ``tools`` (SEP-1577)."""

    context: dict[str, Any] | UnsetType = UNSET
    tools: dict[str, Any] | UnsetType = UNSET


class ElicitationCapability(WireModel, kw_only=True):
    """Client ``elicitation``: ``{}`` means form mode only (pre-2025-11-25 clients send ``{}``)."""

    form: dict[str, Any] | UnsetType = UNSET
    url: dict[str, Any] | UnsetType = UNSET

    def supports_form(self) -> bool:
        """Form mode is declared explicitly, or implied by an empty ``elicitation`` object."""
        return self.form is not UNSET or self.url is UNSET

    def supports_url(self) -> bool:
        """URL mode must be declared explicitly."""
        return self.url is not UNSET


class TasksCapability(WireModel, kw_only=True):
    """2025-11-25 experimental ``tasks`` capability, on either side.

    ``requests`` is keyed by method path, e.g. ``{"tools": {"call": {}}}`` (server) or
    ``{"sampling": {"createMessage": {}}, "elicitation": {"create": {}}}`` (client); a plain nested
    dict serves both sides and any future request type.
    """

    list_: dict[str, Any] | UnsetType = msgspec.field(default=UNSET, name="list")
    cancel: dict[str, Any] | UnsetType = UNSET
    requests: dict[str, dict[str, dict[str, Any]]] | UnsetType = UNSET

    def supports_request(self, method: str) -> bool:
        """Whether task augmentation is declared for ``method`` (e.g. ``"tools/call"``)."""
        if self.requests is UNSET:
            return False
        group, _, name = method.partition("/")
        return name in self.requests.get(group, {})


class ClientCapabilities(WireModel, kw_only=True):
    """What a client supports; an empty object means no optional capability."""

    experimental: dict[str, dict[str, Any]] | UnsetType = UNSET
    roots: ListChangedCapability | UnsetType = UNSET
    sampling: SamplingCapability | UnsetType = UNSET
    elicitation: ElicitationCapability | UnsetType = UNSET
    tasks: TasksCapability | UnsetType = UNSET
    extensions: dict[str, dict[str, Any]] | UnsetType = UNSET


class ServerCapabilities(WireModel, kw_only=True):
    """What a server offers. ``logging`` is deprecated in 2026-07-28 (SEP-2577)."""

    experimental: dict[str, dict[str, Any]] | UnsetType = UNSET
    logging: dict[str, Any] | UnsetType = UNSET
    completions: dict[str, Any] | UnsetType = UNSET
    prompts: ListChangedCapability | UnsetType = UNSET
    resources: ResourcesCapability | UnsetType = UNSET
    tools: ListChangedCapability | UnsetType = UNSET
    tasks: TasksCapability | UnsetType = UNSET
    extensions: dict[str, dict[str, Any]] | UnsetType = UNSET


def capability_enabled(capabilities: ClientCapabilities | ServerCapabilities, path: str) -> bool:
    """Whether the capability at a dotted wire path is declared.

    Path segments are wire names, e.g. ``"tools"``, ``"resources.subscribe"``,
    ``"tasks.requests.tools.call"``, ``"elicitation.url"``. A segment that is an object counts as
    declared when present; a boolean flag counts when ``true``.

    Args:
        capabilities: the peer's capabilities.
        path: dotted wire path; under ``extensions``/``experimental`` the rest of the path is a single
            key, e.g. ``"extensions.io.modelcontextprotocol/tasks"``.

    Returns:
        True if every segment is present and the final value is not ``false``.
    """
    head, _, rest = path.partition(".")
    if head in _OPAQUE_KEYED and rest:
        # Extension ids and experimental names contain dots: the remainder is one key.
        table = getattr(capabilities, head)
        return table is not UNSET and rest in table
    node: Any = capabilities
    for segment in path.split("."):
        if isinstance(node, msgspec.Struct):
            node = getattr(node, _attr_for(type(node), segment), UNSET)
        elif isinstance(node, dict):
            node = node.get(segment, UNSET)
        else:
            return False
        if node is UNSET or node is None or node is False:
            return False
    return True


_OPAQUE_KEYED = frozenset({"extensions", "experimental"})


_WIRE_TO_ATTR: dict[type, dict[str, str]] = {}


def _attr_for(cls: type[msgspec.Struct], wire_name: str) -> str:
    """The attribute behind a wire name, from a per-class map built once (this is on every request's path)."""
    names = _WIRE_TO_ATTR.get(cls)
    if names is None:
        names = _WIRE_TO_ATTR[cls] = dict(zip(cls.__struct_encode_fields__, cls.__struct_fields__, strict=True))
    return names.get(wire_name, "")  # no such field: getattr(node, "", UNSET) yields UNSET
