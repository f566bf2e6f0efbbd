"""The loop watchdog: a pure lag detector driven by plain numbers, then the real thing blocking a real loop.

The integration tests block the loop for real (that is the scenario) but never sleep to synchronise: the
blocked handler waits for the watchdog's own ``on_stall`` callback, and healthy loops run until a number of
heartbeats has been answered.
"""

from __future__ import annotations

import logging
import sys
import threading
import time

import pytest
import trio
import trio.testing
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from mcp_trio.runtime.watchdog import LagDetector, LoopWatchdog, Stall, WatchdogStatistics

THREAD_NAME = "mcp-trio-loop-watchdog"


# --- the pure detector --------------------------------------------------------------------------------


def test_a_heartbeat_answered_within_the_threshold_is_not_a_stall() -> None:
    detector = LagDetector(threshold=1.0)
    assert detector.request(10.0)
    assert detector.check(10.5) is None
    assert detector.beat(10.9) is None
    assert (detector.heartbeats, detector.stalls) == (1, 0)
    assert detector.max_lateness == pytest.approx(0.9)
    assert not detector.pending


def test_an_overdue_heartbeat_is_reported_once_and_timed_when_the_loop_returns() -> None:
    detector = LagDetector(threshold=1.0)
    detector.request(10.0)
    assert detector.deadline == 11.0
    assert detector.check(12.0) == Stall(due=10.0, detected=12.0)
    assert (detector.stalled, detector.deadline) == (True, None)
    assert detector.check(13.0) is None
    assert detector.stalls == 1
    ended = detector.beat(15.0)
    assert ended == Stall(due=10.0, detected=12.0, ended=15.0)
    assert ended is not None
    assert ended.duration == 5.0
    assert (detector.stalls, detector.longest_stall, detector.total_stalled, detector.max_lateness) == (1, 5, 5, 5)
    assert not detector.stalled


def test_a_stall_the_monitor_missed_is_still_counted_when_the_loop_returns() -> None:
    detector = LagDetector(threshold=1.0)
    detector.request(0.0)
    assert detector.beat(3.0) == Stall(due=0.0, detected=3.0, ended=3.0)
    assert (detector.stalls, detector.longest_stall) == (1, 3.0)


def test_exactly_threshold_late_is_not_a_stall() -> None:
    detector = LagDetector(threshold=2.0)
    detector.request(1.0)
    assert detector.check(3.0) is None
    assert detector.beat(3.0) is None
    assert detector.stalls == 0


def test_only_one_heartbeat_is_outstanding_at_a_time() -> None:
    detector = LagDetector(threshold=1.0)
    assert detector.request(0.0)
    assert not detector.request(0.5)
    detector.check(1.5)
    assert detector.beat(2.0) == Stall(due=0.0, detected=1.5, ended=2.0)


def test_a_beat_or_check_without_a_pending_heartbeat_is_ignored() -> None:
    detector = LagDetector(threshold=1.0)
    assert detector.beat(5.0) is None
    assert detector.check(5.0) is None
    assert detector.heartbeats == 0


def test_reset_forgets_the_pending_heartbeat_but_keeps_statistics() -> None:
    detector = LagDetector(threshold=1.0)
    detector.request(0.0)
    detector.beat(2.0)
    detector.request(3.0)
    detector.check(5.0)
    detector.reset()
    assert not detector.pending
    assert not detector.stalled
    assert detector.beat(9.0) is None
    assert (detector.heartbeats, detector.stalls) == (1, 2)


@pytest.mark.parametrize("threshold", [0.0, -1.0, float("inf"), float("nan")])
def test_a_threshold_that_is_not_finite_and_positive_is_rejected(threshold: float) -> None:
    with pytest.raises(ValueError, match="threshold must be"):
        LagDetector(threshold)


