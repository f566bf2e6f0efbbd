"""The circuit breaker: every transition with plain numbers, a state machine against a model, then the guard
under a mock clock (exact virtual times, no real sleeps)."""

from __future__ import annotations

import copy
import pickle

import pytest
import trio
import trio.testing
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from mcp_trio.runtime.breaker import BreakerState, BreakerStatistics, CircuitBreaker, CircuitOpen

CLOSED, OPEN, HALF_OPEN = BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN


def fail(breaker: CircuitBreaker, now: float, times: int = 1) -> None:
    for _ in range(times):
        assert breaker.allow(now)
        breaker.record_failure(now)


def succeed(breaker: CircuitBreaker, now: float, times: int = 1) -> None:
    for _ in range(times):
        assert breaker.allow(now)
        breaker.record_success(now)


def opened(failure_threshold: int = 1, open_timeout: float = 10.0, half_open_probes: int = 1) -> CircuitBreaker:
    """A breaker that opened at time 0."""
    breaker = CircuitBreaker(failure_threshold, open_timeout, half_open_probes)
    fail(breaker, 0.0, failure_threshold)
    assert breaker.state(0.0) is OPEN
    return breaker


# --- closed -------------------------------------------------------------------------------------------------


def test_a_new_breaker_is_closed_and_allows_calls() -> None:
    breaker = CircuitBreaker(failure_threshold=3, open_timeout=10.0)
    assert breaker.state(0.0) is CLOSED
    assert breaker.retry_after(0.0) == 0.0
    succeed(breaker, 0.0, times=5)


def test_failure_threshold_consecutive_failures_open_it() -> None:
    breaker = CircuitBreaker(failure_threshold=3, open_timeout=10.0)
    fail(breaker, 1.0, times=2)
    assert breaker.state(1.0) is CLOSED
    fail(breaker, 2.0)
    assert breaker.state(2.0) is OPEN
    assert breaker.statistics(2.0).opened_at == 2.0


def test_a_success_resets_the_failure_count() -> None:
    breaker = CircuitBreaker(failure_threshold=3, open_timeout=10.0)
    fail(breaker, 0.0, times=2)
    succeed(breaker, 0.0)
    fail(breaker, 0.0, times=2)
    assert breaker.state(0.0) is CLOSED
    assert breaker.statistics(0.0).consecutive_failures == 2


def test_an_ignored_outcome_neither_counts_nor_resets() -> None:
    breaker = CircuitBreaker(failure_threshold=2, open_timeout=10.0)
    fail(breaker, 0.0)
    assert breaker.allow(0.0)
    breaker.record_ignored(0.0)
    fail(breaker, 0.0)
    assert breaker.state(0.0) is OPEN


def test_concurrent_calls_count_in_the_order_their_outcomes_arrive() -> None:
    breaker = CircuitBreaker(failure_threshold=2, open_timeout=10.0)
    assert all(breaker.allow(0.0) for _ in range(3))
    breaker.record_failure(1.0)
    breaker.record_failure(2.0)
    assert breaker.state(2.0) is OPEN
    breaker.record_success(3.0)  # a straggler: the breaker stays open
    assert breaker.state(3.0) is OPEN
    assert breaker.statistics(3.0).in_flight == 0


# --- open ---------------------------------------------------------------------------------------------------


def test_an_open_breaker_refuses_until_the_timeout_and_says_how_long() -> None:
    breaker = opened(open_timeout=10.0)
    assert not breaker.allow(0.0)
    assert not breaker.allow(9.75)
    assert breaker.retry_after(0.0) == 10.0
    assert breaker.retry_after(9.75) == 0.25
    assert breaker.statistics(9.75).rejections == 2


def test_it_turns_half_open_exactly_at_the_timeout() -> None:
    breaker = opened(open_timeout=10.0)
    assert breaker.state(9.5) is OPEN
    assert breaker.state(10.0) is HALF_OPEN
    assert breaker.retry_after(10.0) == 0.0


def test_reading_the_state_is_not_needed_for_the_timeout_to_pass() -> None:
    breaker = opened(open_timeout=10.0)
    assert breaker.allow(25.0)  # straight from open to a half-open probe
    assert breaker.state(25.0) is HALF_OPEN


