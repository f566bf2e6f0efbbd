"""Resources and resource templates: what ``resources/list``, ``templates/list`` and ``resources/read`` serve.

A resource reader returns ``str`` (text), ``bytes`` (base64 blob), a ``ResourceContents``, a list of them, a
whole ``ReadResourceResult``, or data (a dict, list, pydantic model, dataclass or struct), which is served as
JSON text indented by two spaces, as the official SDK serves it. Anything else (a number, ``None``) is taken
for a bug in the reader: an internal error.

Templates use the ``{var}`` form of RFC 6570 (level 1): each variable matches one path segment, and the reader
receives the variables as keyword arguments converted to its type hints (``"123"`` becomes ``123`` for an
``int`` parameter), so a bad value is an invalid-params error, not a crash.
"""

from __future__ import annotations

import base64
import dataclasses
import inspect
import re
from collections.abc import Callable
from typing import Any, Final

import attrs
import msgspec
from msgspec import UNSET

from mcp_trio.protocol.errors import DECODE_ERRORS, InvalidParams, LocalProtocolError
from mcp_trio.protocol.types import ReadResourceResult, Resource, ResourceContents, ResourceTemplate
from mcp_trio.server.signature import ArgumentModel, argument_model, find_context_parameter

__all__ = ["ResourceDefinition", "TemplateDefinition", "compile_template", "to_read_result"]

_VARIABLE: Final = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


@attrs.define(slots=True, eq=False)
class ResourceDefinition:
    resource: Resource
    read: Callable[..., Any]
    is_async: bool
    context_parameter: str | None
    blocking: bool = True  # a synchronous reader runs in a worker thread (False: on the event loop)


@attrs.define(slots=True, eq=False)
class TemplateDefinition:
    template: ResourceTemplate
    read: Callable[..., Any]
    pattern: re.Pattern[str]
    arguments: ArgumentModel
    is_async: bool
    context_parameter: str | None
    blocking: bool = True

    def match(self, uri: str) -> msgspec.Struct | None:
        """The reader's arguments if ``uri`` matches this template, else ``None``.

        Raises:
            InvalidParams: the URI matches but a variable does not convert to its parameter's type.
        """
        found = self.pattern.fullmatch(uri)
        if found is None:
            return None
        try:
            return self.arguments.convert(found.groupdict(), strict=False)
        except DECODE_ERRORS as exc:
            raise InvalidParams(f"invalid resource URI {uri!r}: {exc}", {"uri": uri}) from None


def compile_template(uri_template: str) -> re.Pattern[str]:
    """A regex for a level-1 URI template: literal text, and ``{name}`` matching one path segment."""
    parts: list[str] = []
    last = 0
    for found in _VARIABLE.finditer(uri_template):
        parts.append(re.escape(uri_template[last : found.start()]))
        parts.append(f"(?P<{found.group(1)}>[^/]+)")
        last = found.end()
    rest = uri_template[last:]
    if "{" in rest or "}" in rest or any("{" in re.escape(p) for p in parts if not p.startswith("(?P")):
        raise LocalProtocolError(f"unsupported URI template {uri_template!r}: only {{name}} variables")
    parts.append(re.escape(rest))
    return re.compile("".join(parts))


def define_resource(
    read: Callable[..., Any],
    uri: str,
    *,
    context_type: type,
    name: str | None = None,
    blocking: bool = True,
    **fields: Any,
) -> ResourceDefinition:
    is_async = inspect.iscoroutinefunction(read)
    return ResourceDefinition(
        resource=Resource(uri=uri, name=name or str(getattr(read, "__name__", uri)), **_described(read, fields)),
        read=read,
        is_async=is_async,
        context_parameter=find_context_parameter(read, context_type),
        blocking=blocking and not is_async,
    )


def define_template(
    read: Callable[..., Any],
    uri_template: str,
    *,
    context_type: type,
    name: str | None = None,
    blocking: bool = True,
    **fields: Any,
) -> TemplateDefinition:
    pattern = compile_template(uri_template)
    context_parameter = find_context_parameter(read, context_type)
    arguments = argument_model(read, name or read.__name__, skip=context_parameter)
    missing = set(pattern.groupindex) ^ set(arguments.names)
    if missing:
        raise LocalProtocolError(
            f"template {uri_template!r} and {read.__name__}'s parameters differ: {', '.join(sorted(missing))}"
        )
    return TemplateDefinition(
        template=ResourceTemplate(uri_template=uri_template, name=name or read.__name__, **_described(read, fields)),
        read=read,
        pattern=pattern,
        arguments=arguments,
        is_async=inspect.iscoroutinefunction(read),
        context_parameter=context_parameter,
        blocking=blocking and not inspect.iscoroutinefunction(read),
    )


def _described(read: Callable[..., Any], fields: dict[str, Any]) -> dict[str, Any]:
    out = {key: value for key, value in fields.items() if value is not None}
    if "description" not in out and (doc := inspect.getdoc(read)):
        out["description"] = doc
    return out


def to_read_result(uri: str, mime_type: str | None, value: Any) -> ReadResourceResult:
    """Shape a reader's return value as the ``resources/read`` result (never empty contents)."""
    if isinstance(value, ReadResourceResult):
        return value
    mime = mime_type if mime_type is not None else UNSET
    if isinstance(value, ResourceContents):
        contents = [value]
    elif isinstance(value, list) and value and all(isinstance(v, ResourceContents) for v in value):
        contents = value
    elif isinstance(value, str):
        contents = [ResourceContents(uri=uri, mime_type=mime, text=value)]
    elif isinstance(value, bytes | bytearray | memoryview):
        blob = base64.b64encode(bytes(value)).decode("ascii")
        contents = [ResourceContents(uri=uri, mime_type=mime, blob=blob)]
    elif _is_data(value):
        text = msgspec.json.format(msgspec.json.encode(value, enc_hook=_jsonable), indent=2).decode()
        contents = [ResourceContents(uri=uri, mime_type=mime, text=text)]
    else:
        raise TypeError(f"a resource reader returned {type(value).__name__}; expected str, bytes, contents or data")
    return ReadResourceResult(contents=contents)


def _is_data(value: Any) -> bool:
    return (
        isinstance(value, dict | list | tuple | msgspec.Struct)
        or callable(getattr(value, "model_dump", None))
        or (dataclasses.is_dataclass(value) and not isinstance(value, type))
    )


def _jsonable(value: Any) -> Any:
    """What msgspec cannot encode by itself: a pydantic model as its JSON data, anything else as ``str``."""
    dump = getattr(value, "model_dump", None)
    return dump(mode="json") if callable(dump) else str(value)
