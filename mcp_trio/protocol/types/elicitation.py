"""Elicitation: ``elicitation/create`` and its restricted form schemas.

Modes: *form* (a flat JSON-Schema object of primitive fields; also the implied mode when ``mode``
is absent, as from 2025-06-18 servers) and *url* (SEP-1036, 2025-11-25: send the user to a URL).
Legacy URL mode carries ``elicitationId`` and ``notifications/elicitation/complete``; the modern
wire drops both and sends elicitations only inside an ``InputRequiredResult`` (MRTR).

The schema's ``ElicitRequestFormParams | ElicitRequestURLParams`` is an untagged union (``mode``
is optional for forms), so :class:`ElicitRequestParams` is one struct that requires
``requestedSchema`` for forms and ``url`` for URL mode.

``requestedSchema`` stays a plain dict on the wire (so ``$schema`` and unknown keywords survive);
:meth:`ElicitRequestParams.typed_schema` converts it to :class:`RequestedSchema`, whose property
schemas are a tagged union on ``type``: ``string`` (plain, ``format``, or the SEP-1330 single-select
enums: untitled ``enum``, titled ``oneOf``, legacy ``enumNames``), ``number``/``integer``,
``boolean``, and ``array`` (SEP-1330 multi-select: untitled ``items.enum``, titled
``items.anyOf``). Every primitive has a ``default`` (SEP-1034).
"""

from typing import Any, Literal, TypeAlias

import msgspec

from mcp_trio.protocol.errors import DECODE_ERRORS, describe_decode_error

from ._base import UNSET, NotificationParams, RequestParams, Result, TaskMetadata, UnsetType, WireModel

__all__ = [
    "EnumOption",
    "StringSchema",
    "NumberSchema",
    "IntegerSchema",
    "BooleanSchema",
    "EnumItems",
    "MultiSelectEnumSchema",
    "PrimitiveSchemaDefinition",
    "RequestedSchema",
    "ElicitRequestParams",
    "ElicitResult",
    "ElicitationCompleteParams",
]


class EnumOption(WireModel, gc=False, kw_only=True):
    """A titled enum option: ``{"const": value, "title": label}``."""

    const: str
    title: str


class StringSchema(WireModel, tag_field="type", tag="string", kw_only=True):
    """A string field, or a single-select enum (``enum``, titled ``one_of``, legacy ``enum_names``).

    ``pattern`` is not in ``schema.ts`` but appears in the 2025-11-25 elicitation documentation.
    """

    title: str | UnsetType = UNSET
    description: str | UnsetType = UNSET
    min_length: int | UnsetType = UNSET
    max_length: int | UnsetType = UNSET
    pattern: str | UnsetType = UNSET
    format: str | UnsetType = UNSET
    enum: list[str] | UnsetType = UNSET
    enum_names: list[str] | UnsetType = UNSET
    one_of: list[EnumOption] | UnsetType = UNSET
    default: str | UnsetType = UNSET

    def allowed_values(self) -> list[str] | None:
        """The enum values, or None for a free-form string."""
        if self.enum is not UNSET:
            return list(self.enum)
        if self.one_of is not UNSET:
            return [option.const for option in self.one_of]
        return None


class NumberSchema(WireModel, tag_field="type", tag="number", gc=False, kw_only=True):
    """A number field; bounds and default keep their JSON int/float spelling."""

    title: str | UnsetType = UNSET
    description: str | UnsetType = UNSET
    minimum: int | float | UnsetType = UNSET
    maximum: int | float | UnsetType = UNSET
    default: int | float | UnsetType = UNSET


class IntegerSchema(NumberSchema, tag="integer", kw_only=True):
    """An integer field (``"type": "integer"``); same fields as :class:`NumberSchema`."""


class BooleanSchema(WireModel, tag_field="type", tag="boolean", gc=False, kw_only=True):
    """A boolean field."""

    title: str | UnsetType = UNSET
    description: str | UnsetType = UNSET
    default: bool | UnsetType = UNSET


class EnumItems(WireModel, kw_only=True):
    """``items`` of a multi-select.

    Untitled: ``{"type": "string", "enum": [...]}``; titled: ``{"anyOf": [{"const", "title"}, ...]}``.
    """

    type: Literal["string"] | UnsetType = UNSET
    enum: list[str] | UnsetType = UNSET
    any_of: list[EnumOption] | UnsetType = UNSET


class MultiSelectEnumSchema(WireModel, tag_field="type", tag="array", kw_only=True):
    """A multi-select enum (SEP-1330)."""

    items: EnumItems
    title: str | UnsetType = UNSET
    description: str | UnsetType = UNSET
    min_items: int | UnsetType = UNSET
    max_items: int | UnsetType = UNSET
    default: list[str] | UnsetType = UNSET

    def allowed_values(self) -> list[str]:
        """The selectable values."""
        if self.items.enum is not UNSET:
            return list(self.items.enum)
        if self.items.any_of is not UNSET:
            return [option.const for option in self.items.any_of]
        return []


PrimitiveSchemaDefinition: TypeAlias = (
    StringSchema | NumberSchema | IntegerSchema | BooleanSchema | MultiSelectEnumSchema
)
"""A property of an elicitation form (no nesting)."""


class RequestedSchema(WireModel, kw_only=True):
    """Typed view of a form's ``requestedSchema``: a flat object of primitive properties."""

    type: Literal["object"]
    properties: dict[str, PrimitiveSchemaDefinition]
    required: list[str] | UnsetType = UNSET
    schema: str | UnsetType = msgspec.field(default=UNSET, name="$schema")


class ElicitRequestParams(RequestParams, kw_only=True):
    """``elicitation/create`` params for both modes (see the module docstring).

    ``elicitation_id`` is 2025-11-25 URL mode only; ``task`` is 2025-11-25 task augmentation.
    """

    message: str
    mode: Literal["form", "url"] | UnsetType = UNSET
    requested_schema: dict[str, Any] | UnsetType = UNSET
    url: str | UnsetType = UNSET
    elicitation_id: str | UnsetType = UNSET
    task: TaskMetadata | UnsetType = UNSET

    def __post_init__(self) -> None:
        if self.mode == "url":
            if self.url is UNSET:
                raise ValueError("URL-mode elicitation needs `url`")
        elif self.requested_schema is UNSET:
            raise ValueError("form-mode elicitation needs `requestedSchema`")

    @property
    def is_url_mode(self) -> bool:
        """True for URL mode; an absent ``mode`` means form."""
        return self.mode == "url"

    def typed_schema(self) -> RequestedSchema:
        """Validate and convert ``requested_schema``.

        Raises:
            msgspec.ValidationError: the schema is absent or not a flat primitive form.
        """
        if self.requested_schema is UNSET:
            raise msgspec.ValidationError("URL-mode elicitation has no requestedSchema")
        try:
            return msgspec.convert(self.requested_schema, RequestedSchema)
        except msgspec.ValidationError:
            raise
        except DECODE_ERRORS as exc:  # the peer's schema, nested too deeply or with an unconvertible number
            raise msgspec.ValidationError(describe_decode_error(exc)) from None


class ElicitResult(Result, kw_only=True):
    """``elicitation/create`` result; ``content`` only when a form was accepted."""

    action: Literal["accept", "decline", "cancel"]
    content: dict[str, str | int | float | bool | list[str]] | UnsetType = UNSET


class ElicitationCompleteParams(NotificationParams, kw_only=True):
    """``notifications/elicitation/complete`` (2025-11-25 URL mode only)."""

    elicitation_id: str
