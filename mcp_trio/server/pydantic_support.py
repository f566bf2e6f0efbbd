"""Pydantic types in handler signatures, for servers written in the official SDK's style (extra ``pydantic``).

The core describes and validates arguments with msgspec alone. A parameter or return type msgspec cannot handle
(a pydantic model, a list of them, ``Annotated[Model, Field(...)]``, a pydantic-only type) is handed to a pydantic
``TypeAdapter`` instead: its JSON Schema is spliced into the published one, and its validator runs after msgspec's,
on that one value. pydantic is imported only when such a type is met, so a server without it never pays for it.
"""

from __future__ import annotations

import importlib.util
import sys
import typing
from collections.abc import Callable
from typing import Any, Final

import msgspec

from mcp_trio.protocol.errors import LocalProtocolError

__all__ = ["PydanticValue", "mentions_pydantic", "pydantic_value", "json_builtins"]

#: How many of pydantic's errors one message lists (the rest are counted).
_ERRORS_SHOWN: Final = 3


class PydanticValue(msgspec.Struct, frozen=True):
    """A value validated and described by pydantic: ``validate`` raises ``msgspec.ValidationError``."""

    schema: dict[str, Any]
    validate: Callable[[Any], Any]
    dump: Callable[[Any], Any]


def mentions_pydantic(hint: Any) -> bool:
    """Whether ``hint`` names a pydantic class or pydantic-only ``Annotated`` metadata anywhere inside it.

    Without pydantic imported no such hint can exist, so the check costs nothing for a server that does not use it.
    """
    if "pydantic" not in sys.modules:
        return False
    if isinstance(hint, type) and hasattr(hint, "__pydantic_fields__"):
        return True  # a BaseModel or a pydantic dataclass
    if typing.get_origin(hint) is typing.Annotated:
        base, *metadata = typing.get_args(hint)
        return mentions_pydantic(base) or any(_pydantic_only(item) for item in metadata)
    return any(mentions_pydantic(arg) for arg in typing.get_args(hint))


def _pydantic_only(item: Any) -> bool:
    """Metadata only pydantic understands (validators, serializers...): a ``Field`` the core translates itself."""
    module = type(item).__module__
    return module.startswith("pydantic") and type(item).__name__ != "FieldInfo"


def pydantic_available() -> bool:
    return "pydantic" in sys.modules or importlib.util.find_spec("pydantic") is not None


def pydantic_value(hint: Any, where: str, *, name: str = "", mode: str = "validation") -> PydanticValue:
    """Describe and validate ``hint`` with pydantic; ``name`` prefixes error paths (the parameter's name).

    Raises:
        LocalProtocolError: pydantic is not installed, or cannot build a schema for ``hint`` (``where`` says which
            function and parameter).
    """
    if not pydantic_available():
        raise LocalProtocolError(
            f"{where}: type {_name(hint)} cannot be described as JSON Schema by msgspec; pydantic could, if it were "
            "installed (pip install 'mcp-trio[pydantic]')"
        )
    import pydantic

    try:
        adapter: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(hint)
        schema = adapter.json_schema(ref_template="#/$defs/{model}", mode=mode)  # type: ignore[arg-type]
    except (pydantic.PydanticUserError, pydantic.PydanticSchemaGenerationError, TypeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise LocalProtocolError(f"{where}: type {_name(hint)} cannot be described as JSON Schema: {first}") from exc
    prefix = f"$.{name}" if name else "$"

    def validate(value: Any) -> Any:
        try:
            return adapter.validate_python(value)
        except pydantic.ValidationError as exc:
            raise msgspec.ValidationError(_message(exc, prefix)) from None

    def dump(value: Any) -> Any:
        return adapter.dump_python(value, mode="json")

    return PydanticValue(schema, validate, dump)


def _message(exc: Any, prefix: str) -> str:
    """pydantic's errors in msgspec's one-line style: ``Input should be ... - at `$.item.price` ``."""
    errors = exc.errors(include_url=False, include_context=False, include_input=False)
    parts = []
    for error in errors[:_ERRORS_SHOWN]:
        path = prefix + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"])
        parts.append(f"{error['msg']} - at `{path}`")
    if len(errors) > _ERRORS_SHOWN:
        parts.append(f"and {len(errors) - _ERRORS_SHOWN} more")
    return "; ".join(parts)


def json_builtins(value: Any) -> Any:
    """``enc_hook`` for msgspec: a pydantic object (a model, say, inside a returned dict) as JSON builtins."""
    if "pydantic_core" in sys.modules:
        import pydantic_core

        try:
            return pydantic_core.to_jsonable_python(value)
        except pydantic_core.PydanticSerializationError:
            pass
    raise NotImplementedError(f"Encoding objects of type {type(value).__name__} is unsupported")


def _name(hint: Any) -> str:
    return getattr(hint, "__qualname__", None) or repr(hint)
