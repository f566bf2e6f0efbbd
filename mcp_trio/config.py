"""The daemon's configuration: one typed object from defaults, a TOML file, the environment and flags.

Theory of operation
-------------------
Every limit already lives in a typed, validated config class of its layer (``ServerConfig``, ``RuntimeConfig``,
``HttpConfig``, ``WebSocketConfig``), documented there with units and defaults. This module does not repeat
them: each section of the file *is* one of those classes, its keys are the class's fields, and a value is
converted to the field's type with msgspec and then validated by the class itself. ``[serve]`` holds what the
command line says (transports, workers, admin, log level).

Sources, later wins: the defaults, the TOML file (``--config FILE``), the environment
(``MCP_TRIO_<SECTION>_<KEY>``, e.g. ``MCP_TRIO_RUNTIME_MAX_IN_FLIGHT=500``; lists comma-separated), the flags.
``sources`` remembers where each value came from (``mcp-trio config show``). Anything wrong is one
``ConfigError`` naming the key, the value and what is allowed (the CLI prints it and exits 2). Fields that
hold objects (an event store, auth settings, a nested config) cannot be set from a file; the error says so.
"""

from __future__ import annotations

import functools
import os
import sys
import tomllib
import types
import typing
from collections.abc import Mapping
from typing import Any, Final, Literal

import attrs
import msgspec

from mcp_trio.runtime.config import RuntimeConfig
from mcp_trio.server.config import ServerConfig
from mcp_trio.transports.http.config import HttpConfig
from mcp_trio.transports.ws_config import WebSocketConfig

__all__ = ["ServeSettings", "DaemonConfig", "ConfigError", "load_config", "SECTIONS", "ENV_PREFIX"]

ENV_PREFIX: Final = "MCP_TRIO_"
#: Variables with the prefix that are not configuration: a secret, and what a parent tells its workers.
_NOT_CONFIG: Final = frozenset({"MCP_TRIO_ADMIN_TOKEN", "MCP_TRIO_REQUEST_STATE_KEY"})


@attrs.frozen
class ServeSettings:
    """``[serve]``: what ``mcp-trio serve`` runs (each a flag too; the flag wins).

    Attributes:
        target: ``module:attribute`` of the server (default: the demo server).
        tcp, unix, http, ws: addresses to serve (``HOST:PORT``, ``PATH``, ``HOST:PORT[/path]``).
        stdio: serve one session on stdin/stdout.
        workers: worker processes (``--workers``).
        connections: concurrent connections the deployment must hold (``--connections``); ``None``: no check.
            At start-up the server compares it with its capacity, workers x each process's connection limit
            (``[runtime] max_connections``, by default 90% of the open-file limit: the rest is kept for the
            process's own descriptors; never more than the limit minus 64), and exits with status 2, naming the
            workers it would need, when it cannot be reached.
        admin: ``HOST:PORT`` of the admin endpoint (``/health``, ``/ready``, ``/metrics``).
        log_level: ``debug``, ``info``, ``warning`` or ``error``.
        log_format: ``text`` (one human-readable line per record) or ``json`` (one JSON object per line: time,
            level, logger, message, and the traceback when there is one). Logs go to stderr, never stdout.
    """

    target: str | None = None
    tcp: tuple[str, ...] = ()
    unix: tuple[str, ...] = ()
    http: tuple[str, ...] = ()
    ws: tuple[str, ...] = ()
    stdio: bool = False
    workers: int = 1
    connections: int | None = None
    admin: str | None = None
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["text", "json"] = "text"

    def __attrs_post_init__(self) -> None:
        if self.workers < 1:
            raise ValueError("workers must be at least 1")
        if self.connections is not None and self.connections < 1:
            raise ValueError("connections must be at least 1 (leave it unset for no capacity check)")


#: Section name -> the config class it sets.
SECTIONS: Final[dict[str, type]] = {
    "serve": ServeSettings,
    "server": ServerConfig,
    "runtime": RuntimeConfig,
    "http": HttpConfig,
    "websocket": WebSocketConfig,
}
_PRIMITIVES: Final = (int, float, str, bool, type(None))


class ConfigError(ValueError):
    """A configuration that cannot be used; the message names the key, the value and what is allowed."""


@attrs.frozen
class DaemonConfig:
    """The effective configuration, one instance per section, and where each set value came from."""

    serve: ServeSettings
    server: ServerConfig
    runtime: RuntimeConfig
    http: HttpConfig
    websocket: WebSocketConfig
    sources: dict[str, str]  # "section.key" -> "file PATH" | "env NAME" | "flag --name"

    def section(self, name: str) -> Any:
        return getattr(self, name)

    def show(self) -> str:
        """The effective configuration as TOML, each value annotated with where it came from."""
        lines: list[str] = []
        for name in SECTIONS:
            lines.append(f"[{name}]")
            instance = self.section(name)
            for field in settable_fields(type(instance)):
                value = getattr(instance, field.name)
                origin = self.sources.get(f"{name}.{field.name}", "default")
                if value is None:  # TOML has no null: an unset value is shown as a comment
                    lines.append(f"# {field.name} is unset  # {origin}")
                else:
                    lines.append(f"{field.name} = {_toml(value)}  # {origin}")
            lines.append("")
        return "\n".join(lines)


def settable_fields(cls: type) -> list[attrs.Attribute[Any]]:
    """The fields of a config class that a file can set (primitive values, literals, tuples of strings)."""
    types_ = _field_types(cls)
    return [field for field in attrs.fields(cls) if _settable(types_[field.name])]