@given(
    threshold=st.integers(1, 50),
    heartbeats=st.lists(
        st.tuples(st.integers(0, 200), st.lists(st.integers(0, 200), max_size=6), st.integers(0, 50)),
        max_size=30,
    ),
)
def test_each_heartbeat_later_than_the_threshold_is_one_stall_however_often_it_is_checked(
    threshold: int, heartbeats: list[tuple[int, list[int], int]]
) -> None:
    # Integer times keep float subtraction exact, so the boundary is tested as written.
    detector = LagDetector(float(threshold))
    now = 0.0
    late = []
    for lateness, check_offsets, gap in heartbeats:
        assert detector.request(now)
        reported = [detector.check(now + offset) for offset in sorted(o for o in check_offsets if o <= lateness)]
        found = [stall for stall in reported if stall is not None]
        assert len(found) == (1 if any(o > threshold for o in check_offsets if o <= lateness) else 0)
        ended = detector.beat(now + lateness)
        if lateness > threshold:
            late.append(lateness)
            assert ended is not None
            assert (ended.due, ended.ended, ended.duration) == (now, now + lateness, lateness)
            assert ended.detected == (found[0].detected if found else now + lateness)
        else:
            assert ended is None
        now += lateness + gap
    assert detector.heartbeats == len(heartbeats)
    assert detector.stalls == len(late)
    assert detector.total_stalled == sum(late)
    assert detector.longest_stall == max(late, default=0)
    assert detector.max_lateness == max((h[0] for h in heartbeats), default=0)


class LagDetectorMachine(RuleBasedStateMachine):
    """Any interleaving of requests, checks, beats and resets, against a model of the documented rules."""

    detector: LagDetector

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0
        self.due: float | None = None
        self.reported_at: float | None = None
        self.stalls = 0
        self.ended: list[float] = []
        self.latenesses: list[float] = []

    @initialize(threshold=st.integers(1, 20))
    def create(self, threshold: int) -> None:
        self.threshold = float(threshold)
        self.detector = LagDetector(self.threshold)

    @rule(dt=st.integers(0, 30))
    def advance(self, dt: int) -> None:
        self.now += dt

    @rule()
    def request(self) -> None:
        assert self.detector.request(self.now) is (self.due is None)
        if self.due is None:
            self.due = self.now

    @rule()
    def check(self) -> None:
        stall = self.detector.check(self.now)
        if self.due is not None and self.reported_at is None and self.now - self.due > self.threshold:
            assert stall == Stall(due=self.due, detected=self.now)
            self.reported_at = self.now
            self.stalls += 1
        else:
            assert stall is None

    @rule()
    def beat(self) -> None:
        stall = self.detector.beat(self.now)
        if self.due is None:
            assert stall is None
            return
        lateness = self.now - self.due
        self.latenesses.append(lateness)
        if self.reported_at is None and lateness > self.threshold:
            self.stalls += 1
            self.reported_at = self.now
        if self.reported_at is None:
            assert stall is None
        else:
            assert stall == Stall(due=self.due, detected=self.reported_at, ended=self.now)
            self.ended.append(lateness)
        self.due = self.reported_at = None

    @precondition(lambda self: self.due is not None)
    @rule()
    def reset(self) -> None:
        self.detector.reset()
        self.due = self.reported_at = None

    @invariant()
    def agrees_with_the_model(self) -> None:
        detector = self.detector
        assert detector.pending is (self.due is not None)
        assert detector.stalled is (self.reported_at is not None)
        expected_deadline = None if self.due is None or self.reported_at is not None else self.due + self.threshold
        assert detector.deadline == expected_deadline
        assert detector.stalls == self.stalls
        assert detector.heartbeats == len(self.latenesses)
        assert detector.total_stalled == sum(self.ended)
        assert detector.longest_stall == max(self.ended, default=0.0)
        assert detector.max_lateness == max(self.latenesses, default=0.0)


TestLagDetectorMachine = LagDetectorMachine.TestCase


# --- the watchdog on a real loop ------------------------------------------------------------------------


