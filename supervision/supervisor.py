"""The static supervisor: an ordered list of child specs run under one nursery, OTP style.

Theory of operation
-------------------
``Supervisor.run`` opens one nursery and, in its body, starts each child in order with ``nursery.start``.
Each child runs inside a *runner* (:meth:`Supervisor._runner`) that owns the child's ``CancelScope`` and
catches everything the child raises, classifying the end as normal, shutdown or abnormal. Nothing a child
raises reaches the nursery, so Trio never cancels siblings on its own: which siblings stop is the
strategy's decision alone.

The runner's record of the child (a ``_Run``, one per incarnation) doubles as the ``task_status`` the child
sees. When the child calls ``started()`` the record shields its scope, so cancelling the supervisor from
outside does not reach the children at once; instead the supervisor's ``finally`` stops them one at a time
in reverse start order, each within its shutdown timeout, then abandons (loudly) any that will not stop.

Exits travel to one central loop over an unbounded memory channel (``send_nowait`` never blocks, so a
runner can report from a ``finally``). The loop handles one message at a time under a lock shared with
``start_child`` and friends (OTP's gen_server serialisation): restart type, then intensity, then strategy.
A restart whose start fails is queued as a retry message behind the exits already waiting, as OTP does,
and every retry counts toward intensity. Messages from an incarnation the supervisor has already replaced
or stopped are stale and ignored.
"""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

import trio

from ._boundary import open_started, split_exit
from ._common import SupervisorBase
from .errors import (
    ChildRunningError,
    DuplicateChildError,
    FailedToStartChild,
    Shutdown,
    SupervisorClosed,
    SupervisorEscalation,
    UnknownChildError,
)
from .events import EventHub, EventKind, ExitClass
from .intensity import DEFAULT_INTENSITY, DEFAULT_PERIOD, Backoff, RestartIntensity
from .introspection import (
    ChildCounts,
    ChildInfo,
    ChildState,
    Counters,
    SupervisorStatistics,
    SupportsTree,
    child_dict,
)
from .spec import AutoShutdown, ChildSpec, Restart, ShutdownPolicy, Strategy, check_unique

__all__ = ["Supervisor", "open_supervisor"]

logger = logging.getLogger("supervision")

_NEW, _RUNNING, _STOPPING, _STOPPED = "new", "running", "stopping", "stopped"


class _Child:
    """A spec and its current incarnation (``run``), in start order."""

    __slots__ = ("last_error", "restarting", "run", "spec", "value")

    def __init__(self, spec: ChildSpec) -> None:
        self.spec = spec
        self.run: _Run | None = None
        self.restarting = False
        self.value: object = None
        self.last_error: BaseException | None = None


class _Run:
    """One incarnation of a child: its scope, its done event, and the ``task_status`` it is given."""

    __slots__ = ("child", "done", "ready", "scope", "status", "terminating")

    def __init__(self, child: _Child) -> None:
        self.child = child
        self.scope = trio.CancelScope()
        self.done = trio.Event()
        self.status: trio.TaskStatus[Any] | None = None
        self.ready = False
        self.terminating = False

    def started(self, value: object = None) -> None:
        """The child is ready: shield it from outside cancellation and hand ``value`` to ``nursery.start``."""
        if self.ready or self.status is None:
            raise RuntimeError("called 'started' twice on the same task status")
        status, self.status = self.status, None
        self.ready = True
        self.child.value = value
        status.started(value)
        # Trio leaves the task where it was if the starter was cancelled meanwhile (see trio #1431); shield
        # only a child that really moved into the supervisor's nursery, or that starter would never return.
        if trio.lowlevel.current_task().eventual_parent_nursery is None:
            self.scope.shield = True


class _Exit:
    __slots__ = ("error", "exit_class", "run")

    def __init__(self, run: _Run, exit_class: ExitClass, error: BaseException | None) -> None:
        self.run = run
        self.exit_class = exit_class
        self.error = error


class _Retry:
    __slots__ = ("child",)

    def __init__(self, child: _Child) -> None:
        self.child = child


_Message = _Exit | _Retry


def _wants_restart(restart: Restart, exit_class: ExitClass) -> bool:
    if restart is Restart.PERMANENT:
        return True
    return restart is Restart.TRANSIENT and exit_class is ExitClass.ABNORMAL


