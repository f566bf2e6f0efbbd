"""The dynamic supervisor: OTP's ``simple_one_for_one``, built for 100K per-connection children.

Theory of operation
-------------------
Every child is one task in the supervisor's single nursery plus one :class:`ChildHandle`: a slotted record
that is at once the handle ``start_child`` returns, the ``task_status`` the child is given and the owner
of the child's ``CancelScope``. There is no nursery, event, channel or wrapper object per child; a
``trio.Event`` is made only when someone waits for that one child to stop (``terminate_child``).

There is no central loop either. A child's runner decides on its restart inline, synchronously, the moment
the child ends (restart type, then the supervisor-wide intensity window): with no checkpoint between the
exit and the decision, Trio's cooperative scheduling makes that as atomic as OTP's gen_server. A restart
runs in the same task. Exceeding intensity records the escalation and wakes ``run``, which stops every
child and raises it.

Shutdown is parallel, as in OTP: cancel every child's scope, wait once (up to the shared shutdown timeout)
for the registry to empty, then abandon whatever is left, loudly.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import trio

from ._boundary import open_started, split_exit
from ._common import SupervisorBase
from .errors import (
    FailedToStartChild,
    MaxChildrenError,
    Shutdown,
    SupervisorClosed,
    SupervisorEscalation,
    UnknownChildError,
)
from .events import EventHub, EventKind, ExitClass
from .intensity import DEFAULT_INTENSITY, DEFAULT_PERIOD, Backoff, RestartIntensity
from .introspection import ChildCounts, ChildInfo, ChildState, Counters, SupervisorStatistics, child_dict
from .spec import DEFAULT_SHUTDOWN, Restart, ShutdownPolicy, check_shutdown

__all__ = ["ChildHandle", "DynamicSupervisor", "open_dynamic_supervisor"]

logger = logging.getLogger("supervision")

# ChildHandle._state bits (an int rather than three bool slots: it is per child).
_READY, _STOPPING, _EXITED = 1, 2, 4

_NEW, _RUNNING, _CLOSING, _CLOSED = "new", "running", "stopping", "stopped"


class ChildHandle:
    """One dynamic child: returned by ``start_child``, accepted by ``terminate_child``.

    It is also the ``task_status`` the child's function receives (``started()`` is its only method for
    the child), which is how readiness is observed without a wrapper object.

    Attributes:
        serial: a number unique within its supervisor, in start order.
        value: what the child passed to ``task_status.started()``.
    """

    __slots__ = (
        "_args",
        "_fn",
        "_next",
        "_owner",
        "_prev",
        "_scope",
        "_state",
        "_status",
        "_waiter",
        "serial",
        "value",
    )

    def __init__(
        self,
        owner: DynamicSupervisor,
        serial: int,
        fn: Callable[..., Awaitable[object]],
        args: tuple[object, ...],
        scope: trio.CancelScope | None,
    ) -> None:
        self._owner = owner
        self.serial = serial
        self._fn = fn
        self._args = args
        self._scope = scope
        self._state = 0
        self._status: trio.TaskStatus[Any] | None = None
        self._waiter: trio.Event | None = None
        self.value: object = None
        self._prev: ChildHandle | None = None
        self._next: ChildHandle | None = None

    @property
    def id(self) -> str:
        """``"#<serial>"``, the child id used in logs, events and dumps."""
        return f"#{self.serial}"

    @property
    def running(self) -> bool:
        """True from ``started()`` until the child has ended."""
        return self._state & (_READY | _EXITED) == _READY

    def __repr__(self) -> str:
        return f"<ChildHandle {self.id} of {self._owner.name!r} running={self.running}>"

    def describe(self) -> str:
        """The id, followed by the ready value when there is one (how logs name the child)."""
        value = self.value
        if value is None:
            return self.id
        try:
            shown = repr(value)
        except Exception:  # noqa: BLE001 - a value whose repr fails must not break the log line about its failure
            shown = f"<{type(value).__name__}>"
        return f"{self.id} ({shown})"

    async def wait(self) -> None:
        """Wait until the child has ended (returns at once if it already has)."""
        if self._state & _EXITED:
            await trio.lowlevel.checkpoint()
            return
        if self._waiter is None:
            self._waiter = trio.Event()
        await self._waiter.wait()

    def cancel(self) -> None:
        """Ask the child to stop, without waiting for it (``terminate_child`` waits); it is never restarted.

        Raises:
            RuntimeError: the supervisor was made with ``terminable=False`` (children have no scope of their own).
        """
        if self._scope is None:
            raise RuntimeError(f"supervisor {self._owner.name!r} was made with terminable=False")
        self._state |= _STOPPING
        self._scope.cancel()

    def started(self, value: object = None) -> None:
        """Called by the child when it is ready (the ``task_status`` protocol)."""
        if self._state & _READY:
            raise RuntimeError("called 'started' twice on the same task status")
        self._state |= _READY
        self.value = value
        status, self._status = self._status, None
        if status is not None:
            status.started(value)
            # If the starter was cancelled meanwhile, Trio leaves the task under it (trio #1431): leave the
            # scope unshielded so that cancellation can still end it and ``start`` can return.
            if trio.lowlevel.current_task().eventual_parent_nursery is not None:
                return
        if self._scope is not None:
            self._scope.shield = True
        self._owner._ready(self, restarted=status is None)


class _Registry:
    """The live children in start order: an intrusive doubly linked list through the handles.

    Cheaper per child than a dict or set entry, O(1) to add and remove, and ordered for ``which_children``.
    """

    __slots__ = ("_count", "_first", "_last")

    def __init__(self) -> None:
        self._first: ChildHandle | None = None
        self._last: ChildHandle | None = None
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def __contains__(self, handle: ChildHandle) -> bool:
        return handle._prev is not None or self._first is handle

    def __iter__(self) -> Iterator[ChildHandle]:
        handle = self._first
        while handle is not None:
            following = handle._next
            yield handle
            handle = following

    def add(self, handle: ChildHandle) -> None:
        handle._prev = self._last
        if self._last is None:
            self._first = handle
        else:
            self._last._next = handle
        self._last = handle
        self._count += 1

    def discard(self, handle: ChildHandle) -> None:
        if handle not in self:
            return
        if handle._prev is None:
            self._first = handle._next
        else:
            handle._prev._next = handle._next
        if handle._next is None:
            self._last = handle._prev
        else:
            handle._next._prev = handle._prev
        handle._prev = handle._next = None
        self._count -= 1


class DynamicSupervisor(SupervisorBase):
    """Many children of one kind started on demand; OTP's ``simple_one_for_one``.

    Args:
        name: for logs, events and the tree dump.
        max_children: ``start_child`` beyond this many live children raises :class:`MaxChildrenError`.
        restart: the restart type of every child; temporary (the default) suits per-connection children.
        shutdown: how long the parallel shutdown waits after cancelling all children, or a policy.
        intensity: restarts tolerated within ``period`` (only permanent/transient children restart).
        period: the intensity window in seconds.
        backoff: optional delay before restarts.
        terminable: give each child its own ``CancelScope`` so ``terminate_child`` can stop it alone.
            ``False`` saves about 700 bytes per child (Trio's scope and its cancel status) for temporary
            children that end by themselves: ``terminate_child`` then raises ``RuntimeError``, and shutdown
            cancels every child at once through the nursery.
    """

    def __init__(
        self,
        *,
        name: str = "dynamic_supervisor",
        max_children: int | None = None,
        restart: Restart = Restart.TEMPORARY,
        shutdown: float | ShutdownPolicy = DEFAULT_SHUTDOWN,
        intensity: int = DEFAULT_INTENSITY,
        period: float = DEFAULT_PERIOD,
        backoff: Backoff | None = None,
        terminable: bool = True,
    ) -> None:
        if not terminable and restart is not Restart.TEMPORARY:
            raise ValueError("terminable=False is only for temporary children (restarts need a scope each)")
        if max_children is not None and max_children < 0:
            raise ValueError(f"max_children must be >= 0 or None, not {max_children!r}")
        check_shutdown(shutdown)
        self.name = name
        self.max_children = max_children
        self.restart = Restart(restart)
        self.shutdown = shutdown
        self.terminable = terminable
        self._backoff = backoff
        self._intensity_args = (intensity, period)
        self._intensity = RestartIntensity(intensity, period)
        self._children = _Registry()
        self._serials = itertools.count(1)
        self._events = EventHub()
        self._counters = Counters()
        self._state = _NEW
        self._nursery: trio.Nursery | None = None
        self._escalated = trio.Event()
        self._escalation: SupervisorEscalation | None = None
        self._all_gone: trio.Event | None = None
        # One shared name string: trio would otherwise format a fresh one for every child task.
        self._task_name = f"supervision:{name}"
        if not terminable:
            self._runner_fn = self._run_unscoped
        elif self.restart is Restart.TEMPORARY:
            self._runner_fn = self._run_temporary
        else:
            self._runner_fn = self._runner

    def __repr__(self) -> str:
        return f"<DynamicSupervisor {self.name!r} children={len(self._children)} {self._state}>"

    def __len__(self) -> int:
        return len(self._children)

    # ----------------------------------------------------------------------------------------- running
    async def run(self, *, task_status: trio.TaskStatus[DynamicSupervisor] = trio.TASK_STATUS_IGNORED) -> None:
        """Report ready with ``self`` and supervise until cancelled; then stop every child in parallel.

        Raises:
            SupervisorEscalation: restart intensity was exceeded (all children were stopped first).
            RuntimeError: the supervisor is already running.
        """
        if self._state in (_RUNNING, _CLOSING):
            raise RuntimeError(f"supervisor {self.name!r} is already running")
        self._intensity = RestartIntensity(*self._intensity_args)
        self._escalated = trio.Event()
        self._escalation = None
        self._all_gone = None
        failure: SupervisorEscalation | None = None
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            self._state = _RUNNING
            try:
                task_status.started(self)
                await self._escalated.wait()
                failure = self._escalation
            finally:
                with trio.CancelScope(shield=True):
                    await self._stop_all()
        self._nursery = None
        if failure is not None:
            raise failure

    async def _stop_all(self) -> None:
        self._state = _CLOSING
        if not self.terminable and self._nursery is not None:
            self._nursery.cancel_scope.cancel()  # no per-child scopes: cancel them all at once
        for handle in list(self._children):
            handle._state |= _STOPPING
            if handle._scope is not None:
                handle._scope.cancel()
        if self._children:
            self._all_gone = gone = trio.Event()
            if isinstance(self.shutdown, ShutdownPolicy):
                await gone.wait()
            else:
                with trio.move_on_after(self.shutdown):
                    await gone.wait()
            if self._children:
                self._abandon(list(self._children))
        self._state = _CLOSED

    def _abandon(self, handles: list[ChildHandle]) -> None:
        self._counters.abandoned += len(handles)
        shown = ", ".join(handle.id for handle in handles[:10])
        logger.error(
            "%d children of supervisor %r did not stop within %s of being cancelled (do they shield "
            "themselves or never checkpoint?); abandoning them: %s%s",
            len(handles),
            self.name,
            f"{self.shutdown:g}s" if not isinstance(self.shutdown, ShutdownPolicy) else self.shutdown.value,
            shown,
            ", ..." if len(handles) > 10 else "",
        )
        if self._events:
            for handle in handles:
                self._emit(EventKind.ABANDONED, handle.id)

    # ------------------------------------------------------------------------------------ child runner
    async def _run_temporary(self, handle: ChildHandle, *, task_status: trio.TaskStatus[Any]) -> None:
        """The runner for temporary children: no restart loop and few locals, as its frame is per child."""
        handle._status = task_status
        del task_status  # the handle owns it until started(); then trio's start machinery can be freed
        try:
            assert handle._scope is not None
            with handle._scope:
                await handle._fn(*handle._args, task_status=handle)
        except BaseException as exc:
            if not handle._state & _READY:
                raise
            self._account(handle, exc)
        else:
            if not handle._state & _READY:
                raise self._not_ready(handle)
            self._restart_delay(
                handle, ExitClass.SHUTDOWN if handle._scope.cancelled_caught else ExitClass.NORMAL, None
            )
        finally:
            self._forget(handle)

    async def _run_unscoped(self, handle: ChildHandle, *, task_status: trio.TaskStatus[Any]) -> None:
        """The runner for ``terminable=False``: no CancelScope at all; shutdown cancels the nursery."""
        handle._status = task_status
        del task_status
        try:
            await handle._fn(*handle._args, task_status=handle)
        except BaseException as exc:
            if not handle._state & _READY:
                raise
            self._account(handle, exc)
        else:
            if not handle._state & _READY:
                raise self._not_ready(handle)
            self._restart_delay(handle, ExitClass.NORMAL, None)
        finally:
            self._forget(handle)

    async def _run_spawned(self, handle: ChildHandle) -> None:
        """The runner for ``start_child_nowait``: the child counted as started when it was spawned."""
        try:
            scope = handle._scope
            if scope is None:
                await handle._fn(*handle._args)
            else:
                with scope:
                    await handle._fn(*handle._args)
                if scope.cancelled_caught:
                    self._restart_delay(handle, ExitClass.SHUTDOWN, None)
                    return
        except BaseException as exc:  # noqa: BLE001 - _account re-raises what must propagate
            self._account(handle, exc)
        else:
            self._restart_delay(handle, ExitClass.NORMAL, None)
        finally:
            self._forget(handle)

    def _account(self, handle: ChildHandle, exc: BaseException) -> None:
        """Count what a ready temporary child raised, then re-raise what must keep propagating.

        A failure (any exception, ``BaseException`` subclasses included) is its abnormal exit and goes no
        further, so one child can never take its siblings down; cancellation and ``KeyboardInterrupt`` /
        ``SystemExit`` propagate after being counted as a shutdown.
        """
        failure, passing = split_exit(exc)
        if failure is not None:
            self._restart_delay(
                handle, ExitClass.SHUTDOWN if isinstance(failure, Shutdown) else ExitClass.ABNORMAL, failure
            )
        elif isinstance(passing, trio.Cancelled):
            self._restart_delay(handle, ExitClass.SHUTDOWN, None)
        if passing is not None:
            raise passing

    def _not_ready(self, handle: ChildHandle) -> Exception:
        if handle._scope is not None and handle._scope.cancelled_caught:
            return SupervisorClosed(f"supervisor {self.name!r} stopped while child {handle.id} was starting")
        return RuntimeError(f"child {handle.id} returned without calling task_status.started()")

    async def _runner(self, handle: ChildHandle, *, task_status: trio.TaskStatus[Any]) -> None:
        """The runner for permanent and transient children: restarts run in the same task."""
        handle._status = task_status
        del task_status  # the handle owns it until started(); then trio's start machinery can be freed
        first = True
        delay = 0.0
        try:
            while True:
                scope = handle._scope
                assert scope is not None
                error: BaseException | None = None
                exit_class: ExitClass | None = None  # None: ended before ready (a failed start)
                try:
                    with scope:
                        if delay:
                            await trio.sleep(delay)
                        await handle._fn(*handle._args, task_status=handle)
                    if handle._state & _READY:
                        exit_class = ExitClass.SHUTDOWN if scope.cancelled_caught else ExitClass.NORMAL
                    elif first:
                        raise self._not_ready(handle)
                    else:
                        error = self._not_ready(handle)
                except BaseException as exc:
                    failure, passing = split_exit(exc)
                    if passing is not None or (first and not handle._state & _READY):
                        if failure is not None and passing is not None and handle._state & _READY:
                            self._restart_delay(handle, ExitClass.ABNORMAL, failure)
                        raise
                    kind = ExitClass.SHUTDOWN if isinstance(failure, Shutdown) else ExitClass.ABNORMAL
                    exit_class = kind if handle._state & _READY else None
                    error = failure
                first = False
                next_delay = self._restart_delay(handle, exit_class, error)
                if next_delay is None:
                    return
                delay = next_delay
                handle._scope = trio.CancelScope(shield=True)
                handle._state = 0
        finally:
            self._forget(handle)

    def _restart_delay(
        self, handle: ChildHandle, exit_class: ExitClass | None, error: BaseException | None
    ) -> float | None:
        """Account for an ended child; return the backoff before restarting it, or None for no restart."""
        stopping = handle._state & _STOPPING or self._state != _RUNNING
        if exit_class is None:
            if stopping:
                return None
            self._counters.start_failures += 1
            logger.error("restart of child %s of supervisor %r failed", handle.describe(), self.name, exc_info=error)
            self._emit(EventKind.START_FAILED, handle.id, error=error)
            wanted = True  # OTP retries a failed restart whatever the restart type
        else:
            self._counters.count_exit(exit_class)
            if exit_class is ExitClass.ABNORMAL:
                logger.error(
                    "child %s of supervisor %r exited abnormally%s",
                    handle.describe(),
                    self.name,
                    " while being stopped" if stopping else "",
                    exc_info=error,
                )
            self._emit(EventKind.EXITED, handle.id, exit=exit_class, error=error)
            restart = self.restart
            wanted = restart is Restart.PERMANENT or (restart is Restart.TRANSIENT and exit_class is ExitClass.ABNORMAL)
        if not wanted or stopping:
            return None
        now = trio.current_time()
        recent = self._intensity.restarts_in_window(now)
        if not self._intensity.add_restart(now):
            self._counters.escalations += 1
            intensity, period = self._intensity_args
            escalation = SupervisorEscalation(self.name, handle.id, intensity + 1, period)
            escalation.__cause__ = error
            logger.error("%s", escalation)
            self._emit(EventKind.ESCALATED, handle.id, error=error)
            if self._escalation is None:
                self._escalation = escalation
                self._escalated.set()
            return None
        return self._backoff.delay(recent) if self._backoff is not None else 0.0

    def _ready(self, handle: ChildHandle, *, restarted: bool) -> None:
        self._counters.starts += 1
        if restarted:
            self._counters.restarts += 1
            self._emit(EventKind.RESTARTED, handle.id)
        else:
            self._emit(EventKind.STARTED, handle.id)

    def _forget(self, handle: ChildHandle) -> None:
        handle._state |= _EXITED
        self._children.discard(handle)
        if handle._waiter is not None:
            handle._waiter.set()
        if not self._children and self._all_gone is not None:
            self._all_gone.set()

    # --------------------------------------------------------------------------------------- public ops
    async def start_child(self, fn: Callable[..., Awaitable[object]], *args: object) -> ChildHandle:
        """Run ``fn(*args, task_status=...)`` as a new child and wait until it reports ready.

        Returns:
            The child's handle (its ready value is ``handle.value``).

        Raises:
            MaxChildrenError: ``max_children`` children are already live.
            FailedToStartChild: it raised or returned before calling ``task_status.started()``.
            SupervisorClosed: the supervisor is not running.
        """
        if self._state != _RUNNING or self._nursery is None:
            raise SupervisorClosed(f"supervisor {self.name!r} is not running ({self._state})")
        if self.max_children is not None and len(self._children) >= self.max_children:
            raise MaxChildrenError(f"supervisor {self.name!r} already has max_children={self.max_children}")
        scope = trio.CancelScope() if self.terminable else None
        handle = ChildHandle(self, next(self._serials), fn, args, scope)
        self._children.add(handle)
        try:
            await self._nursery.start(self._runner_fn, handle, name=self._task_name)
        except SupervisorClosed:
            raise
        except BaseException as exc:
            failure, passing = split_exit(exc)
            if failure is None or passing is not None:
                raise
            self._counters.start_failures += 1
            self._emit(EventKind.START_FAILED, handle.id, error=failure)
            raise FailedToStartChild(handle.id, failure) from failure
        return handle

    def start_child_nowait(
        self, fn: Callable[..., Awaitable[object]], *args: object, value: object = None
    ) -> ChildHandle:
        """Run ``fn(*args)`` as a new child at once, with no readiness handshake; return its handle.

        For temporary children that are ready the moment they exist (a connection, a request): it is counted
        as started now and ``fn`` gets no ``task_status``. ``value`` stands for what ``started()`` would have
        passed (it names the child in logs). Cheaper than ``start_child``: no ``nursery.start`` round trip.

        Raises:
            MaxChildrenError: ``max_children`` children are already live.
            SupervisorClosed: the supervisor is not running.
            RuntimeError: the supervisor's children are not temporary (a restart needs the handshake).
        """
        if self._state != _RUNNING or self._nursery is None:
            raise SupervisorClosed(f"supervisor {self.name!r} is not running ({self._state})")
        if self.restart is not Restart.TEMPORARY:
            raise RuntimeError("start_child_nowait is for temporary children (a restart needs task_status)")
        if self.max_children is not None and len(self._children) >= self.max_children:
            raise MaxChildrenError(f"supervisor {self.name!r} already has max_children={self.max_children}")
        scope = trio.CancelScope(shield=True) if self.terminable else None
        handle = ChildHandle(self, next(self._serials), fn, args, scope)
        handle._state = _READY
        handle.value = value
        self._children.add(handle)
        self._nursery.start_soon(self._run_spawned, handle, name=self._task_name)
        self._counters.starts += 1
        if self._events:
            self._emit(EventKind.STARTED, handle.id)
        return handle

    async def terminate_child(self, handle: ChildHandle) -> None:
        """Cancel one child and wait for it (up to ``shutdown``, then abandon it loudly); never restarted.

        Runs shielded: once asked, the stop completes (bounded by the shutdown timeout).

        Raises:
            UnknownChildError: the handle is not a live child of this supervisor.
        """
        if handle._owner is not self or handle not in self._children:
            raise UnknownChildError(handle.id)
        if handle._scope is None:
            raise RuntimeError(f"supervisor {self.name!r} was made with terminable=False")
        handle._state |= _STOPPING
        handle._scope.cancel()
        if handle._state & _EXITED:
            return
        if handle._waiter is None:
            handle._waiter = trio.Event()
        waiter = handle._waiter
        with trio.CancelScope(shield=True):
            if isinstance(self.shutdown, ShutdownPolicy):
                await waiter.wait()
            else:
                with trio.move_on_after(self.shutdown):
                    await waiter.wait()
        if not waiter.is_set():
            self._abandon([handle])

    # ------------------------------------------------------------------------------------ introspection
    def _info(self, handle: ChildHandle) -> ChildInfo:
        state = handle._state
        if state & _STOPPING:
            child_state = ChildState.STOPPING
        elif state & _READY:
            child_state = ChildState.RUNNING
        else:
            child_state = ChildState.STARTING if handle._status is not None else ChildState.RESTARTING
        value = handle.value if state & _READY else None
        return ChildInfo(
            id=handle.id,
            state=child_state,
            restart=self.restart,
            shutdown=self.shutdown,
            supervisor=callable(getattr(value, "tree", None)),
            value=value,
        )

    def which_children(self) -> list[ChildInfo]:
        """Every live child in start order (O(n): meant for debugging, not for every /health poll)."""
        return [self._info(handle) for handle in self._children]

    def count_children(self) -> ChildCounts:
        """OTP's ``count_children``; ``specs`` and ``active`` both count live children, as OTP does."""
        supervisors = sum(1 for handle in self._children if callable(getattr(handle.value, "tree", None)))
        live = len(self._children)
        return ChildCounts(live, live, supervisors, live - supervisors)

    def statistics(self) -> SupervisorStatistics:
        """Counters and current figures as an immutable record (O(1))."""
        live = len(self._children)
        return self._statistics("simple_one_for_one", live, live, self._state in (_RUNNING, _CLOSING))

    def tree(self, *, limit: int = 100) -> dict[str, Any]:
        """This supervisor as JSON-able data; at most ``limit`` children are listed, the rest counted."""
        shown = [self._info(handle) for handle in itertools.islice(self._children, limit)]
        return {
            "name": self.name,
            "type": "dynamic_supervisor",
            "strategy": "simple_one_for_one",
            "state": self._state,
            "max_children": self.max_children,
            "statistics": self.statistics().as_dict(),
            "children": [child_dict(info, limit) for info in shown],
            "omitted_children": max(0, len(self._children) - limit),
        }


@asynccontextmanager
async def open_dynamic_supervisor(
    *,
    name: str = "dynamic_supervisor",
    max_children: int | None = None,
    restart: Restart = Restart.TEMPORARY,
    shutdown: float | ShutdownPolicy = DEFAULT_SHUTDOWN,
    intensity: int = DEFAULT_INTENSITY,
    period: float = DEFAULT_PERIOD,
    backoff: Backoff | None = None,
    terminable: bool = True,
) -> AsyncIterator[DynamicSupervisor]:
    """Run a :class:`DynamicSupervisor` for the duration of the block; leaving it stops every child.

    An escalation cancels the block and is raised on its own, not inside an ExceptionGroup.
    """
    supervisor = DynamicSupervisor(
        name=name,
        max_children=max_children,
        restart=restart,
        shutdown=shutdown,
        intensity=intensity,
        period=period,
        backoff=backoff,
        terminable=terminable,
    )
    async with open_started(supervisor.run):
        yield supervisor