def test_a_straggler_failing_while_open_does_not_restart_the_timeout() -> None:
    breaker = CircuitBreaker(failure_threshold=1, open_timeout=10.0)
    assert breaker.allow(0.0)
    assert breaker.allow(0.0)
    breaker.record_failure(0.0)
    breaker.record_failure(5.0)
    assert breaker.statistics(5.0).opened_at == 0.0
    assert breaker.retry_after(5.0) == 5.0


def test_a_zero_timeout_is_half_open_at_once() -> None:
    breaker = CircuitBreaker(failure_threshold=1, open_timeout=0.0)
    fail(breaker, 3.0)
    assert breaker.statistics(3.0).times_opened == 1
    assert breaker.state(3.0) is HALF_OPEN


# --- half-open ----------------------------------------------------------------------------------------------


def test_half_open_admits_at_most_half_open_probes_at_once() -> None:
    breaker = opened(half_open_probes=2)
    assert breaker.allow(10.0)
    assert breaker.allow(10.0)
    assert not breaker.allow(10.0)
    assert breaker.retry_after(10.0) == 10.0  # a hint: as long as the probes might keep it open
    breaker.record_ignored(11.0)  # frees its slot, counts for nothing
    assert breaker.state(11.0) is HALF_OPEN
    assert breaker.retry_after(11.0) == 0.0
    assert breaker.allow(11.0)
    assert not breaker.allow(11.0)


def test_half_open_probes_successes_close_it() -> None:
    breaker = opened(half_open_probes=2)
    assert breaker.allow(10.0)
    assert breaker.allow(10.0)
    breaker.record_success(11.0)
    assert breaker.state(11.0) is HALF_OPEN
    assert breaker.allow(11.0)  # the success freed a slot
    breaker.record_success(12.0)
    assert breaker.state(12.0) is CLOSED
    stats = breaker.statistics(12.0)
    assert (stats.opened_at, stats.consecutive_failures, stats.in_flight) == (None, 0, 1)
    breaker.record_success(13.0)
    assert breaker.state(13.0) is CLOSED


def test_a_probe_failure_reopens_it_and_restarts_the_timeout() -> None:
    breaker = opened(half_open_probes=3)
    succeed(breaker, 10.0, times=2)
    fail(breaker, 12.0)
    assert breaker.state(12.0) is OPEN
    assert breaker.retry_after(12.0) == 10.0
    assert breaker.state(22.0) is HALF_OPEN
    # The earlier probe successes are forgotten: three more are needed.
    succeed(breaker, 22.0, times=2)
    assert breaker.state(22.0) is HALF_OPEN
    succeed(breaker, 22.0)
    assert breaker.state(22.0) is CLOSED
    assert breaker.statistics(22.0).times_opened == 2


def test_stragglers_hold_probe_slots_and_their_outcomes_count_as_probes() -> None:
    breaker = CircuitBreaker(failure_threshold=1, open_timeout=10.0, half_open_probes=1)
    assert breaker.allow(0.0)  # the straggler
    fail(breaker, 0.0)
    assert not breaker.allow(10.0)  # half-open, but the straggler still holds the only slot
    assert breaker.state(10.0) is HALF_OPEN
    breaker.record_success(11.0)  # it succeeded against the dependency: that closes the breaker
    assert breaker.state(11.0) is CLOSED


def test_a_straggler_failing_after_the_timeout_reopens_it() -> None:
    breaker = CircuitBreaker(failure_threshold=1, open_timeout=10.0)
    assert breaker.allow(0.0)
    fail(breaker, 0.0)
    breaker.record_failure(15.0)  # nobody looked in between: it was half-open since 10
    assert breaker.state(15.0) is OPEN
    assert breaker.statistics(15.0).opened_at == 15.0