class Supervisor(SupervisorBase):
    """OTP's supervisor for a fixed, ordered set of children (one_for_one, one_for_all, rest_for_one).

    Args:
        children: the child specs, in start order. Ids must be unique.
        strategy: which siblings restart with a child that ended.
        intensity: restarts tolerated within ``period`` seconds, supervisor-wide (OTP default 1).
        period: the intensity window in seconds (OTP default 5).
        auto_shutdown: whether significant children ending ends the supervisor.
        backoff: optional delay before restarts; ``None`` (the default) restarts at once, as OTP does.
        name: for logs, events and the tree dump.

    Raises:
        DuplicateChildError: two specs share an id.
    """

    def __init__(
        self,
        children: Iterable[ChildSpec] = (),
        *,
        strategy: Strategy = Strategy.ONE_FOR_ONE,
        intensity: int = DEFAULT_INTENSITY,
        period: float = DEFAULT_PERIOD,
        auto_shutdown: AutoShutdown = AutoShutdown.NEVER,
        backoff: Backoff | None = None,
        name: str = "supervisor",
    ) -> None:
        self._specs = tuple(children)
        check_unique(self._specs)
        self.name = name
        self.strategy = Strategy(strategy)
        self.auto_shutdown = AutoShutdown(auto_shutdown)
        self._backoff = backoff
        RestartIntensity(intensity, period)  # validate now, not at run time
        self._intensity_args = (intensity, period)
        self._intensity = RestartIntensity(intensity, period)
        self._children = [_Child(spec) for spec in self._specs]
        self._events = EventHub()
        self._counters = Counters()
        self._state = _NEW
        self._nursery: trio.Nursery | None = None
        self._send: trio.MemorySendChannel[_Message] | None = None
        self._lock = trio.Lock()
        self._starting: set[_Run] = set()

    def __repr__(self) -> str:
        return f"<Supervisor {self.name!r} {self.strategy.value} {self._state}>"

    # ----------------------------------------------------------------------------------------- running
    async def run(self, *, task_status: trio.TaskStatus[Supervisor] = trio.TASK_STATUS_IGNORED) -> None:
        """Start every child in order, report ready with ``self``, then supervise until stopped.

        Returns normally when ``auto_shutdown`` ends the supervisor. Cancel the caller to stop it: the
        children are then stopped in reverse start order. May be run again after it has ended (that is
        how a parent restarts it): each run starts from the original specs and an empty intensity window.

        Raises:
            FailedToStartChild: a child failed during the ordered start (the started ones were stopped).
            SupervisorEscalation: restart intensity was exceeded (all children were stopped first).
            RuntimeError: the supervisor is already running.
        """
        if self._state in (_RUNNING, _STOPPING):
            raise RuntimeError(f"supervisor {self.name!r} is already running")
        self._reset()
        send, receive = trio.open_memory_channel[_Message](math.inf)
        self._send = send
        failure: FailedToStartChild | SupervisorEscalation | None = None
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            self._state = _RUNNING
            try:
                async with self._lock:
                    for child in list(self._children):
                        await self._launch(child, EventKind.STARTED)
                task_status.started(self)
                await self._supervise(receive)
            except (FailedToStartChild, SupervisorEscalation) as exc:
                failure = exc
            finally:
                with trio.CancelScope(shield=True):
                    await self._stop_all()
        self._nursery = None
        if failure is not None:
            raise failure

    def _reset(self) -> None:
        self._children = [_Child(spec) for spec in self._specs]
        self._intensity = RestartIntensity(*self._intensity_args)
        self._starting.clear()

    async def _stop_all(self) -> None:
        self._state = _STOPPING
        for run in list(self._starting):
            run.terminating = True
            run.scope.cancel()
        async with self._lock:
            await self._terminate(self._children)
            self._state = _STOPPED

    # ------------------------------------------------------------------------------------ child runner
    async def _runner(self, run: _Run, *, task_status: trio.TaskStatus[Any]) -> None:
        run.status = task_status
        del task_status  # the record now owns it; do not keep trio's start machinery alive with the child
        spec = run.child.spec
        error: BaseException | None = None
        try:
            with run.scope:
                await spec.start(task_status=run)
            if not run.ready:
                if run.scope.cancelled_caught:
                    raise SupervisorClosed(f"supervisor {self.name!r} stopped while {spec.id!r} was starting")
                raise RuntimeError(f"child {spec.id!r} returned without calling task_status.started()")
            exit_class = ExitClass.SHUTDOWN if run.scope.cancelled_caught else ExitClass.NORMAL
        except BaseException as exc:
            failure, passing = split_exit(exc)
            if failure is None or not run.ready:
                raise
            exit_class = ExitClass.SHUTDOWN if isinstance(failure, Shutdown) else ExitClass.ABNORMAL
            if passing is not None:  # failed while being cancelled: count the failure, let the cancellation go on
                run.done.set()
                self._exited(run, exit_class, failure)
                raise passing from None
            error = failure
        finally:
            run.done.set()
        self._exited(run, exit_class, error)

    def _exited(self, run: _Run, exit_class: ExitClass, error: BaseException | None) -> None:
        child_id = run.child.spec.id
        self._counters.count_exit(exit_class)
        if exit_class is ExitClass.ABNORMAL:
            logger.error(
                "child %r of supervisor %r exited abnormally%s",
                child_id,
                self.name,
                " while being stopped" if run.terminating else "",
                exc_info=error,
            )
        else:
            logger.debug("child %r of supervisor %r exited (%s)", child_id, self.name, exit_class.value)
        self._emit(EventKind.EXITED, child_id, exit=exit_class, error=error)
        if not run.terminating and self._send is not None:
            self._send.send_nowait(_Exit(run, exit_class, error))

    # ------------------------------------------------------------------------------- starting/stopping
    async def _launch(self, child: _Child, kind: EventKind, *, log_failure: bool = True) -> object:
        """Start one incarnation of ``child`` and wait for it to report ready.

        A failure is logged unless the caller asked for this start and receives the error itself
        (``start_child``/``restart_child``: OTP returns ``{error, Reason}`` there rather than reporting).

        Raises:
            FailedToStartChild: it raised or returned first.
            SupervisorClosed: the supervisor began stopping while it was starting.
        """
        assert self._nursery is not None
        run = _Run(child)
        child.run = run
        self._starting.add(run)
        try:
            value = await self._nursery.start(self._runner, run, name=f"{self.name}/{child.spec.id}")
        except SupervisorClosed:
            child.run = None
            raise
        except BaseException as exc:
            child.run = None
            failure, passing = split_exit(exc)
            if failure is None or passing is not None:
                raise
            child.last_error = failure
            self._counters.start_failures += 1
            if log_failure:
                logger.error("child %r of supervisor %r failed to start", child.spec.id, self.name, exc_info=failure)
            self._emit(EventKind.START_FAILED, child.spec.id, error=failure)
            raise FailedToStartChild(child.spec.id, failure) from failure
        finally:
            self._starting.discard(run)
        child.restarting = False
        self._counters.starts += 1
        if kind is EventKind.RESTARTED:
            self._counters.restarts += 1
        self._emit(kind, child.spec.id)
        return value

    async def _stop(self, run: _Run) -> None:
        """Cancel one incarnation and wait for it per its shutdown setting; abandon it loudly on timeout."""
        run.terminating = True
        run.scope.cancel()
        if run.done.is_set():
            return
        shutdown = run.child.spec.shutdown
        if isinstance(shutdown, ShutdownPolicy):
            await run.done.wait()
            return
        with trio.move_on_after(shutdown):
            await run.done.wait()
        if not run.done.is_set():
            self._counters.abandoned += 1
            logger.error(
                "child %r of supervisor %r did not stop within %gs of being cancelled (does it shield itself "
                "or never checkpoint?); abandoning it: it keeps running and its nursery still waits for it",
                run.child.spec.id,
                self.name,
                shutdown,
            )
            self._emit(EventKind.ABANDONED, run.child.spec.id)

    async def _terminate(self, children: list[_Child]) -> None:
        """Stop ``children`` in reverse start order; temporary ones are dropped, the rest kept as stopped."""
        for child in reversed(children):
            run, child.run = child.run, None
            child.restarting = False
            if run is not None:
                await self._stop(run)
            if child.spec.restart is Restart.TEMPORARY and child in self._children:
                self._children.remove(child)

    # ------------------------------------------------------------------------------------ central loop
    async def _supervise(self, receive: trio.MemoryReceiveChannel[_Message]) -> None:
        async for message in receive:
            async with self._lock:
                if await self._handle(message):
                    return

    async def _handle(self, message: _Message) -> bool:
        """Apply OTP's rules to one message; True means auto_shutdown ends the supervisor."""
        if isinstance(message, _Retry):
            child = message.child
            if child in self._children and child.restarting and child.run is None:
                await self._restart(child, child.last_error)
            return False
        run = message.run
        child = run.child
        if child.run is not run:
            return False  # stale: this incarnation was already replaced or stopped by us
        child.run = None
        if _wants_restart(child.spec.restart, message.exit_class):
            await self._restart(child, message.error)
            return False
        if child.spec.restart is Restart.TEMPORARY:
            self._children.remove(child)
        if self._auto_shutdown_due(child):
            logger.info("supervisor %r shutting down: significant child %r ended", self.name, child.spec.id)
            self._emit(EventKind.AUTO_SHUTDOWN, child.spec.id)
            return True
        return False

    def _auto_shutdown_due(self, ended: _Child) -> bool:
        if self.auto_shutdown is AutoShutdown.NEVER or not ended.spec.significant:
            return False
        if self.auto_shutdown is AutoShutdown.ANY_SIGNIFICANT:
            return True
        return not any(c.spec.significant and c.run is not None for c in self._children)

    async def _restart(self, child: _Child, error: BaseException | None) -> None:
        now = trio.current_time()
        recent = self._intensity.restarts_in_window(now)
        if not self._intensity.add_restart(now):
            self._escalate(child, error)
        if self._backoff is not None:
            await trio.sleep(self._backoff.delay(recent))
        if self.strategy is Strategy.ONE_FOR_ONE:
            targets = [child]
        elif self.strategy is Strategy.ONE_FOR_ALL:
            targets = list(self._children)
        else:
            targets = self._children[self._children.index(child) :]
        await self._terminate(targets)
        for target in targets:
            if target not in self._children:
                continue  # a temporary sibling: stopped and dropped, never restarted
            try:
                await self._launch(target, EventKind.RESTARTED)
            except FailedToStartChild:
                target.restarting = True
                assert self._send is not None
                self._send.send_nowait(_Retry(target))
                return

    def _escalate(self, child: _Child, error: BaseException | None) -> None:
        self._counters.escalations += 1
        intensity, period = self._intensity_args
        escalation = SupervisorEscalation(self.name, child.spec.id, intensity + 1, period)
        escalation.__cause__ = error
        logger.error("%s", escalation)
        self._emit(EventKind.ESCALATED, child.spec.id, error=error)
        raise escalation

    # --------------------------------------------------------------------------------------- public ops
    def _require_running(self) -> None:
        if self._state != _RUNNING:
            raise SupervisorClosed(f"supervisor {self.name!r} is not running ({self._state})")

    def _find(self, child_id: str) -> _Child:
        for child in self._children:
            if child.spec.id == child_id:
                return child
        raise UnknownChildError(child_id)

    async def start_child(self, spec: ChildSpec) -> object:
        """Add ``spec`` after the existing children and start it; return its ready value.

        Raises:
            DuplicateChildError: the id is already present (running or not).
            FailedToStartChild: it failed before reporting ready (the spec is not kept).
            SupervisorClosed: the supervisor is not running.
        """
        self._require_running()
        async with self._lock:
            self._require_running()
            if any(child.spec.id == spec.id for child in self._children):
                raise DuplicateChildError(f"duplicate child id {spec.id!r}")
            child = _Child(spec)
            self._children.append(child)
            try:
                return await self._launch(child, EventKind.STARTED, log_failure=False)
            except BaseException:
                self._children.remove(child)
                raise

    async def terminate_child(self, child_id: str) -> None:
        """Stop a child per its shutdown setting without restarting it; keep its spec unless temporary.

        Runs shielded: once asked, the stop completes (bounded by the child's shutdown timeout).

        Raises:
            UnknownChildError: no child has that id.
            SupervisorClosed: the supervisor is not running.
        """
        self._require_running()
        async with self._lock:
            child = self._find(child_id)
            with trio.CancelScope(shield=True):
                await self._terminate([child])

    async def restart_child(self, child_id: str) -> object:
        """Start a stopped child again (OTP's ``restart_child``); return its ready value.

        Raises:
            UnknownChildError: no child has that id.
            ChildRunningError: it is running, or a restart of it is pending.
            FailedToStartChild: it failed before reporting ready.
            SupervisorClosed: the supervisor is not running.
        """
        self._require_running()
        async with self._lock:
            child = self._find(child_id)
            if child.run is not None or child.restarting:
                raise ChildRunningError(f"child {child_id!r} is running")
            return await self._launch(child, EventKind.STARTED, log_failure=False)

    async def delete_child(self, child_id: str) -> None:
        """Forget a stopped child's spec (OTP's ``delete_child``).

        Raises:
            UnknownChildError: no child has that id.
            ChildRunningError: it is running, or a restart of it is pending.
        """
        async with self._lock:
            child = self._find(child_id)
            if child.run is not None or child.restarting:
                raise ChildRunningError(f"child {child_id!r} is running")
            self._children.remove(child)

    # ------------------------------------------------------------------------------------ introspection
    def _info(self, child: _Child) -> ChildInfo:
        run = child.run
        if run is not None:
            state = ChildState.RUNNING if run.ready else ChildState.STARTING
            if run.terminating:
                state = ChildState.STOPPING
        else:
            state = ChildState.RESTARTING if child.restarting else ChildState.STOPPED
        value = child.value if run is not None and run.ready else None
        return ChildInfo(
            id=child.spec.id,
            state=state,
            restart=child.spec.restart,
            shutdown=child.spec.shutdown,
            significant=child.spec.significant,
            supervisor=isinstance(value, SupportsTree),
            value=value,
        )

    def which_children(self) -> list[ChildInfo]:
        """Every child spec held, in start order, with its state (OTP's ``which_children``)."""
        return [self._info(child) for child in self._children]

    def count_children(self) -> ChildCounts:
        """OTP's ``count_children``."""
        infos = self.which_children()
        active = [i for i in infos if i.state in (ChildState.RUNNING, ChildState.STOPPING)]
        supervisors = sum(1 for i in active if i.supervisor)
        return ChildCounts(len(infos), len(active), supervisors, len(active) - supervisors)

    def statistics(self) -> SupervisorStatistics:
        """Counters and current figures as an immutable record."""
        counts = self.count_children()
        running = self._state in (_RUNNING, _STOPPING)
        return self._statistics(self.strategy.value, counts.specs, counts.active, running)

    def tree(self, *, limit: int = 100) -> dict[str, Any]:
        """This supervisor and its subtree as JSON-able data (for the CLI and /health).

        Args:
            limit: at most this many children listed per supervisor; the rest are counted.
        """
        children = self.which_children()
        return {
            "name": self.name,
            "type": "supervisor",
            "strategy": self.strategy.value,
            "state": self._state,
            "statistics": self.statistics().as_dict(),
            "children": [child_dict(info, limit) for info in children[:limit]],
            "omitted_children": max(0, len(children) - limit),
        }


@asynccontextmanager
async def open_supervisor(
    children: Iterable[ChildSpec] = (),
    *,
    strategy: Strategy = Strategy.ONE_FOR_ONE,
    intensity: int = DEFAULT_INTENSITY,
    period: float = DEFAULT_PERIOD,
    auto_shutdown: AutoShutdown = AutoShutdown.NEVER,
    backoff: Backoff | None = None,
    name: str = "supervisor",
) -> AsyncIterator[Supervisor]:
    """Run a :class:`Supervisor` for the duration of the block; leaving the block stops it in order.

    If the supervisor escalates, the block is cancelled and the escalation is raised on its own (not inside
    an ExceptionGroup). Arguments are those of :class:`Supervisor`.
    """
    supervisor = Supervisor(
        children,
        strategy=strategy,
        intensity=intensity,
        period=period,
        auto_shutdown=auto_shutdown,
        backoff=backoff,
        name=name,
    )
    async with open_started(supervisor.run):
        yield supervisor
