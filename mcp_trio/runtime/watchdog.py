"""A loop-lag watchdog: log any callback that holds the Trio loop past a threshold, naming where it was stuck.

Theory of operation. A daemon *monitor thread* sends the loop a heartbeat every ``check_interval`` with
``TrioToken.run_sync_soon``: a callback that is runnable at once, so the time until the loop runs it is exactly
how long the loop kept a ready callback waiting (its lag). The thread stamps the heartbeat with
``time.perf_counter()`` and looks again at the next send time or at ``stamp + threshold``, whichever comes
first. If the loop has still not run it by then, the loop is stalled: the thread reads the Trio thread's
current stack (``sys._current_frames()``), logs one warning naming the innermost frames, and calls
``on_stall``. When the loop gets back and runs the heartbeat, it records the total lateness, and the
watchdog's Trio task logs how long the stall lasted. One heartbeat at most is outstanding.

All the timing logic lives in :class:`LagDetector`, a pure object that takes ``now`` as an argument. It is
not thread-safe: :class:`LoopWatchdog` calls it under one ``threading.Lock``, held only for a few
arithmetic operations (and the stack sample when a stall is found). Its correctness does not rest on the
GIL making float reads and writes atomic.

The monitor does need the GIL to run. A handler looping in Python hands it over every
``sys.getswitchinterval()`` (5 ms), so the sample comes a few milliseconds late at worst. A C call that
holds the GIL throughout cannot be sampled; nor, often, can a thread that releases and retakes the GIL more
often than the switch interval (each tiny blocking call, or a busy loop checkpointing every millisecond: CPython
counts every retake as a switch, so the waiting monitor never forces one). Such a stall is still counted
by the loop side when the loop runs the overdue heartbeat, and logged without a location. The same
starvation can thin out heartbeats while the loop is busy but healthy; it cannot fake a stall.

Why the thread sends the heartbeats rather than a Trio task sleeping with ``trio.sleep``: the watchdog then
uses no Trio clock and registers no Trio timer. Under ``MockClock`` a virtual sleep never wakes (rate 0) or
wakes at once (autojump), so a ``trio.sleep`` heartbeat would report false stalls in the first case and
spin through virtual time in the second. Here virtual time is untouched and only real stalls count. The
one interaction left: heartbeats wake the loop every ``check_interval`` of real time, so a
``MockClock(autojump_threshold=t)`` or ``wait_all_tasks_blocked(cushion=t)`` with ``t`` longer than the
interval never sees the loop idle for ``t``. The house default, ``autojump_threshold=0`` and cushion 0,
is unaffected.

Cost: one wake-up of the loop and one of the thread per ``check_interval``; nothing on the request path.
Trio's instrument hooks (``before_task_step``/``after_task_step``) would time every task step exactly, but
at a cost on every step, which is the hot path.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import math
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Final

import attrs
import trio

__all__ = ["LoopWatchdog", "WatchdogStatistics", "Stall", "LagDetector"]

logger: Final = logging.getLogger("mcp_trio.watchdog")

#: Frames from these top-level packages are skipped when naming where the loop is stuck: a handler blocked
#: in ``threading.Event.wait`` should be named, not ``threading``.
_LIBRARY_PACKAGES: Final = frozenset(sys.stdlib_module_names) | {"trio", "outcome"}
#: How far out from the innermost frame to look for a non-library frame.
_MAX_FRAMES_WALKED: Final = 64
#: The monitor never sleeps less than this, so float rounding at a deadline cannot make it spin.
_MIN_WAIT: Final = 0.001
#: Real seconds ``run`` waits, on cancellation, for the monitor thread to end. It only takes longer when a
#: logging handler or ``on_stall`` blocks the thread, which is then abandoned (it is a daemon).
_STOP_TIMEOUT: Final = 1.0


@attrs.frozen
class Stall:
    """One stall: a heartbeat the loop left waiting longer than the threshold.

    Times are ``time.perf_counter()`` seconds. The blocking may have begun before ``due`` (the heartbeat can
    arrive in an already blocked loop), so :attr:`duration` is a lower bound, short by at most the check
    interval.

    Attributes:
        due: when the heartbeat was sent; the loop could have run it from then on.
        detected: when the stall was noticed: by the monitor thread, or by the loop itself when it ran the
            heartbeat if the thread did not get to look in time (for instance while a C call held the GIL).
        ended: when the loop finally ran the heartbeat; None while the stall goes on.
        location: ``"function (file:line)"`` of the innermost frame outside the standard library and Trio,
            sampled on the Trio thread at ``detected``; None if no sample was taken.
        stack: the innermost frames at ``detected``, innermost first, in the same format.
    """

    due: float
    detected: float
    ended: float | None = None
    location: str | None = None
    stack: tuple[str, ...] = ()

    @property
    def duration(self) -> float:
        """Seconds the loop kept the heartbeat waiting: so far, or in total once it has ended."""
        return (self.detected if self.ended is None else self.ended) - self.due


class LagDetector:
    """The clock-free core: heartbeats requested, checked and answered, with ``now`` passed in.

    The monitor side calls :meth:`request` to send a heartbeat and :meth:`check` while it is unanswered;
    the loop side calls :meth:`beat` when it runs it. At most one heartbeat is outstanding: a stalled loop
    needs no more than one to prove it. Not thread-safe; callers serialise access.

    Args:
        threshold: seconds a heartbeat may wait for the loop before it is a stall (finite, > 0). Waiting
            exactly ``threshold`` is not a stall.

    Attributes:
        heartbeats: heartbeats the loop has answered.
        stalls: stalls found, counted when first seen (by :meth:`check`, or by :meth:`beat` if missed).
        longest_stall: the longest *ended* stall, in seconds.
        total_stalled: the sum of ended stalls' durations.
        max_lateness: the longest any answered heartbeat waited, stall or not.
    """

    __slots__ = (
        "_due",
        "_reported_at",
        "heartbeats",
        "last_lateness",
        "longest_stall",
        "max_lateness",
        "stalls",
        "threshold",
        "total_stalled",
    )

    def __init__(self, threshold: float) -> None:
        if not (0 < threshold < math.inf):
            raise ValueError(f"threshold must be finite seconds > 0, not {threshold!r}")
        self.threshold = float(threshold)
        self._due: float | None = None
        self._reported_at: float | None = None
        self.heartbeats = 0
        self.stalls = 0
        self.longest_stall = 0.0
        self.total_stalled = 0.0
        self.max_lateness = 0.0
        self.last_lateness = 0.0

    @property
    def pending(self) -> bool:
        """Whether a heartbeat is waiting for the loop."""
        return self._due is not None

    @property
    def stalled(self) -> bool:
        """Whether a stall has been reported and the loop has not come back yet."""
        return self._reported_at is not None

    @property
    def deadline(self) -> float | None:
        """When the pending heartbeat becomes a stall; None if none is pending or it is already reported."""
        if self._due is None or self._reported_at is not None:
            return None
        return self._due + self.threshold

    def request(self, now: float) -> bool:
        """Monitor side: a heartbeat is sent at ``now``. Returns False, recording nothing, if one is pending."""
        if self._due is not None:
            return False
        self._due = now
        return True

    def check(self, now: float) -> Stall | None:
        """Monitor side: the pending heartbeat's stall, the first time it is more than ``threshold`` late."""
        if self._due is None or self._reported_at is not None or now - self._due <= self.threshold:
            return None
        self._reported_at = now
        self.stalls += 1
        return Stall(due=self._due, detected=now)

    def beat(self, now: float) -> Stall | None:
        """Loop side: the pending heartbeat ran at ``now``. Returns the stall it ends, if it was one.

        A heartbeat more than ``threshold`` late that :meth:`check` never saw is a stall too: it is counted
        here, with ``detected == ended``. A beat with no heartbeat pending is ignored.
        """
        due, reported_at = self._due, self._reported_at
        if due is None:
            return None
        self._due = self._reported_at = None
        self.heartbeats += 1
        lateness = max(now - due, 0.0)
        self.last_lateness = lateness
        self.max_lateness = max(self.max_lateness, lateness)
        if reported_at is None:
            if lateness <= self.threshold:
                return None
            self.stalls += 1
            reported_at = now
        self.longest_stall = max(self.longest_stall, lateness)
        self.total_stalled += lateness
        return Stall(due=due, detected=reported_at, ended=now)

    def lag(self, now: float) -> float:
        """How far behind the loop is at ``now``: the pending heartbeat's wait so far when that is longer than
        the last answered one's lateness (a stall in progress), else that lateness."""
        due = self._due
        if due is not None:
            return max(now - due, self.last_lateness)
        return self.last_lateness

    def reset(self) -> None:
        """Forget any pending heartbeat (its sender is gone); keep the statistics."""
        self._due = self._reported_at = None