# --- misuse, statistics, errors -----------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["record_success", "record_failure", "record_ignored"])
def test_an_outcome_without_an_allowed_call_is_an_error(method: str) -> None:
    breaker = CircuitBreaker(failure_threshold=1, open_timeout=1.0)
    with pytest.raises(RuntimeError, match=method):
        getattr(breaker, method)(0.0)
    succeed(breaker, 0.0)
    with pytest.raises(RuntimeError, match=method):
        getattr(breaker, method)(0.0)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((0, 1.0, 1), "failure_threshold"),
        ((1, -1.0, 1), "open_timeout"),
        ((1, float("inf"), 1), "open_timeout"),
        ((1, float("nan"), 1), "open_timeout"),
        ((1, 1.0, 0), "half_open_probes"),
    ],
)
def test_arguments_out_of_range_are_refused(args: tuple[int, float, int], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        CircuitBreaker(*args)


def test_statistics_count_every_outcome_and_refusal() -> None:
    breaker = CircuitBreaker(failure_threshold=2, open_timeout=5.0, name="search")
    assert breaker.statistics(0.0) == BreakerStatistics(
        name="search",
        state=CLOSED,
        consecutive_failures=0,
        successes=0,
        failures=0,
        ignored=0,
        rejections=0,
        times_opened=0,
        opened_at=None,
        in_flight=0,
    )
    succeed(breaker, 0.0)
    assert breaker.allow(0.0)
    breaker.record_ignored(0.0)
    fail(breaker, 1.0, times=2)
    assert not breaker.allow(2.0)
    assert breaker.allow(6.0)
    assert breaker.statistics(6.0) == BreakerStatistics(
        name="search",
        state=HALF_OPEN,
        consecutive_failures=2,
        successes=1,
        failures=2,
        ignored=1,
        rejections=1,
        times_opened=1,
        opened_at=1.0,
        in_flight=1,
    )


def test_circuit_open_names_the_breaker_and_when_to_retry_and_pickles() -> None:
    error = CircuitOpen("search", 1.5)
    assert (error.name, error.retry_after) == ("search", 1.5)
    assert str(error) == "circuit breaker 'search' is open; retry after 1.500 s"
    assert str(CircuitOpen("", 0.25)) == "circuit breaker is open; retry after 0.250 s"
    for clone in (pickle.loads(pickle.dumps(error)), copy.copy(error)):
        assert isinstance(clone, CircuitOpen)
        assert (clone.name, clone.retry_after, str(clone)) == ("search", 1.5, str(error))


def test_states_show_as_their_names() -> None:
    assert [str(state) for state in BreakerState] == ["closed", "open", "half_open"]


# --- against a model ----------------------------------------------------------------------------------------


class BreakerMachine(RuleBasedStateMachine):
    """Any interleaving of calls, outcomes and time, against a model of the documented rules.

    Each outstanding call remembers the half-open period that admitted it (None: not admitted while
    half-open), to check that no more than ``half_open_probes`` calls admitted in one half-open period are
    ever outstanding, and that stragglers count too.
    """

    breaker: CircuitBreaker

    def __init__(self) -> None:
        super().__init__()
        self.now = 0
        self.state = CLOSED
        self.opened_at: int | None = None
        self.consecutive = self.probe_successes = 0
        self.successes = self.failures = self.ignored = self.rejections = self.times_opened = 0
        self.period = 0  # half-open periods so far
        self.outstanding: list[int | None] = []

    @initialize(threshold=st.integers(1, 3), timeout=st.integers(0, 5), probes=st.integers(1, 3))
    def create(self, threshold: int, timeout: int, probes: int) -> None:
        self.threshold, self.timeout, self.probes = threshold, timeout, probes
        self.breaker = CircuitBreaker(threshold, timeout, probes)

    def advance_model(self) -> None:
        """Open turns half-open once the timeout has passed."""
        if self.state is OPEN and self.opened_at is not None and self.now >= self.opened_at + self.timeout:
            self.state = HALF_OPEN
            self.probe_successes = 0
            self.period += 1

    def open_model(self) -> None:
        self.state, self.opened_at = OPEN, self.now
        self.times_opened += 1

    @rule(dt=st.integers(0, 4))
    def advance(self, dt: int) -> None:
        self.now += dt

    @rule()
    def allow(self) -> None:
        self.advance_model()
        expected = self.state is CLOSED or (self.state is HALF_OPEN and len(self.outstanding) < self.probes)
        assert self.breaker.allow(self.now) is expected
        if expected:
            self.outstanding.append(self.period if self.state is HALF_OPEN else None)
        else:
            self.rejections += 1

    @precondition(lambda self: self.outstanding)
    @rule(which=st.integers(0, 10), outcome=st.sampled_from(["success", "failure", "ignored"]))
    def record(self, which: int, outcome: str) -> None:
        self.outstanding.pop(which % len(self.outstanding))
        self.advance_model()
        if outcome == "success":
            self.breaker.record_success(self.now)
            self.successes += 1
            self.consecutive = 0
            if self.state is HALF_OPEN:
                self.probe_successes += 1
                if self.probe_successes == self.probes:
                    self.state, self.opened_at = CLOSED, None
        elif outcome == "failure":
            self.breaker.record_failure(self.now)
            self.failures += 1
            self.consecutive += 1
            if self.state is HALF_OPEN or (self.state is CLOSED and self.consecutive >= self.threshold):
                self.open_model()
        else:
            self.breaker.record_ignored(self.now)
            self.ignored += 1

    @invariant()
    def agrees_with_the_model(self) -> None:
        self.advance_model()
        assert self.breaker.statistics(self.now) == BreakerStatistics(
            name="",
            state=self.state,
            consecutive_failures=self.consecutive,
            successes=self.successes,
            failures=self.failures,
            ignored=self.ignored,
            rejections=self.rejections,
            times_opened=self.times_opened,
            opened_at=self.opened_at,
            in_flight=len(self.outstanding),
        )

    @invariant()
    def never_more_probes_out_than_allowed(self) -> None:
        if self.state is HALF_OPEN:
            probes_out = sum(1 for period in self.outstanding if period == self.period)
            assert probes_out <= self.probes

    @invariant()
    def open_refuses_until_the_timeout_and_says_so(self) -> None:
        retry_after = self.breaker.retry_after(self.now)
        if self.state is OPEN:
            assert self.opened_at is not None
            assert retry_after == self.opened_at + self.timeout - self.now > 0
        elif self.state is CLOSED or len(self.outstanding) < self.probes:
            assert retry_after == 0
        else:
            assert retry_after == self.timeout


TestBreakerMachine = BreakerMachine.TestCase


# --- the guard, under a mock clock --------------------------------------------------------------------------


class ToolError(Exception):
    """Stands for an error the dependency is not to blame for."""


async def test_the_guard_records_a_success_on_normal_exit() -> None:
    breaker = CircuitBreaker(failure_threshold=1, open_timeout=10.0)
    async with breaker.guard():
        assert breaker.statistics(trio.current_time()).in_flight == 1
    stats = breaker.statistics(trio.current_time())
    assert (stats.successes, stats.in_flight) == (1, 0)


async def test_the_guard_records_a_failure_and_lets_the_exception_through(
    autojump_clock: trio.testing.MockClock,
) -> None:
    breaker = CircuitBreaker(failure_threshold=1, open_timeout=10.0, name="db")
    with pytest.raises(ConnectionError):
        async with breaker.guard():
            raise ConnectionError("down")
    assert breaker.state(trio.current_time()) is OPEN
    with pytest.raises(CircuitOpen) as refused:
        async with breaker.guard():
            pytest.fail("a refused guard does not run its block")
    assert (refused.value.name, refused.value.retry_after) == ("db", 10.0)
    await trio.sleep(refused.value.retry_after)
    assert trio.current_time() == 10.0
    async with breaker.guard():
        pass
    assert breaker.state(trio.current_time()) is CLOSED


async def test_the_guard_reports_the_time_left_on_the_mock_clock(autojump_clock: trio.testing.MockClock) -> None:
    breaker = CircuitBreaker(failure_threshold=1, open_timeout=5.0)

    async def call() -> None:
        async with breaker.guard():
            await trio.sleep(1.0)
            raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        await call()
    await trio.sleep(1.5)
    with pytest.raises(CircuitOpen, match=r"retry after 3\.500 s") as refused:
        async with breaker.guard():
            pass
    assert refused.value.retry_after == 3.5
    assert breaker.statistics(trio.current_time()).opened_at == 1.0


async def test_the_failure_predicate_decides_which_exceptions_trip_the_breaker() -> None:
    breaker = CircuitBreaker(failure_threshold=1, open_timeout=10.0)
    not_a_tool_error = lambda exc: not isinstance(exc, ToolError)  # noqa: E731
    with pytest.raises(ToolError):
        async with breaker.guard(failure=not_a_tool_error):
            raise ToolError("bad arguments")
    stats = breaker.statistics(trio.current_time())
    assert (stats.state, stats.ignored, stats.failures) == (CLOSED, 1, 0)
    with pytest.raises(ConnectionError, match="down"):
        async with breaker.guard(failure=not_a_tool_error):
            raise ConnectionError("down")
    assert breaker.state(trio.current_time()) is OPEN


async def test_cancellation_inside_the_guard_is_ignored(autojump_clock: trio.testing.MockClock) -> None:
    breaker = CircuitBreaker(failure_threshold=1, open_timeout=10.0, half_open_probes=1)
    with trio.move_on_after(1.0) as scope:
        async with breaker.guard():
            await trio.sleep_forever()
    assert scope.cancelled_caught
    stats = breaker.statistics(trio.current_time())
    assert (stats.state, stats.ignored, stats.failures, stats.in_flight) == (CLOSED, 1, 0, 0)


async def test_a_cancelled_probe_frees_its_slot(autojump_clock: trio.testing.MockClock) -> None:
    breaker = CircuitBreaker(failure_threshold=1, open_timeout=10.0, half_open_probes=1)
    with pytest.raises(ConnectionError, match="down"):
        async with breaker.guard():
            raise ConnectionError("down")
    await trio.sleep(10.0)
    with trio.move_on_after(1.0):
        async with breaker.guard():
            await trio.sleep_forever()
    assert breaker.state(trio.current_time()) is HALF_OPEN
    async with breaker.guard():
        pass
    assert breaker.state(trio.current_time()) is CLOSED


async def test_a_nursery_cancelled_inside_the_guard_is_ignored(autojump_clock: trio.testing.MockClock) -> None:
    breaker = CircuitBreaker(failure_threshold=1, open_timeout=10.0)
    with trio.move_on_after(1.0):
        async with breaker.guard(), trio.open_nursery() as nursery:
            nursery.start_soon(trio.sleep_forever)
            nursery.start_soon(trio.sleep_forever)
    stats = breaker.statistics(trio.current_time())
    assert (stats.ignored, stats.failures) == (1, 0)


async def test_an_exception_group_holding_a_failure_is_a_failure() -> None:
    breaker = CircuitBreaker(failure_threshold=1, open_timeout=10.0)
    predicate = lambda exc: not isinstance(exc, ToolError)  # noqa: E731
    with pytest.raises(ExceptionGroup):
        async with breaker.guard(failure=predicate):
            raise ExceptionGroup("tools", [ToolError("a"), ExceptionGroup("inner", [ToolError("b")])])
    assert breaker.state(trio.current_time()) is CLOSED
    with pytest.raises(ExceptionGroup):
        async with breaker.guard(failure=predicate):
            raise ExceptionGroup("mixed", [ToolError("a"), ExceptionGroup("inner", [TimeoutError()])])
    assert breaker.state(trio.current_time()) is OPEN


@pytest.mark.parametrize("exc_type", [KeyboardInterrupt, SystemExit, GeneratorExit])
async def test_base_exceptions_that_are_not_errors_are_ignored(exc_type: type[BaseException]) -> None:
    breaker = CircuitBreaker(failure_threshold=1, open_timeout=10.0)
    with pytest.raises(exc_type):
        async with breaker.guard():
            raise exc_type
    stats = breaker.statistics(trio.current_time())
    assert (stats.state, stats.ignored) == (CLOSED, 1)


async def test_a_failing_predicate_records_the_call_as_ignored_and_propagates() -> None:
    breaker = CircuitBreaker(failure_threshold=1, open_timeout=10.0)

    def broken(exc: BaseException) -> bool:
        raise LookupError("predicate bug")

    with pytest.raises(LookupError, match="predicate bug") as raised:
        async with breaker.guard(failure=broken):
            raise OSError("down")
    assert isinstance(raised.value.__context__, OSError)
    stats = breaker.statistics(trio.current_time())
    assert (stats.state, stats.ignored, stats.in_flight) == (CLOSED, 1, 0)


async def test_entering_the_guard_checkpoints_before_taking_a_slot() -> None:
    breaker = CircuitBreaker(failure_threshold=1, open_timeout=10.0)
    with trio.CancelScope() as scope:
        scope.cancel()
        async with breaker.guard():
            pytest.fail("a cancelled guard does not run its block")
    assert breaker.statistics(trio.current_time()).in_flight == 0
    # And a refusal checkpoints too, so a task retrying in a loop still lets others run.
    breaker = CircuitBreaker(failure_threshold=1, open_timeout=10.0)
    with pytest.raises(ConnectionError, match="down"):
        async with breaker.guard():
            raise ConnectionError("down")
    with trio.testing.assert_checkpoints(), pytest.raises(CircuitOpen):
        async with breaker.guard():
            pass
