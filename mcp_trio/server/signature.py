"""Turn a Python function's signature into an MCP argument struct and JSON Schema (2020-12).

msgspec does both jobs: ``defstruct`` builds a struct whose fields are the function's parameters, so argument
validation is one ``msgspec.convert`` (precise errors, no per-call reflection) and ``msgspec.json.schema``
describes the same struct, so the published schema can never disagree with what is accepted.
"""

from __future__ import annotations

import contextlib
import inspect
import types
import typing
from collections.abc import Callable
from typing import Any, Final

import msgspec

from mcp_trio.protocol.errors import LocalProtocolError
from mcp_trio.server.pydantic_support import PydanticValue, mentions_pydantic, pydantic_value

__all__ = ["ArgumentModel", "inline_schema", "argument_model", "find_context_parameter"]

JSON_SCHEMA_2020_12: Final = "https://json-schema.org/draft/2020-12/schema"


class ArgumentModel(msgspec.Struct, frozen=True):
    """The arguments a function takes: the struct to validate them and the schema to publish.

    ``positional`` says the function may be called as ``fn(*msgspec.structs.astuple(validated))`` (every
    parameter can be passed by position, in the struct's order, and none is left out): four times cheaper than
    building a keyword dict on the hot path. ``foreign`` lists the parameters whose type only pydantic handles:
    the struct holds them as ``Any`` and ``convert`` runs pydantic's validator on each after msgspec's pass.
    """

    struct: type[msgspec.Struct]
    schema: dict[str, Any]
    names: tuple[str, ...]
    positional: bool = False
    foreign: tuple[tuple[str, Callable[[Any], Any], Any], ...] = ()  # (name, validate, default)

    def convert(self, arguments: Any, *, strict: bool = True) -> msgspec.Struct:
        """The validated argument struct (``msgspec.ValidationError`` when the arguments do not fit)."""
        validated: msgspec.Struct = msgspec.convert(arguments, self.struct, strict=strict)
        for name, validate, default in self.foreign:
            value = getattr(validated, name)
            if value is not default:  # a default stands as written, as pydantic leaves defaults unvalidated
                setattr(validated, name, validate(value))
        return validated


def inline_schema(kind: Any) -> dict[str, Any]:
    """The JSON Schema of ``kind`` with the top-level ``$ref`` resolved (MCP wants the object itself)."""
    schema = msgspec.json.schema(kind)
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        defs = dict(schema.get("$defs", {}))
        top = dict(defs.pop(ref.removeprefix("#/$defs/")))
        top.pop("title", None)
        if defs:
            top["$defs"] = defs
        return top
    return schema


def find_context_parameter(fn: Callable[..., Any], context_type: type) -> str | None:
    """The name of the parameter annotated with ``context_type`` (the per-request context), if any: the type
    itself, a subclass of it, ``Context[...]`` or ``Context | None`` (all spellings official-SDK servers use)."""
    for name, hint in _hints(fn).items():
        if name != "return" and _names_context(hint, context_type):
            return name
    return None


def _names_context(hint: Any, context_type: type) -> bool:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        options = [option for option in typing.get_args(hint) if option is not type(None)]
        return len(options) == 1 and _names_context(options[0], context_type)
    hint = typing.get_origin(hint) or hint
    return isinstance(hint, type) and issubclass(hint, context_type)