@attrs.frozen
class WatchdogStatistics:
    """A snapshot of a :class:`LoopWatchdog`; counters survive its restarts. Durations are seconds.

    Attributes:
        threshold: the configured threshold.
        check_interval: the configured heartbeat interval.
        heartbeats: heartbeats the loop has answered.
        stalls: stalls found so far, including one going on now.
        stalled: whether a stall is going on now (for health checks).
        longest_stall: the longest ended stall.
        total_stalled: the sum of ended stalls' durations.
        max_heartbeat_lateness: the longest any answered heartbeat waited for the loop.
        last_stall_location: where the loop was stuck in the latest stall, or None if there was none or it
            could not be sampled.
    """

    threshold: float
    check_interval: float
    heartbeats: int
    stalls: int
    stalled: bool
    longest_stall: float
    total_stalled: float
    max_heartbeat_lateness: float
    last_stall_location: str | None


@attrs.define(eq=False)
class _Run:
    """One call of :meth:`LoopWatchdog.run`: what its monitor thread and its Trio task share."""

    token: trio.lowlevel.TrioToken
    trio_thread_id: int
    #: Set (under the watchdog's lock) to stop the thread.
    stop: threading.Event = attrs.field(factory=threading.Event)
    # The rest is touched on the Trio thread only.
    ended: collections.deque[Stall] = attrs.field(factory=collections.deque)
    wake: trio.Event = attrs.field(factory=trio.Event)
    exited: trio.Event = attrs.field(factory=trio.Event)
    #: Written by the thread before it reports ``exited``.
    error: BaseException | None = None

    def finish(self) -> None:
        """Trio side of the thread's exit (a ``run_sync_soon`` callback)."""
        self.exited.set()
        self.wake.set()


