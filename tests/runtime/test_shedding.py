"""The load shedder, driven by plain numbers: rising, hysteresis, stepping down, several signals, statistics."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcp_trio.runtime.shedding import LoadShedder, ShedderStatistics, ShedLevel

NORMAL, CONNECTIONS, REQUESTS = ShedLevel.NORMAL, ShedLevel.REFUSE_CONNECTIONS, ShedLevel.REFUSE_REQUESTS
MB = 1 << 20


def lag_shedder(recover_after: float = 1.0) -> LoadShedder:
    """Loop lag only: connections refused from 1 s, requests from 5 s; calm below 0.8 s and 4 s."""
    return LoadShedder(loop_lag=(1.0, 5.0), recover_ratio=0.8, recover_after=recover_after)


# --- one signal ---------------------------------------------------------------------------------------------


def test_without_readings_nothing_is_shed() -> None:
    shedder = LoadShedder(memory=(100 * MB, 200 * MB), loop_lag=(1.0, 5.0), in_flight=(0.9, 1.0))
    assert shedder.level is NORMAL
    assert shedder.reason is None
    assert shedder.update(0.0) is NORMAL


def test_the_level_rises_at_once_when_a_signal_reaches_a_threshold() -> None:
    shedder = lag_shedder()
    assert shedder.update(0.0, lag=0.999) is NORMAL
    assert shedder.update(0.0, lag=1.0) is CONNECTIONS
    assert shedder.reason == "loop_lag"
    assert shedder.update(0.0, lag=5.0) is REQUESTS
    assert shedder.level is REQUESTS


def test_a_reading_past_both_thresholds_goes_straight_to_refusing_requests() -> None:
    shedder = lag_shedder()
    assert shedder.update(0.0, lag=30.0) is REQUESTS
    assert shedder.statistics(0.0).transitions == 1


def test_the_level_falls_one_step_per_recover_after_of_calm() -> None:
    shedder = lag_shedder(recover_after=1.0)
    shedder.update(0.0, lag=6.0)
    assert shedder.update(0.5, lag=0.0) is REQUESTS  # calm from 0.5
    assert shedder.update(1.25, lag=0.0) is REQUESTS
    assert shedder.update(1.5, lag=0.0) is CONNECTIONS  # 1 s of calm: one step down, and the wait starts over
    assert shedder.update(2.25, lag=0.0) is CONNECTIONS
    assert shedder.update(2.5, lag=0.0) is NORMAL
    assert shedder.reason is None
    assert shedder.statistics(2.5).transitions == 3


def test_each_step_down_waits_its_own_recover_after_even_if_calm_for_longer() -> None:
    shedder = lag_shedder(recover_after=2.0)
    shedder.update(0.0, lag=6.0)
    for now in (1.0, 2.0, 3.0):
        assert shedder.update(now, lag=0.0) is (REQUESTS if now < 3.0 else CONNECTIONS)
    assert shedder.update(4.0) is CONNECTIONS  # calm since 1.0 for this level too, but the step down was at 3.0
    assert shedder.update(5.0) is NORMAL


def test_a_reading_between_the_recovery_ratio_and_the_threshold_holds_the_level() -> None:
    shedder = lag_shedder()
    shedder.update(0.0, lag=1.5)
    for now in range(1, 100):
        assert shedder.update(float(now), lag=0.8) is CONNECTIONS  # 0.8 x 1.0 s: not below it
    assert shedder.update(100.0, lag=0.79) is CONNECTIONS
    assert shedder.update(101.0) is NORMAL


def test_a_reading_back_in_the_band_restarts_the_wait() -> None:
    shedder = lag_shedder(recover_after=1.0)
    shedder.update(0.0, lag=1.0)
    shedder.update(1.0, lag=0.5)
    shedder.update(1.75, lag=0.9)  # not calm: the wait restarts
    assert shedder.update(2.0, lag=0.5) is CONNECTIONS
    assert shedder.update(2.75, lag=0.5) is CONNECTIONS
    assert shedder.update(3.0, lag=0.5) is NORMAL


def test_a_zero_recover_after_steps_down_one_level_per_calm_update() -> None:
    shedder = lag_shedder(recover_after=0.0)
    shedder.update(0.0, lag=9.0)
    assert shedder.update(0.0, lag=0.0) is CONNECTIONS
    assert shedder.update(0.0) is NORMAL


def test_from_refusing_requests_it_steps_down_to_the_level_the_signals_still_call_for() -> None:
    shedder = lag_shedder()
    shedder.update(0.0, lag=6.0)
    shedder.update(1.0, lag=3.0)  # below 4 s: calm for REFUSE_REQUESTS, still above 1 s
    assert shedder.update(2.0) is CONNECTIONS
    assert shedder.update(10.0) is CONNECTIONS
    assert shedder.reason == "loop_lag"


def test_a_rise_while_waiting_to_step_down_cancels_the_wait() -> None:
    shedder = lag_shedder()
    shedder.update(0.0, lag=2.0)
    shedder.update(0.5, lag=0.0)
    assert shedder.update(1.0, lag=5.0) is REQUESTS
    assert shedder.update(1.5, lag=0.0) is REQUESTS  # calm from 1.5, the first calm sample since the rise
    assert shedder.update(2.25) is REQUESTS
    assert shedder.update(2.5) is CONNECTIONS


# --- several signals ----------------------------------------------------------------------------------------


def test_the_signal_calling_for_the_most_wins_and_is_the_reason() -> None:
    shedder = LoadShedder(memory=(100 * MB, 200 * MB), loop_lag=(1.0, 5.0), in_flight=(0.9, 1.0))
    assert shedder.update(0.0, rss=150 * MB, lag=0.1, in_flight=0.5) is CONNECTIONS
    assert shedder.reason == "memory"
    assert shedder.update(1.0, in_flight=1.0) is REQUESTS
    assert shedder.reason == "in_flight"


def test_the_reason_is_the_signal_furthest_over_the_current_level() -> None:
    shedder = LoadShedder(memory=(100 * MB, 200 * MB), loop_lag=(1.0, 5.0))
    shedder.update(0.0, rss=100 * MB, lag=1.5)
    assert shedder.reason == "loop_lag"  # 1.5 x its threshold against 1.0 x
    shedder.update(1.0, rss=100 * MB, lag=0.9)
    assert shedder.reason == "memory"  # the one still holding the level
    assert shedder.level is CONNECTIONS


def test_stepping_down_needs_every_signal_calm() -> None:
    shedder = LoadShedder(memory=(100 * MB, 200 * MB), loop_lag=(1.0, 5.0), recover_after=1.0)
    shedder.update(0.0, rss=50 * MB, lag=2.0)
    shedder.update(1.0, lag=0.0, rss=90 * MB)  # memory in its band (above 80 MB)
    assert shedder.update(5.0) is CONNECTIONS
    shedder.update(6.0, rss=70 * MB)
    assert shedder.update(7.0) is NORMAL


def test_a_disabled_signal_never_sheds_but_its_readings_are_kept() -> None:
    shedder = LoadShedder(loop_lag=(1.0, 5.0))
    assert shedder.update(0.0, rss=10**15, in_flight=50.0) is NORMAL
    stats = shedder.statistics(0.0)
    assert (stats.rss, stats.lag, stats.in_flight) == (10**15, None, 50.0)
    shedder.update(1.0, lag=2.0)
    assert shedder.reason == "loop_lag"


def test_readings_not_given_keep_their_last_value() -> None:
    shedder = LoadShedder(memory=(100.0, 200.0), in_flight=(0.9, 1.0), recover_after=0.0)
    shedder.update(0.0, rss=150.0, in_flight=0.1)
    assert shedder.update(1.0, in_flight=0.2) is CONNECTIONS  # memory still reads 150
    assert shedder.update(2.0, rss=10.0) is NORMAL
    stats = shedder.statistics(2.0)
    assert (stats.rss, stats.in_flight) == (10.0, 0.2)


def test_a_signal_with_no_requests_threshold_only_refuses_connections() -> None:
    shedder = LoadShedder(memory=(100.0, math.inf), loop_lag=(1.0, 5.0))
    assert shedder.update(0.0, rss=1e300) is CONNECTIONS
    assert shedder.update(0.0, lag=5.0) is REQUESTS
    assert shedder.reason == "loop_lag"


# --- statistics and arguments -------------------------------------------------------------------------------


def test_statistics_count_transitions_and_the_time_spent_at_each_level() -> None:
    shedder = lag_shedder(recover_after=1.0)
    assert shedder.statistics(5.0) == ShedderStatistics(
        level=NORMAL,
        reason=None,
        since=None,
        transitions=0,
        time_at_level=(0, 0, 0),
        rss=None,
        lag=None,
        in_flight=None,
    )
    shedder.update(10.0, lag=0.0)
    shedder.update(12.0, lag=7.0)
    shedder.update(12.5, lag=0.25)
    shedder.update(13.5)
    assert shedder.statistics(14.0) == ShedderStatistics(
        level=CONNECTIONS,
        reason="loop_lag",
        since=13.5,
        transitions=2,
        time_at_level=(2.0, 0.5, 1.5),
        rss=None,
        lag=0.25,
        in_flight=None,
    )


def test_time_going_backwards_counts_as_no_time() -> None:
    shedder = lag_shedder(recover_after=1.0)
    shedder.update(10.0, lag=2.0)
    shedder.update(9.0, lag=0.0)  # calm from 9...
    assert shedder.update(9.5) is CONNECTIONS
    assert shedder.update(10.0) is NORMAL  # ...1 s of it, by the clock given
    assert shedder.statistics(9.0).time_at_level == (0.0, 0.0, 0.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"memory": (0.0, 1.0)}, "memory"),
        ({"loop_lag": (2.0, 1.0)}, "loop_lag"),
        ({"in_flight": (math.nan, 1.0)}, "in_flight"),
        ({"in_flight": (0.9, math.nan)}, "in_flight"),
        ({"recover_ratio": 0.0}, "recover_ratio"),
        ({"recover_ratio": 1.5}, "recover_ratio"),
        ({"recover_after": -1.0}, "recover_after"),
        ({"recover_after": math.inf}, "recover_after"),
    ],
)
def test_arguments_out_of_range_are_refused(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        LoadShedder(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("reading", [-1.0, math.nan, math.inf])
def test_a_bad_reading_is_refused_and_changes_nothing(reading: float) -> None:
    shedder = lag_shedder()
    shedder.update(0.0, rss=5.0, lag=2.0)
    with pytest.raises(ValueError, match="reading"):
        shedder.update(1.0, rss=6.0, lag=reading)
    stats = shedder.statistics(1.0)
    assert (stats.rss, stats.lag, stats.level) == (5.0, 2.0, CONNECTIONS)


# --- properties ---------------------------------------------------------------------------------------------

THRESHOLDS = {"rss": (100.0, 200.0), "lag": (1.0, 5.0), "in_flight": (0.5, 1.0)}
RATIO = 0.8
RECOVER_AFTER = 1.0


def edges(connections_at: float, requests_at: float) -> list[float]:
    """Readings on and around every boundary of one signal."""
    points = [RATIO * connections_at, connections_at, RATIO * requests_at, requests_at]
    near = [math.nextafter(x, -math.inf) for x in points] + [math.nextafter(x, math.inf) for x in points]
    return [0.0, *points, *near, 3 * requests_at]


# A third of the updates read all calm, a third read nothing new: calm spells long enough to step down, twice,
# are common.
readings: st.SearchStrategy[dict[str, float]] = st.one_of(
    st.just(dict.fromkeys(THRESHOLDS, 0.0)),
    st.just({}),
    st.fixed_dictionaries({}, optional={name: st.sampled_from(edges(*pair)) for name, pair in THRESHOLDS.items()}),
)
schedules = st.lists(st.tuples(st.sampled_from([0.0, 0.25, 0.5, 1.0, 3.0]), readings), max_size=50)


def target(name: str, value: float | None) -> int:
    connections_at, requests_at = THRESHOLDS[name]
    return 0 if value is None or value < connections_at else 1 if value < requests_at else 2


def calm(level: int, values: dict[str, float | None]) -> bool:
    return all(value is None or value < RATIO * THRESHOLDS[name][level - 1] for name, value in values.items())


@given(schedule=schedules)
def test_the_level_obeys_the_rules_on_any_schedule(schedule: list[tuple[float, dict[str, float]]]) -> None:
    """Up at once; down one level at a time; down exactly when calm has held for ``recover_after``."""
    shedder = LoadShedder(
        memory=THRESHOLDS["rss"],
        loop_lag=THRESHOLDS["lag"],
        in_flight=THRESHOLDS["in_flight"],
        recover_ratio=RATIO,
        recover_after=RECOVER_AFTER,
    )
    values: dict[str, float | None] = dict.fromkeys(THRESHOLDS)
    history: list[tuple[float, dict[str, float | None], int]] = []  # (time, readings, level after)
    now = 0.0
    for step, new in schedule:
        now += step
        values.update(new)
        level = shedder.update(now, **new)
        before = history[-1][2] if history else 0
        history.append((now, dict(values), level))
        assert level >= max(target(name, value) for name, value in values.items()), "up at once"
        assert level >= before - 1, "down one level at a time"
        assert (level > 0) is (shedder.reason is not None)
        if before == 0:
            continue
        # When did the current calm spell start? Walk back over calm samples, no further than the update that
        # brought the level to ``before``.
        calm_since = None
        j = len(history) - 1
        while j >= 0 and calm(before, history[j][1]):
            calm_since = history[j][0]
            if j == 0 or history[j - 1][2] != before:
                break
            j -= 1
        held = calm_since is not None and now - calm_since >= RECOVER_AFTER
        assert (level < before) is held, "down exactly when calm has held long enough"


@given(
    level=st.sampled_from([CONNECTIONS, REQUESTS]),
    swings=st.lists(st.tuples(st.floats(0.0, 10.0), st.floats(0.0, 1.0)), max_size=100),
)
def test_a_signal_oscillating_between_the_threshold_and_its_recovery_ratio_never_lowers_the_level(
    level: ShedLevel, swings: list[tuple[float, float]]
) -> None:
    threshold = (1.0, 5.0)[level - 1]
    shedder = lag_shedder(recover_after=0.5)
    assert shedder.update(0.0, lag=threshold) is level
    now = 0.0
    for step, where in swings:
        now += step
        lag = min(threshold, RATIO * threshold + where * (threshold - RATIO * threshold))
        assert shedder.update(now, lag=lag) is level