def _hints(fn: Callable[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(fn, include_extras=True)
    except (NameError, TypeError) as exc:
        raise LocalProtocolError(f"cannot resolve the type hints of {fn!r}: {exc}") from exc


def argument_model(fn: Callable[..., Any], name: str, skip: str | None = None) -> ArgumentModel:
    """Build the argument struct and schema for ``fn``, leaving out the context parameter ``skip``.

    Raises:
        LocalProtocolError: a parameter has no type hint, or is ``*args``/``**kwargs``.
    """
    hints = _hints(fn)
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    foreign: list[tuple[str, Callable[[Any], Any], Any]] = []
    foreign_schemas: dict[str, dict[str, Any]] = {}
    positional = skip is None
    for param in inspect.signature(fn).parameters.values():
        positional = positional and param.kind in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD)
        if param.name == skip:
            continue
        where = f"{name}: parameter {param.name!r}"
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise LocalProtocolError(f"{name}: *args/**kwargs cannot be described as MCP arguments")
        if param.name not in hints:
            raise LocalProtocolError(f"{where} needs a type hint")
        hint = hints[param.name]
        default = param.default
        if _is_field_info(default):  # ``x: int = Field(3, ge=0)``, the official SDK's style
            hint = typing.Annotated[hint, default]
            default = _field_default(default)
        described = None if mentions_pydantic(hint) else _msgspec_type(hint, where)
        if described is None:  # only pydantic can describe and validate it
            value = pydantic_value(hint, where, name=param.name)
            foreign.append((param.name, value.validate, default))
            foreign_schemas[param.name] = _with_default(value, default)
            described = Any
        if default is param.empty:
            fields.append((param.name, described))
        else:
            fields.append((param.name, described, default))
    struct = msgspec.defstruct(f"{name}_arguments", fields, kw_only=True)
    schema = inline_schema(struct)
    schema.setdefault("properties", {})
    for parameter, property_schema in foreign_schemas.items():
        _splice(schema, parameter, property_schema, name)
    return ArgumentModel(struct, schema, tuple(f[0] for f in fields), positional, tuple(foreign))


def _msgspec_type(hint: Any, where: str) -> Any:
    """``hint`` in msgspec's terms, or None when msgspec cannot describe it (pydantic may)."""
    described = _with_constraints(hint, where)
    try:
        msgspec.json.schema(described)
    except TypeError:
        return None
    return described


def _with_default(value: PydanticValue, default: Any) -> dict[str, Any]:
    """The property schema pydantic gave, with the parameter's default when JSON can hold it."""
    schema = dict(value.schema)
    if default is not inspect.Parameter.empty:
        # A default JSON cannot show (an object, say) is still the default; it is just not published.
        with contextlib.suppress(TypeError, ValueError):
            schema["default"] = msgspec.to_builtins(value.dump(default))
    return schema


def _splice(schema: dict[str, Any], parameter: str, property_schema: dict[str, Any], name: str) -> None:
    """Put pydantic's schema of one parameter into the arguments' schema, its ``$defs`` beside msgspec's."""
    property_schema = dict(property_schema)
    definitions = property_schema.pop("$defs", {})
    existing = schema.setdefault("$defs", {})
    for key, definition in definitions.items():
        if existing.setdefault(key, definition) != definition:
            raise LocalProtocolError(f"{name}: two different types are both named {key!r} in the arguments' schema")
    if not existing:
        del schema["$defs"]
    schema["properties"][parameter] = property_schema


#: Constraints of the ``annotated_types`` package (what pydantic's ``Field`` puts in its metadata) as
#: ``msgspec.Meta`` keywords.
_CONSTRAINTS: Final = {
    "Ge": "ge",
    "Gt": "gt",
    "Le": "le",
    "Lt": "lt",
    "MultipleOf": "multiple_of",
    "MinLen": "min_length",
    "MaxLen": "max_length",
}


def _is_field_info(value: Any) -> bool:
    """A pydantic ``FieldInfo`` (recognised without importing pydantic, which is optional)."""
    return type(value).__name__ == "FieldInfo" and type(value).__module__.startswith("pydantic")


def _field_default(info: Any) -> Any:
    default = getattr(info, "default", inspect.Parameter.empty)
    if type(default).__name__ == "PydanticUndefinedType":
        factory = getattr(info, "default_factory", None)
        return factory() if callable(factory) else inspect.Parameter.empty
    return default


def _with_constraints(hint: Any, where: str) -> Any:
    """``hint`` with its ``Annotated`` metadata in msgspec's terms: a pydantic ``Field(...)``, ``annotated_types``
    constraints (``Ge(0)``...) and a plain string (a description) become ``msgspec.Meta``, so the schema shows
    them and validation enforces them. Metadata that means nothing to msgspec is refused rather than dropped.

    Raises:
        LocalProtocolError: metadata that cannot be described or enforced (``where`` names the parameter).
    """
    if typing.get_origin(hint) is not typing.Annotated:
        return hint
    base, *metadata = typing.get_args(hint)
    kept: list[Any] = []
    meta: dict[str, Any] = {}
    for item in metadata:
        if isinstance(item, msgspec.Meta):
            kept.append(item)
        elif isinstance(item, str):
            meta["description"] = item
        elif _is_field_info(item):
            for key in ("description", "title", "examples"):
                value = getattr(item, key, None)
                if value is not None:
                    meta[key] = list(value) if key == "examples" else value
            for constraint in getattr(item, "metadata", ()):
                _constraint(constraint, meta, where)
        elif type(item).__module__ == "annotated_types":
            _constraint(item, meta, where)
        else:
            raise LocalProtocolError(
                f"{where}: Annotated metadata {item!r} cannot be described in the JSON Schema or enforced; use "
                "msgspec.Meta, pydantic.Field, annotated_types constraints or a description string"
            )
    if meta:
        kept.append(msgspec.Meta(**meta))
    return typing.Annotated[(base, *kept)] if kept else base


def _constraint(item: Any, meta: dict[str, Any], where: str) -> None:
    kind = type(item).__name__
    key = _CONSTRAINTS.get(kind)
    if key is not None:
        meta[key] = getattr(item, key)
    elif getattr(item, "pattern", None) is not None:
        meta["pattern"] = item.pattern
    elif kind not in ("Strict", "_PydanticGeneralMetadata"):
        raise LocalProtocolError(f"{where}: the constraint {item!r} cannot be enforced here")


def return_hint(fn: Callable[..., Any]) -> Any:
    """The function's return annotation (``inspect.Signature.empty`` when absent), unwrapping awaitables."""
    hint = _hints(fn).get("return", inspect.Signature.empty)
    if typing.get_origin(hint) in (typing.Awaitable, typing.Coroutine):
        hint = typing.get_args(hint)[-1]
    return hint
