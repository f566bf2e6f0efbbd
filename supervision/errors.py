"""Every error the supervision tree raises, in one place.

The hierarchy, so callers can catch as broadly or narrowly as they need::

    SupervisionError
    ├── Shutdown                    a child asks to end with reason "shutdown" (not a failure)
    │   └── SupervisorEscalation    restart intensity exceeded; the last failure is ``__cause__``
    ├── FailedToStartChild          a child failed before reporting ready (``id``, ``cause``)
    ├── DuplicateChildError         a child id is already present            (also ValueError)
    ├── UnknownChildError           no child has that id or handle           (also LookupError)
    ├── ChildRunningError           restart/delete of a child that is running
    ├── MaxChildrenError            a dynamic supervisor is full
    └── SupervisorClosed            you stopped (or never ran) the supervisor (also trio.ClosedResourceError)
"""

from __future__ import annotations

import trio

__all__ = [
    "SupervisionError",
    "Shutdown",
    "SupervisorEscalation",
    "FailedToStartChild",
    "DuplicateChildError",
    "UnknownChildError",
    "ChildRunningError",
    "MaxChildrenError",
    "SupervisorClosed",
]


class SupervisionError(Exception):
    """Base class of every error raised by ``supervision``."""


class Shutdown(SupervisionError):
    """Raised by a child to end with reason ``shutdown``: a deliberate stop, not a failure.

    A ``transient`` child that raises it is not restarted; a ``permanent`` one still is.
    """

    def __init__(self, reason: object = None) -> None:
        super().__init__(reason)
        self.reason = reason


class SupervisorEscalation(Shutdown):
    """A supervisor exceeded its restart intensity, stopped its children and gave up.

    It subclasses :class:`Shutdown` because OTP's supervisor exits with reason ``shutdown`` here: a parent
    restarts a ``permanent`` sub-supervisor (counting toward its own intensity, so failure climbs the tree)
    and lets a ``transient`` one stay down. The last child failure is chained as ``__cause__``.
    """

    def __init__(self, supervisor: str, child_id: str, restarts: int, period: float) -> None:
        super().__init__(f"supervisor {supervisor!r} reached max restart intensity")
        self.supervisor = supervisor
        self.child_id = child_id
        self.restarts = restarts
        self.period = period

    def __str__(self) -> str:
        return (
            f"supervisor {self.supervisor!r} reached max restart intensity: {self.restarts} restarts within "
            f"{self.period:g}s, last by child {self.child_id!r}; all children were stopped"
        )


class FailedToStartChild(SupervisionError):
    """A child raised (or returned) before calling ``task_status.started()``.

    Raised by ``Supervisor.run`` during its ordered start (after stopping the children already started),
    and by ``start_child`` / ``restart_child``. The original error is both ``cause`` and ``__cause__``.
    """

    def __init__(self, child_id: str, cause: BaseException) -> None:
        super().__init__(child_id, cause)
        self.child_id = child_id
        self.cause = cause
        self.__cause__ = cause

    def __str__(self) -> str:
        return f"child {self.child_id!r} failed to start: {self.cause!r}"


class DuplicateChildError(SupervisionError, ValueError):
    """A child spec reuses an id already present in the supervisor."""


class UnknownChildError(SupervisionError, LookupError):
    """No child has that id (static) or handle (dynamic)."""

    def __str__(self) -> str:
        return f"no such child: {self.args[0]!r}" if self.args else "no such child"


class ChildRunningError(SupervisionError):
    """``restart_child`` or ``delete_child`` on a child that is running (OTP's ``{error, running}``)."""


class MaxChildrenError(SupervisionError):
    """``start_child`` on a dynamic supervisor that already has ``max_children`` children."""


class SupervisorClosed(SupervisionError, trio.ClosedResourceError):
    """The supervisor is not running: it was never started, or it is stopping or has stopped."""
