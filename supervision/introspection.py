"""Read-only views of a supervision tree: child lists, counts, statistics and a dump for the CLI and /health.

Everything returned is an immutable record or plain JSON-able data built at call time, so a caller can
keep it, serialise it or compare it without racing the supervisor that produced it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import attrs

from .events import ExitClass
from .spec import Restart, ShutdownPolicy

__all__ = [
    "ChildState",
    "ChildInfo",
    "ChildCounts",
    "SupervisorStatistics",
    "SupportsTree",
    "format_tree",
]


class ChildState(enum.StrEnum):
    """Where a child is in its life, as ``which_children`` reports it."""

    STARTING = "starting"
    RUNNING = "running"
    #: A restart of it failed and will be retried (OTP's ``restarting``).
    RESTARTING = "restarting"
    #: Cancelled and not yet ended (or abandoned after its shutdown timeout).
    STOPPING = "stopping"
    #: Spec kept but not running: terminated, or a transient child that ended normally (OTP's ``undefined``).
    STOPPED = "stopped"


@attrs.frozen
class ChildInfo:
    """One row of ``which_children()``.

    Attributes:
        id: the child id (``"#<serial>"`` for dynamic children).
        state: see :class:`ChildState`.
        restart: its restart type.
        shutdown: its shutdown setting.
        significant: whether its end can trigger ``auto_shutdown``.
        supervisor: whether the running child is itself a supervisor (its ready value has ``tree()``).
        value: what the child passed to ``task_status.started()``, if running.
    """

    id: str
    state: ChildState
    restart: Restart
    shutdown: float | ShutdownPolicy
    significant: bool = False
    supervisor: bool = False
    value: object = attrs.field(default=None, eq=False, repr=False)


@attrs.frozen
class ChildCounts:
    """OTP's ``count_children``: specs held, children running, and how many of those are supervisors."""

    specs: int
    active: int
    supervisors: int
    workers: int


@attrs.frozen
class SupervisorStatistics:
    """Counters since the supervisor object was created (they survive its restarts), plus current figures."""

    name: str
    strategy: str
    specs: int
    active: int
    starts: int
    restarts: int
    start_failures: int
    exits_normal: int
    exits_shutdown: int
    exits_abnormal: int
    abandoned: int
    escalations: int
    restarts_in_window: int
    intensity: int
    period: float

    def as_dict(self) -> dict[str, object]:
        """The record as a plain dict (for JSON)."""
        return attrs.asdict(self)


class Counters:
    """The mutable counters behind :class:`SupervisorStatistics` (one per supervisor, not per child)."""

    __slots__ = (
        "abandoned",
        "escalations",
        "exits_abnormal",
        "exits_normal",
        "exits_shutdown",
        "restarts",
        "start_failures",
        "starts",
    )

    def __init__(self) -> None:
        self.starts = 0
        self.restarts = 0
        self.start_failures = 0
        self.exits_normal = 0
        self.exits_shutdown = 0
        self.exits_abnormal = 0
        self.abandoned = 0
        self.escalations = 0

    def count_exit(self, exit_class: ExitClass) -> None:
        if exit_class is ExitClass.NORMAL:
            self.exits_normal += 1
        elif exit_class is ExitClass.SHUTDOWN:
            self.exits_shutdown += 1
        else:
            self.exits_abnormal += 1


@runtime_checkable
class SupportsTree(Protocol):
    """Anything that can describe its subtree: both supervisor kinds (so trees nest in dumps)."""

    def tree(self, *, limit: int = ...) -> dict[str, Any]: ...


def shutdown_repr(shutdown: float | ShutdownPolicy) -> float | str:
    """A shutdown setting as JSON-able data."""
    return shutdown.value if isinstance(shutdown, ShutdownPolicy) else shutdown


def child_dict(info: ChildInfo, limit: int) -> dict[str, Any]:
    """A ``ChildInfo`` as JSON-able data, with the child's own subtree when it is a supervisor."""
    out: dict[str, Any] = {
        "id": info.id,
        "state": info.state.value,
        "restart": info.restart.value,
        "shutdown": shutdown_repr(info.shutdown),
        "significant": info.significant,
    }
    if info.supervisor and isinstance(info.value, SupportsTree):
        out["tree"] = info.value.tree(limit=limit)
    return out


def format_tree(tree: Mapping[str, Any]) -> str:
    """Render a ``tree()`` dict as indented text for the CLI.

    Example::

        app [one_for_one] running: 2/2 children, 3 restarts, 0 escalations
        ├── db running permanent
        └── conns running permanent
            conns [simple_one_for_one] running: 2/2 children, 0 restarts, 0 escalations
            ├── #1 running temporary
            └── #2 running temporary
    """
    lines: list[str] = []
    _render(tree, "", lines)
    return "\n".join(lines)


def _render(tree: Mapping[str, Any], indent: str, lines: list[str]) -> None:
    stats = tree["statistics"]
    lines.append(
        f"{indent}{tree['name']} [{tree['strategy']}] {tree['state']}: {stats['active']}/{stats['specs']} "
        f"children, {stats['restarts']} restarts, {stats['escalations']} escalations"
    )
    children: list[Mapping[str, Any]] = tree["children"]
    omitted: int = tree.get("omitted_children", 0)
    for index, child in enumerate(children):
        last = index == len(children) - 1 and not omitted
        lines.append(f"{indent}{'└── ' if last else '├── '}{child['id']} {child['state']} {child['restart']}")
        if "tree" in child:
            _render(child["tree"], indent + ("    " if last else "│   "), lines)
    if omitted:
        lines.append(f"{indent}└── ... {omitted} more")