def slow_handler_for_test(released: threading.Event) -> None:
    """A sync handler run inline on the loop: it blocks until the watchdog reports it (at most 5 s)."""
    if not released.wait(5):
        raise AssertionError("the watchdog never reported the blocked loop")


def busy_for(seconds: float) -> None:
    """Hold the loop with CPU work, as a short synchronous handler would."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


async def keep_busy_until_heartbeats(watchdog: LoopWatchdog, count: int) -> None:
    """A healthy but busy loop: chunks of work between checkpoints, until ``count`` heartbeats ran.

    Each chunk lasts two GIL switch intervals (10 ms, far under the thresholds used with this): a loop
    that checkpoints more often retakes the GIL so often that CPython never hands it to the monitor thread,
    which then sends no heartbeats (see the module docstring). Bounded in real time, as it also runs under
    a frozen MockClock, and generously: the shared machine may be overloaded.
    """
    chunk = 2 * sys.getswitchinterval()
    give_up = time.perf_counter() + 20
    while watchdog.statistics().heartbeats < count:
        assert time.perf_counter() < give_up, f"heartbeats stopped arriving: {watchdog.statistics()}"
        busy_for(chunk)
        await trio.lowlevel.checkpoint()


def watchdog_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == THREAD_NAME]


async def test_a_handler_blocking_the_loop_is_named_then_timed_when_the_loop_is_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="mcp_trio.watchdog")
    released = threading.Event()
    seen: list[Stall] = []

    def on_stall(stall: Stall) -> None:
        seen.append(stall)
        released.set()

    watchdog = LoopWatchdog(0.05, check_interval=0.01, on_stall=on_stall)
    async with trio.open_nursery() as nursery:
        assert await nursery.start(watchdog.run) is watchdog
        slow_handler_for_test(released)
        await trio.testing.wait_all_tasks_blocked()  # the loop runs the overdue heartbeat, the task logs it
        nursery.cancel_scope.cancel()

    [stall] = seen
    assert stall.location is not None
    assert stall.location.startswith("slow_handler_for_test (")
    assert __file__ in stall.location
    assert stall.stack[0].startswith("Event.wait (") or stall.stack[0].startswith("Condition.wait (")
    assert any(frame.startswith("slow_handler_for_test (") for frame in stall.stack)
    assert stall.duration > 0.05
    assert stall.ended is None

    statistics = watchdog.statistics()
    assert statistics.stalls == 1
    assert not statistics.stalled
    assert statistics.last_stall_location == stall.location
    assert statistics.longest_stall == statistics.total_stalled >= stall.duration
    assert statistics.max_heartbeat_lateness == statistics.longest_stall

    messages = [record.getMessage() for record in caplog.records]
    [found] = [i for i, message in enumerate(messages) if "so far" in message]
    assert "slow_handler_for_test (" in messages[found]
    assert caplog.records[found].threadName == THREAD_NAME
    [back] = [i for i, message in enumerate(messages) if "in total" in message]
    assert back > found
    assert f"in {stall.location}" in messages[back]
    assert caplog.records[back].thread == threading.get_ident()  # logged on the Trio side
    assert len(messages) == 2


async def test_a_busy_but_healthy_loop_produces_no_stall(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="mcp_trio.watchdog")
    watchdog = LoopWatchdog(0.5, check_interval=0.005)
    async with trio.open_nursery() as nursery:
        await nursery.start(watchdog.run)
        await keep_busy_until_heartbeats(watchdog, 10)
        nursery.cancel_scope.cancel()
    statistics = watchdog.statistics()
    assert statistics.heartbeats >= 10
    assert (statistics.stalls, statistics.total_stalled, statistics.last_stall_location) == (0, 0.0, None)
    assert statistics.max_heartbeat_lateness < 0.5
    assert caplog.records == []


async def test_a_frozen_mock_clock_does_not_look_like_a_stall(mock_clock: trio.testing.MockClock) -> None:
    # A trio.sleep heartbeat would never wake here; the watchdog's heartbeats do not use the Trio clock.
    watchdog = LoopWatchdog(0.5, check_interval=0.005)
    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        await nursery.start(watchdog.run)
        await keep_busy_until_heartbeats(watchdog, 5)
        nursery.cancel_scope.cancel()
    assert trio.current_time() == start
    assert watchdog.statistics().stalls == 0


async def test_the_watchdog_adds_no_timers_under_an_autojump_clock(autojump_clock: trio.testing.MockClock) -> None:
    watchdog = LoopWatchdog(0.5)
    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        await nursery.start(watchdog.run)
        await trio.sleep(3600)
        assert trio.current_time() == start + 3600
        nursery.cancel_scope.cancel()
    assert watchdog.statistics().stalls == 0


async def test_cancelling_run_stops_the_monitor_thread() -> None:
    watchdog = LoopWatchdog(0.05)
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            await nursery.start(watchdog.run)
            [thread] = watchdog_threads()
            assert thread.daemon
            assert thread.is_alive()
            nursery.cancel_scope.cancel()
    assert not thread.is_alive()  # run() joined it before returning
    assert watchdog_threads() == []


async def test_a_restarted_watchdog_keeps_its_statistics() -> None:
    # A supervisor restarts a child by calling the same run method again.
    watchdog = LoopWatchdog(0.5, check_interval=0.005)
    for target in (3, 6):
        async with trio.open_nursery() as nursery:
            await nursery.start(watchdog.run)
            await keep_busy_until_heartbeats(watchdog, target)
            nursery.cancel_scope.cancel()
    assert watchdog.statistics().heartbeats >= 6


async def test_running_the_same_watchdog_twice_at_once_is_refused() -> None:
    watchdog = LoopWatchdog(0.05)
    async with trio.open_nursery() as nursery:
        await nursery.start(watchdog.run)
        with pytest.raises(RuntimeError, match="already running"):
            await watchdog.run()
        nursery.cancel_scope.cancel()


async def test_a_failing_on_stall_callback_is_logged_and_the_watchdog_carries_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="mcp_trio.watchdog")
    released = threading.Event()

    def on_stall(stall: Stall) -> None:
        released.set()
        raise ValueError("metrics backend down")

    watchdog = LoopWatchdog(0.05, check_interval=0.01, on_stall=on_stall)
    async with trio.open_nursery() as nursery:
        await nursery.start(watchdog.run)
        slow_handler_for_test(released)
        await trio.testing.wait_all_tasks_blocked()
        assert watchdog_threads() != []
        nursery.cancel_scope.cancel()
    [failure] = [record for record in caplog.records if "on_stall callback failed" in record.getMessage()]
    assert failure.exc_info is not None
    assert isinstance(failure.exc_info[1], ValueError)
    assert any("in total" in record.getMessage() for record in caplog.records)
    assert watchdog.statistics().stalls == 1


def test_statistics_start_empty_and_echo_the_settings() -> None:
    assert LoopWatchdog(0.1).statistics() == WatchdogStatistics(
        threshold=0.1,
        check_interval=0.05,
        heartbeats=0,
        stalls=0,
        stalled=False,
        longest_stall=0.0,
        total_stalled=0.0,
        max_heartbeat_lateness=0.0,
        last_stall_location=None,
    )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"threshold": 0.0}, "threshold must be"),
        ({"threshold": float("inf")}, "threshold must be"),
        ({"threshold": 0.1, "check_interval": 0.0}, "check_interval must be"),
        ({"threshold": 0.1, "check_interval": float("nan")}, "check_interval must be"),
        ({"threshold": 0.1, "stack_depth": -1}, "stack_depth must be"),
    ],
)
def test_invalid_watchdog_settings_are_rejected(kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        LoopWatchdog(**kwargs)  # type: ignore[arg-type]