@functools.cache
def _field_types(cls: type) -> dict[str, Any]:
    """Each field's type, evaluated (``None`` for types only known to type checkers: objects, not settable)."""
    namespace = vars(sys.modules[cls.__module__])
    found: dict[str, Any] = {}
    for field in attrs.fields(cls):
        annotation = field.type
        if isinstance(annotation, str):
            try:
                annotation = eval(annotation, dict(namespace))  # our own modules' annotations
            except Exception:  # noqa: BLE001 (a name imported only under TYPE_CHECKING: an object type)
                annotation = None
        found[field.name] = annotation
    return found


def _settable(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if annotation in _PRIMITIVES:
        return True
    if origin is Literal:
        return True
    if origin in (typing.Union, types.UnionType):
        return all(_settable(arg) for arg in typing.get_args(annotation))
    if origin is tuple:
        args = typing.get_args(annotation)
        return len(args) == 2 and args[1] is Ellipsis and args[0] in (str, int, float)
    return False


def load_config(
    file: str | None = None,
    environ: Mapping[str, str] | None = None,
    flags: Mapping[str, Mapping[str, Any]] | None = None,
) -> DaemonConfig:
    """Build the configuration from the file, the environment and the flags (see the module docstring).

    Raises:
        ConfigError: a file that cannot be read or parsed, an unknown section or key, a value of the wrong type,
            or values the config class refuses.
    """
    values: dict[str, dict[str, Any]] = {name: {} for name in SECTIONS}
    sources: dict[str, str] = {}
    if file is not None:
        for section, key, value in _from_file(file):
            values[section][key] = value
            sources[f"{section}.{key}"] = f"file {file}"
    for section, key, value, name in _from_environment(environ if environ is not None else os.environ):
        values[section][key] = value
        sources[f"{section}.{key}"] = f"env {name}"
    for section, flagged in (flags or {}).items():
        for key, value in flagged.items():
            _field(section, key)
            values[section][key] = _convert(section, key, value, strict=True)
            sources[f"{section}.{key}"] = f"flag --{key.replace('_', '-')}"
    built: dict[str, Any] = {}
    for section, cls in SECTIONS.items():
        try:
            built[section] = cls(**values[section])
        except (ValueError, TypeError) as error:
            given = ", ".join(f"{key} = {_toml(value)}" for key, value in values[section].items()) or "defaults"
            raise ConfigError(f"[{section}] {error} (given: {given})") from None
    return DaemonConfig(**built, sources=sources)


def _from_file(path: str) -> list[tuple[str, str, Any]]:
    try:
        with open(path, "rb") as handle:
            document = tomllib.load(handle)
    except OSError as error:
        raise ConfigError(f"cannot read the config file {path}: {error.strerror or error}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path} is not valid TOML: {error}") from None
    found = []
    for section, table in document.items():
        if section not in SECTIONS:
            raise ConfigError(f"{path}: unknown section [{section}]; the sections are {', '.join(SECTIONS)}")
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: {section} must be a table ([{section}]), not a {type(table).__name__}")
        for key, value in table.items():
            _field(section, key)
            found.append((section, key, _convert(section, key, value, strict=True)))
    return found


def _from_environment(environ: Mapping[str, str]) -> list[tuple[str, str, Any, str]]:
    found = []
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or name in _NOT_CONFIG or name.startswith("MCP_TRIO_WORKER"):
            continue
        rest = name[len(ENV_PREFIX) :].lower()
        section = next((s for s in SECTIONS if rest.startswith(s + "_")), None)
        if section is None:
            raise ConfigError(
                f"{name}: no such section; variables are MCP_TRIO_<SECTION>_<KEY> with SECTION one of "
                f"{', '.join(s.upper() for s in SECTIONS)}"
            )
        key = rest[len(section) + 1 :]
        _field(section, key, origin=name)
        found.append((section, key, _convert(section, key, raw, strict=False, origin=name), name))
    return found


def _field(section: str, key: str, origin: str | None = None) -> attrs.Attribute[Any]:
    cls = SECTIONS[section]
    fields = {field.name: field for field in settable_fields(cls)}
    field = fields.get(key)
    if field is None:
        where = origin or f"{section}.{key}"
        every = {f.name for f in attrs.fields(cls)}
        if key in every:
            raise ConfigError(f"{where}: {key} holds an object and cannot be set from a file or the environment")
        raise ConfigError(f"{where}: unknown key; the keys of [{section}] are {', '.join(sorted(fields))}")
    return field


def _convert(section: str, key: str, value: Any, *, strict: bool, origin: str | None = None) -> Any:
    field = _field(section, key)
    annotation = _field_types(SECTIONS[section])[field.name]
    if not strict and isinstance(value, str):
        if typing.get_origin(annotation) is tuple or _tuple_in_union(annotation):
            value = [part.strip() for part in value.split(",") if part.strip()]
        elif value.lower() in ("none", "null", "") and _accepts_none(annotation):
            value = None
    try:
        return msgspec.convert(value, annotation, strict=strict)
    except msgspec.ValidationError as error:
        where = origin or f"{section}.{key}"
        raise ConfigError(f"{where} = {_toml(value)}: {_expected(annotation)} ({error})") from None


def _tuple_in_union(annotation: Any) -> bool:
    return any(typing.get_origin(arg) is tuple for arg in typing.get_args(annotation))


def _accepts_none(annotation: Any) -> bool:
    return type(None) in typing.get_args(annotation)


def _expected(annotation: Any) -> str:
    if typing.get_origin(annotation) is Literal:
        return "expected one of " + ", ".join(repr(arg) for arg in typing.get_args(annotation))
    if isinstance(annotation, type):
        return f"expected {annotation.__name__}"
    return "expected " + str(annotation).replace("typing.", "").replace("NoneType", "none")


def _toml(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    return repr(value)