class LoopWatchdog:
    """Watches the Trio loop from a thread and logs every callback that holds it past ``threshold``.

    Run it as a supervised child (``ChildSpec("watchdog", watchdog.run)``) or with ``nursery.start``. Each
    stall gives one warning from the monitor thread, naming where the loop is stuck, then one from the Trio
    side with the total once the loop is back. See the module docstring for how it works.

    Args:
        threshold: seconds a ready callback may wait for the loop before it counts as a stall (> 0).
        check_interval: seconds between heartbeats; default ``threshold / 2``. Blocks of at most
            ``threshold`` are never reported; blocks longer than ``threshold + check_interval`` always are
            (the monitor thread permitting: see the GIL note above); ones in between only if a heartbeat
            is sent early enough in them. A shorter interval narrows that band and samples lateness more
            often, at the cost of more wake-ups: one of the loop and one of the thread per interval.
        logger: where warnings go; ``mcp_trio.watchdog`` by default.
        on_stall: called with each :class:`Stall` as it is found (``ended`` None, ``location`` set), **in
            the monitor thread**, after the warning is logged. It must be thread-safe and quick: while it
            runs no heartbeat is sent and no other stall is detected. It may call :meth:`statistics`.
            Exceptions are logged and ignored.
        stack_depth: how many innermost frames the warning and :attr:`Stall.stack` show.

    Raises:
        ValueError: for a threshold or interval that is not finite and > 0, or a negative ``stack_depth``.
    """

    def __init__(
        self,
        threshold: float,
        *,
        check_interval: float | None = None,
        logger: logging.Logger = logger,
        on_stall: Callable[[Stall], object] | None = None,
        stack_depth: int = 5,
    ) -> None:
        self._detector = LagDetector(threshold)
        self.threshold = self._detector.threshold
        interval = self.threshold / 2 if check_interval is None else check_interval
        if not (0 < interval < math.inf):
            raise ValueError(f"check_interval must be finite seconds > 0, not {check_interval!r}")
        if stack_depth < 0:
            raise ValueError(f"stack_depth must be >= 0, not {stack_depth!r}")
        self.check_interval = float(interval)
        self._logger = logger
        self._on_stall = on_stall
        self._stack_depth = stack_depth
        # Guards the detector, _current and _last_location: written by the monitor thread and the loop.
        self._lock = threading.Lock()
        self._current: Stall | None = None
        self._last_location: str | None = None
        # Trio thread only.
        self._active: _Run | None = None

    def current_lag(self) -> float:
        """Seconds the event loop is behind now (a stall in progress, or the last heartbeat's lateness), for
        load shedding; safe to call from any thread."""
        with self._lock:
            return self._detector.lag(time.perf_counter())

    def statistics(self) -> WatchdogStatistics:
        """Counters since this watchdog was created; safe to call from any thread."""
        with self._lock:
            detector = self._detector
            return WatchdogStatistics(
                threshold=self.threshold,
                check_interval=self.check_interval,
                heartbeats=detector.heartbeats,
                stalls=detector.stalls,
                stalled=detector.stalled,
                longest_stall=detector.longest_stall,
                total_stalled=detector.total_stalled,
                max_heartbeat_lateness=detector.max_lateness,
                last_stall_location=self._last_location,
            )

    async def run(self, *, task_status: trio.TaskStatus[LoopWatchdog] = trio.TASK_STATUS_IGNORED) -> None:
        """Watch the loop this runs in until cancelled; reports ready with the watchdog itself.

        On cancellation it stops the monitor thread and joins it (it waits on the stop event, so this takes
        microseconds; at most ``_STOP_TIMEOUT`` of real time), so the thread is gone when this returns. A
        thread stuck in a logging handler or ``on_stall`` is abandoned with a warning instead; it is a daemon,
        so it cannot keep the process alive.

        Raises:
            RuntimeError: if this watchdog is already running, or its monitor thread died.
        """
        if self._active is not None:
            raise RuntimeError("this LoopWatchdog is already running")
        run = _Run(token=trio.lowlevel.current_trio_token(), trio_thread_id=threading.get_ident())
        thread = threading.Thread(target=self._monitor, args=(run,), name="mcp-trio-loop-watchdog", daemon=True)
        with self._lock:
            self._detector.reset()
            self._current = None
        self._active = run
        try:
            thread.start()
            task_status.started(self)
            while True:
                await run.wake.wait()
                run.wake = trio.Event()
                self._log_ended(run)
                if run.exited.is_set():
                    raise RuntimeError("the loop watchdog's monitor thread died") from run.error
        finally:
            with self._lock:
                run.stop.set()
            if thread.ident is not None:
                # Joined right here: the thread waits on ``stop`` and so ends within microseconds. Awaiting the
                # join instead (from a worker thread) would let a MockClock autojump move virtual time forward
                # meanwhile, and fire every timeout of a shutdown under way; the bound only matters for a
                # thread stuck in a logging handler or ``on_stall``.
                thread.join(_STOP_TIMEOUT)
                if thread.is_alive():
                    self._logger.warning("loop watchdog thread did not stop within %s s; abandoning it", _STOP_TIMEOUT)
            self._active = None
            self._log_ended(run)

    # --- monitor thread -------------------------------------------------------------------------------

    def _monitor(self, run: _Run) -> None:
        """The monitor thread: send heartbeats, notice overdue ones, sample and report."""
        try:
            next_send = time.perf_counter()
            while True:
                now = time.perf_counter()
                send = False
                stall: Stall | None = None
                with self._lock:
                    if run.stop.is_set():
                        return
                    detector = self._detector
                    if detector.pending:
                        stall = detector.check(now)
                        if stall is not None:
                            location, stack = _sample_stack(run.trio_thread_id, self._stack_depth)
                            stall = attrs.evolve(stall, location=location, stack=stack)
                            self._current = stall
                            self._last_location = location
                    elif now >= next_send:
                        send = detector.request(now)
                        next_send = now + self.check_interval
                    # Wake to send the next heartbeat, or to see whether a late one has been answered yet,
                    # but never after the moment the pending one becomes a stall.
                    wake_at = next_send if next_send > now else now + self.check_interval
                    deadline = detector.deadline
                    if deadline is not None:
                        wake_at = min(wake_at, deadline)
                if send:
                    try:
                        run.token.run_sync_soon(self._beat, run)
                    except trio.RunFinishedError:
                        return
                if stall is not None:
                    self._report(stall)
                if run.stop.wait(max(wake_at - time.perf_counter(), _MIN_WAIT)):
                    return
        except BaseException as exc:  # noqa: BLE001 - not swallowed: run() raises it on the Trio side
            run.error = exc
        finally:
            # FIFO with the heartbeats above, so the loop has run all of them once it sees this.
            with contextlib.suppress(trio.RunFinishedError):
                run.token.run_sync_soon(run.finish)

    def _report(self, stall: Stall) -> None:
        self._logger.warning(
            "event loop blocked for %.0f ms so far (threshold %.0f ms) in %s\n  innermost frames: %s",
            stall.duration * 1e3,
            self.threshold * 1e3,
            stall.location,
            " <- ".join(stall.stack),
            extra={"stall": stall},
        )
        if self._on_stall is not None:
            try:
                self._on_stall(stall)
            except Exception:
                self._logger.exception("loop watchdog on_stall callback failed")

    # --- Trio thread -----------------------------------------------------------------------------------

    def _beat(self, run: _Run) -> None:
        """The heartbeat, run by the loop via ``run_sync_soon``: it must never raise (Trio would crash)."""
        try:
            if run is not self._active:
                return  # sent by a previous run's thread
            now = time.perf_counter()
            with self._lock:
                ended = self._detector.beat(now)
                if ended is None:
                    return
                if self._current is not None:
                    ended = attrs.evolve(self._current, ended=now)
                else:
                    self._last_location = None
                self._current = None
            run.ended.append(ended)
            run.wake.set()
        except Exception:
            self._logger.exception("loop watchdog heartbeat failed")

    def _log_ended(self, run: _Run) -> None:
        while run.ended:
            stall = run.ended.popleft()
            if stall.location is None:
                self._logger.warning(
                    "event loop was blocked for %.0f ms (threshold %.0f ms); the watchdog thread did not run "
                    "in time to see where (starved of the GIL or the CPU)",
                    stall.duration * 1e3,
                    self.threshold * 1e3,
                    extra={"stall": stall},
                )
            else:
                self._logger.warning(
                    "event loop was blocked for %.0f ms in total, in %s",
                    stall.duration * 1e3,
                    stall.location,
                    extra={"stall": stall},
                )


def _sample_stack(thread_id: int, depth: int) -> tuple[str, tuple[str, ...]]:
    """Where a thread is now: its innermost non-library frame, and its ``depth`` innermost frames."""
    frame: FrameType | None = sys._current_frames().get(thread_id)
    stack: list[str] = []
    location: str | None = None
    for _ in range(_MAX_FRAMES_WALKED):
        if frame is None or (location is not None and len(stack) >= depth):
            break
        described = _describe(frame)
        if len(stack) < depth:
            stack.append(described)
        if location is None and not _is_library(frame):
            location = described
        frame = frame.f_back
    if location is None:
        location = stack[0] if stack else "<unknown>"
    return location, tuple(stack)


def _describe(frame: FrameType) -> str:
    code = frame.f_code
    return f"{code.co_qualname} ({code.co_filename}:{frame.f_lineno})"


def _is_library(frame: FrameType) -> bool:
    name = frame.f_globals.get("__name__")
    return isinstance(name, str) and name.partition(".")[0] in _LIBRARY_PACKAGES
