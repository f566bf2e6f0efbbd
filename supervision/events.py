"""How a child ended, and the event stream that logs and metrics subscribe to.

Exit classes follow OTP's exit reasons: a return is ``normal``; cancellation by the supervisor itself or an
explicit :class:`~supervision.Shutdown` is ``shutdown``; anything else is ``abnormal`` (and logged with its
traceback). Subscribers are plain callables run synchronously inside the supervisor, so they must be quick
and must not block; one that raises is logged and otherwise ignored, so a broken metrics hook cannot take
the tree down.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable

import attrs

__all__ = ["ExitClass", "EventKind", "SupervisorEvent", "EventHub"]

logger = logging.getLogger("supervision")


class ExitClass(enum.StrEnum):
    """How a started child ended, as OTP would classify its exit reason."""

    NORMAL = "normal"
    SHUTDOWN = "shutdown"
    ABNORMAL = "abnormal"


class EventKind(enum.StrEnum):
    """What happened; see :class:`SupervisorEvent`."""

    #: A child reported ready (initial start, ``start_child`` or ``restart_child``).
    STARTED = "started"
    #: A restart reported ready.
    RESTARTED = "restarted"
    #: A child failed before reporting ready (``error`` is why).
    START_FAILED = "start_failed"
    #: A started child ended (``exit`` says how, ``error`` carries the exception if any).
    EXITED = "exited"
    #: A child did not stop within its shutdown timeout; the supervisor stopped waiting for it.
    ABANDONED = "abandoned"
    #: Restart intensity was exceeded; the supervisor is stopping every child and raising.
    ESCALATED = "escalated"
    #: A significant child ended and ``auto_shutdown`` is ending the supervisor.
    AUTO_SHUTDOWN = "auto_shutdown"


@attrs.frozen
class SupervisorEvent:
    """One observable step of a supervisor, delivered to every subscriber.

    Attributes:
        kind: what happened.
        supervisor: the supervisor's name.
        child_id: the child concerned (``None`` for supervisor-wide events).
        time: ``trio.current_time()`` when it happened.
        exit: for ``EXITED``, the exit class.
        error: the exception behind an abnormal exit, a start failure or an escalation.
    """

    kind: EventKind
    supervisor: str
    child_id: str | None
    time: float
    exit: ExitClass | None = None
    error: BaseException | None = attrs.field(default=None, eq=False)


Subscriber = Callable[[SupervisorEvent], None]


class EventHub:
    """A list of subscribers; falsy when empty so hot paths can skip building events nobody reads."""

    __slots__ = ("_subscribers",)

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def __bool__(self) -> bool:
        return bool(self._subscribers)

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Add ``callback``; return a function that removes it again."""
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

        return unsubscribe

    def emit(self, event: SupervisorEvent) -> None:
        """Deliver ``event`` to every subscriber, logging (not raising) their errors."""
        for callback in tuple(self._subscribers):
            try:
                callback(event)
            except Exception:
                logger.exception("supervision event subscriber %r failed on %r", callback, event)
