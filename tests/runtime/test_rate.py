"""Token buckets, driven by plain numbers: exact arithmetic first, then properties over arbitrary schedules.

Times, rates and costs in the exact tests are dyadic (0.5, 0.25, ...) so float arithmetic is exact and the
assertions can use ``==``.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from mcp_trio.runtime.rate import KeyedBuckets, KeyedBucketsStatistics, TokenBucket

# --- TokenBucket: exact arithmetic --------------------------------------------------------------------------


def test_a_new_bucket_is_full_and_grants_its_whole_burst_at_once() -> None:
    bucket = TokenBucket(rate=2.0, burst=4.0)
    assert bucket.tokens(100.0) == 4.0
    assert [bucket.take(100.0) for _ in range(5)] == [True, True, True, True, False]
    assert bucket.tokens(100.0) == 0.0


def test_tokens_refill_continuously_at_the_rate() -> None:
    bucket = TokenBucket(rate=2.0, burst=4.0)
    assert bucket.take(10.0, cost=4.0)
    assert bucket.tokens(10.25) == 0.5
    assert not bucket.take(10.25)
    assert bucket.take(10.5)
    assert bucket.tokens(10.5) == 0.0
    assert bucket.tokens(11.5) == 2.0


def test_the_refill_stops_at_the_burst() -> None:
    bucket = TokenBucket(rate=2.0, burst=4.0)
    bucket.take(0.0, cost=3.0)
    assert bucket.tokens(0.5) == 2.0
    assert bucket.tokens(1000.0) == 4.0
    assert bucket.take(1000.0, cost=4.0)
    assert not bucket.take(1000.0, cost=0.5)


def test_a_cost_above_one_takes_that_many_tokens_or_none() -> None:
    bucket = TokenBucket(rate=1.0, burst=10.0)
    assert bucket.take(0.0, cost=7.0)
    assert bucket.tokens(0.0) == 3.0
    assert not bucket.take(0.0, cost=3.5)
    assert bucket.tokens(0.0) == 3.0
    assert bucket.take(0.5, cost=3.5)
    assert bucket.tokens(0.5) == 0.0


def test_a_zero_cost_is_always_granted_and_takes_nothing() -> None:
    bucket = TokenBucket(rate=1.0, burst=1.0)
    bucket.take(0.0)
    assert bucket.take(0.0, cost=0.0)
    assert bucket.tokens(0.0) == 0.0


def test_retry_after_is_the_exact_wait_for_the_missing_tokens() -> None:
    bucket = TokenBucket(rate=4.0, burst=8.0)
    bucket.take(0.0, cost=8.0)
    assert bucket.retry_after(0.0) == 0.25
    assert bucket.retry_after(0.0, cost=8.0) == 2.0
    assert bucket.retry_after(0.125) == 0.125
    assert not bucket.take(0.25 - 2**-20)
    assert bucket.take(0.25)
    assert bucket.retry_after(0.25) == 0.25


def test_retry_after_is_zero_when_the_tokens_are_there() -> None:
    bucket = TokenBucket(rate=1.0, burst=2.0)
    assert bucket.retry_after(0.0) == 0.0
    assert bucket.retry_after(0.0, cost=2.0) == 0.0
    bucket.take(0.0)
    assert bucket.retry_after(0.0) == 0.0


def test_retry_after_is_infinite_for_a_cost_above_the_burst() -> None:
    bucket = TokenBucket(rate=1.0, burst=2.0)
    assert bucket.retry_after(0.0, cost=2.5) == math.inf
    assert not bucket.take(1e9, cost=2.5)


def test_time_going_backwards_neither_refills_nor_unfills() -> None:
    bucket = TokenBucket(rate=1.0, burst=4.0)
    bucket.take(10.0, cost=4.0)
    assert bucket.tokens(5.0) == 0.0
    assert not bucket.take(5.0)
    assert bucket.retry_after(9.0) == 2.0  # one second back to the stamp, one more to refill
    assert bucket.take(11.0)
    assert bucket.take(10.0, cost=0.0)
    # The stamp did not move back to 10: the next token is due at 12, not 11.
    assert bucket.tokens(11.5) == 0.5


def test_a_bucket_that_refills_while_full_does_not_bank_the_excess() -> None:
    bucket = TokenBucket(rate=1.0, burst=2.0)
    bucket.take(0.0)
    bucket.take(100.0)
    assert bucket.tokens(100.0) == 1.0


@pytest.mark.parametrize(
    ("rate", "burst"),
    [(0.0, 1.0), (-1.0, 1.0), (math.inf, 1.0), (math.nan, 1.0), (1.0, 0.5), (1.0, math.inf), (1.0, math.nan)],
)
def test_a_rate_or_burst_out_of_range_is_refused(rate: float, burst: float) -> None:
    with pytest.raises(ValueError, match=r"rate|burst"):
        TokenBucket(rate, burst)
    with pytest.raises(ValueError, match=r"rate|burst"):
        KeyedBuckets(rate, burst, max_keys=10)


@pytest.mark.parametrize("cost", [-1.0, math.nan])
def test_a_negative_or_nan_cost_is_refused(cost: float) -> None:
    bucket = TokenBucket(1.0, 1.0)
    with pytest.raises(ValueError, match="cost"):
        bucket.take(0.0, cost)
    with pytest.raises(ValueError, match="cost"):
        bucket.retry_after(0.0, cost)
    keyed = KeyedBuckets(1.0, 1.0, max_keys=1)
    with pytest.raises(ValueError, match="cost"):
        keyed.take("a", 0.0, cost)
    with pytest.raises(ValueError, match="cost"):
        keyed.retry_after("b", 0.0, cost)
    assert bucket.tokens(0.0) == 1.0


def test_retry_after_rounds_up_where_floating_point_would_leave_the_bucket_short() -> None:
    # Found by search: the plain quotient, missing / rate, is an ulp or so too short at this clock reading.
    bucket = TokenBucket(rate=7.0, burst=10.0)
    now = 895575.3946414917
    bucket.take(now, cost=10.0)
    later = now + 0.0005
    cost = 5.077172505113161
    plain = (cost - bucket.tokens(later)) / 7.0
    assert not bucket.take(later + plain, cost)  # what the naive formula promises is refused...
    wait = bucket.retry_after(later, cost)
    assert plain < wait < plain + 1e-9
    assert bucket.take(later + wait, cost)  # ...while the promise kept is granted


# --- TokenBucket: properties --------------------------------------------------------------------------------

rates = st.floats(min_value=0.01, max_value=1000.0)
bursts = st.floats(min_value=1.0, max_value=1000.0)
steps = st.lists(
    st.tuples(
        st.floats(min_value=-1.0, max_value=10.0),  # time step; negative: the clock went backwards
        st.floats(min_value=0.0, max_value=50.0),  # cost
    ),
    max_size=60,
)


starts = st.floats(min_value=0.0, max_value=1e7)  # a monotonic clock: often large, where rounding bites


@given(rate=rates, burst=bursts, start=starts, schedule=steps)
def test_what_is_granted_in_any_window_never_exceeds_the_burst_plus_the_refill(
    rate: float, burst: float, start: float, schedule: list[tuple[float, float]]
) -> None:
    bucket = TokenBucket(rate, burst)
    now = latest = start
    grants: list[tuple[float, float]] = []  # (time, cost); time as the bucket sees it: it never goes back
    for step, cost in schedule:
        now += step
        latest = max(latest, now)
        if bucket.take(now, cost):
            grants.append((latest, cost))
        assert 0 <= bucket.tokens(now) <= burst
    for first, (opened, _) in enumerate(grants):
        granted = 0.0
        for closed, cost in grants[first:]:
            granted += cost
            allowance = burst + rate * (closed - opened)
            assert granted <= allowance + 1e-9 * (allowance + granted)


@given(rate=rates, burst=bursts, start=starts, schedule=steps)
def test_a_refused_take_changes_nothing(
    rate: float, burst: float, start: float, schedule: list[tuple[float, float]]
) -> None:
    # ``twin`` sees only the takes ``bucket`` granted: their states must agree bit for bit throughout.
    bucket, twin = TokenBucket(rate, burst), TokenBucket(rate, burst)
    now = start
    for step, cost in schedule:
        now += step
        if bucket.take(now, cost):
            assert twin.take(now, cost)
        for later in (now, now + 0.5, now + 100.0):
            assert bucket.tokens(later) == twin.tokens(later)
        assert bucket.retry_after(now, cost) == twin.retry_after(now, cost)


@given(rate=rates, burst=bursts, start=starts, schedule=steps, cost=st.floats(min_value=0.0, max_value=1000.0))
def test_retrying_after_retry_after_is_granted(
    rate: float, burst: float, start: float, schedule: list[tuple[float, float]], cost: float
) -> None:
    bucket = TokenBucket(rate, burst)
    now = start
    for step, spent in schedule:
        now += step
        bucket.take(now, spent)
    wait = bucket.retry_after(now, cost)
    if cost > burst:
        assert wait == math.inf
        return
    assert wait >= 0
    assert (wait == 0) is (bucket.tokens(now) >= cost)
    assert bucket.take(now + wait, cost)


# --- KeyedBuckets -------------------------------------------------------------------------------------------


def test_each_key_has_its_own_bucket() -> None:
    keyed = KeyedBuckets(rate=1.0, burst=2.0, max_keys=10)
    assert [keyed.take("a", 0.0) for _ in range(3)] == [True, True, False]
    assert keyed.take("b", 0.0)
    assert keyed.retry_after("a", 0.0) == 1.0
    assert keyed.retry_after("b", 0.0) == 0.0
    assert len(keyed) == 2


def test_the_least_recently_used_key_is_evicted_at_the_bound_and_comes_back_full() -> None:
    keyed = KeyedBuckets(rate=2**-10, burst=1.0, max_keys=2)
    assert keyed.take("a", 0.0)
    assert keyed.take("b", 0.0)
    assert not keyed.take("a", 0.0)  # a is now more recently used than b
    assert keyed.take("c", 0.0)  # evicts b
    assert len(keyed) == 2
    assert not keyed.take("a", 0.0)  # still there, still empty
    assert keyed.take("b", 0.0)  # back, full (the price of the bound); evicts c
    assert keyed.take("c", 0.0)  # evicts a
    assert keyed.take("a", 0.0)
    assert keyed.statistics() == KeyedBucketsStatistics(
        keys=2, max_keys=2, rate=2**-10, burst=1.0, evictions=4, refusals=2, grants=6
    )


def test_retry_after_on_an_unknown_key_neither_adds_it_nor_evicts_anyone() -> None:
    keyed = KeyedBuckets(rate=1.0, burst=2.0, max_keys=1)
    keyed.take("a", 0.0, cost=2.0)
    assert keyed.retry_after("b", 0.0) == 0.0
    assert keyed.retry_after("b", 0.0, cost=3.0) == math.inf
    assert len(keyed) == 1
    assert keyed.retry_after("a", 0.0) == 1.0
    assert keyed.statistics().evictions == 0


def test_a_bound_below_one_key_is_refused() -> None:
    with pytest.raises(ValueError, match="max_keys"):
        KeyedBuckets(1.0, 1.0, max_keys=0)


def test_statistics_start_empty_and_echo_the_settings() -> None:
    keyed = KeyedBuckets(rate=5.0, burst=10.0, max_keys=3)
    assert keyed.statistics() == KeyedBucketsStatistics(
        keys=0, max_keys=3, rate=5.0, burst=10.0, evictions=0, refusals=0, grants=0
    )


class KeyedBucketsMachine(RuleBasedStateMachine):
    """Any schedule of takes over a few keys, against a model: an LRU-ordered dict of reference buckets."""

    keyed: KeyedBuckets

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0
        self.model: OrderedDict[int, TokenBucket] = OrderedDict()
        self.evictions = self.refusals = self.grants = 0

    @initialize(max_keys=st.integers(1, 4), rate=st.sampled_from([0.25, 1.0, 4.0]), burst=st.sampled_from([1.0, 3.0]))
    def create(self, max_keys: int, rate: float, burst: float) -> None:
        self.max_keys, self.rate, self.burst = max_keys, rate, burst
        self.keyed = KeyedBuckets(rate, burst, max_keys)

    @rule(dt=st.sampled_from([0.0, 0.0, 0.25, 0.5, 2.0]))
    def advance(self, dt: float) -> None:
        self.now += dt

    @rule(key=st.integers(0, 6), cost=st.sampled_from([0.5, 1.0, 2.0]))
    def take(self, key: int, cost: float) -> None:
        if key in self.model:
            self.model.move_to_end(key)
        else:
            if len(self.model) == self.max_keys:
                self.model.popitem(last=False)
                self.evictions += 1
            self.model[key] = TokenBucket(self.rate, self.burst)
        expected = self.model[key].take(self.now, cost)
        assert self.keyed.take(key, self.now, cost) is expected
        if expected:
            self.grants += 1
        else:
            self.refusals += 1

    @invariant()
    def agrees_with_the_model(self) -> None:
        assert len(self.keyed) == len(self.model) <= self.max_keys
        for key in range(7):
            bucket = self.model.get(key)
            expected = 0.0 if bucket is None else bucket.retry_after(self.now)
            assert self.keyed.retry_after(key, self.now) == expected
        assert self.keyed.statistics() == KeyedBucketsStatistics(
            keys=len(self.model),
            max_keys=self.max_keys,
            rate=self.rate,
            burst=self.burst,
            evictions=self.evictions,
            refusals=self.refusals,
            grants=self.grants,
        )


TestKeyedBucketsMachine = KeyedBucketsMachine.TestCase
