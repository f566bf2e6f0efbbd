"""What a supervisor is told about each child: OTP's child spec and supervisor flags as typed values.

The enums are ``StrEnum`` so that they print, compare and serialise as the OTP atoms they mirror.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Awaitable
from typing import Any, Protocol

import attrs
import trio

from .errors import DuplicateChildError

__all__ = [
    "Restart",
    "ShutdownPolicy",
    "Strategy",
    "AutoShutdown",
    "StartFunction",
    "ChildSpec",
    "DEFAULT_SHUTDOWN",
]


class Restart(enum.StrEnum):
    """When an ended child is started again."""

    #: Always restarted, whatever the exit.
    PERMANENT = "permanent"
    #: Restarted only after an abnormal exit (not a return, not :class:`~supervision.Shutdown`).
    TRANSIENT = "transient"
    #: Never restarted and never counted toward intensity: the type for per-connection children.
    TEMPORARY = "temporary"


class ShutdownPolicy(enum.StrEnum):
    """The two non-numeric shutdown settings; a number means "cancel, wait that many seconds, abandon"."""

    #: Cancel and join at once, without a grace period to abandon after (Trio has no untrappable kill).
    BRUTAL_KILL = "brutal_kill"
    #: Cancel and wait for as long as it takes: the right setting for a sub-supervisor.
    INFINITY = "infinity"


class Strategy(enum.StrEnum):
    """Which siblings are restarted along with a child that ended."""

    ONE_FOR_ONE = "one_for_one"
    ONE_FOR_ALL = "one_for_all"
    REST_FOR_ONE = "rest_for_one"


class AutoShutdown(enum.StrEnum):
    """Whether the end of significant children (not restarted) ends the supervisor too."""

    NEVER = "never"
    ANY_SIGNIFICANT = "any_significant"
    ALL_SIGNIFICANT = "all_significant"


#: OTP's default for workers: five seconds to stop after being cancelled.
DEFAULT_SHUTDOWN: float = 5.0


class StartFunction(Protocol):
    """An async function run as a child: it calls ``task_status.started(value)`` once it is ready."""

    def __call__(self, *, task_status: trio.TaskStatus[Any]) -> Awaitable[object]: ...


def _check_shutdown(_: object, __: attrs.Attribute[Any], value: object) -> None:
    check_shutdown(value)


def check_shutdown(value: object) -> None:
    """Raise ValueError unless ``value`` is a :class:`ShutdownPolicy` or finite seconds >= 0."""
    if isinstance(value, ShutdownPolicy):
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not (0 <= value < math.inf):
        raise ValueError(f"shutdown must be a ShutdownPolicy or finite seconds >= 0, not {value!r}")


@attrs.frozen
class ChildSpec:
    """How to start, restart and stop one child of a :class:`~supervision.Supervisor`.

    Args:
        id: unique within its supervisor; used by ``terminate_child`` and friends and in logs.
        start: ``async def start(*, task_status)``; bind arguments with ``functools.partial``.
        restart: :class:`Restart` type.
        shutdown: seconds to wait after cancelling before abandoning the child, or a :class:`ShutdownPolicy`.
        significant: with ``auto_shutdown``, this child's own end may end the supervisor. Only for transient
            and temporary children, as in OTP.

    Raises:
        ValueError: a significant permanent child, or a bad ``shutdown``.
    """

    id: str
    start: StartFunction
    restart: Restart = Restart.PERMANENT
    shutdown: float | ShutdownPolicy = attrs.field(default=DEFAULT_SHUTDOWN, validator=_check_shutdown)
    significant: bool = False

    def __attrs_post_init__(self) -> None:
        if self.significant and self.restart is Restart.PERMANENT:
            raise ValueError(f"child {self.id!r}: a permanent child cannot be significant")


def check_unique(specs: list[ChildSpec] | tuple[ChildSpec, ...]) -> None:
    """Raise :class:`DuplicateChildError` if two specs share an id."""
    seen: set[str] = set()
    for spec in specs:
        if spec.id in seen:
            raise DuplicateChildError(f"duplicate child id {spec.id!r}")
        seen.add(spec.id)
