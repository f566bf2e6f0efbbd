"""What both supervisor kinds share: being a child of another supervisor, the event hook, statistics."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import trio

from .events import EventHub, EventKind, ExitClass, Subscriber, SupervisorEvent
from .intensity import RestartIntensity
from .introspection import Counters, SupervisorStatistics
from .spec import ChildSpec, Restart, ShutdownPolicy


class SupervisorBase:
    """Mixin for ``Supervisor`` and ``DynamicSupervisor`` (each sets the attributes annotated here)."""

    name: str
    _events: EventHub
    _counters: Counters
    _intensity: RestartIntensity
    run: Callable[..., Any]

    def child_spec(
        self,
        id: str | None = None,
        *,
        restart: Restart = Restart.PERMANENT,
        shutdown: float | ShutdownPolicy = ShutdownPolicy.INFINITY,
        significant: bool = False,
    ) -> ChildSpec:
        """A spec that runs this supervisor as a child of another (shutdown ``infinity`` by default, as OTP)."""
        return ChildSpec(id or self.name, self.run, restart=restart, shutdown=shutdown, significant=significant)

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback(event)`` for every :class:`~supervision.SupervisorEvent`; returns an unsubscriber."""
        return self._events.subscribe(callback)

    def _emit(
        self,
        kind: EventKind,
        child_id: str | None,
        *,
        exit: ExitClass | None = None,
        error: BaseException | None = None,
    ) -> None:
        if self._events:
            now = trio.current_time()
            self._events.emit(SupervisorEvent(kind, self.name, child_id, now, exit=exit, error=error))

    def _statistics(self, strategy: str, specs: int, active: int, running: bool) -> SupervisorStatistics:
        c = self._counters
        return SupervisorStatistics(
            name=self.name,
            strategy=strategy,
            specs=specs,
            active=active,
            starts=c.starts,
            restarts=c.restarts,
            start_failures=c.start_failures,
            exits_normal=c.exits_normal,
            exits_shutdown=c.exits_shutdown,
            exits_abnormal=c.exits_abnormal,
            abandoned=c.abandoned,
            escalations=c.escalations,
            restarts_in_window=self._intensity.restarts_in_window(trio.current_time()) if running else 0,
            intensity=self._intensity.intensity,
            period=self._intensity.period,
        )
