"""The intensity window and backoff are pure policies: plain numbers in, decisions out, no trio."""

from __future__ import annotations

import pytest

from supervision import Backoff, RestartIntensity


def test_default_window_allows_one_restart_in_five_seconds() -> None:
    window = RestartIntensity()
    assert (window.intensity, window.period) == (1, 5.0)
    assert window.add_restart(0.0) is True
    assert window.add_restart(1.0) is False


def test_restart_intensity_plus_one_within_period_is_refused() -> None:
    window = RestartIntensity(intensity=3, period=10.0)
    assert [window.add_restart(t) for t in (0.0, 1.0, 2.0)] == [True, True, True]
    assert window.add_restart(9.0) is False


def test_restarts_spread_wider_than_the_period_are_all_allowed() -> None:
    window = RestartIntensity(intensity=1, period=5.0)
    assert all(window.add_restart(t) for t in (0.0, 5.5, 11.0, 16.5))


def test_a_stamp_exactly_one_period_old_still_counts() -> None:
    window = RestartIntensity(intensity=1, period=5.0)
    assert window.add_restart(0.0)
    assert window.add_restart(5.0) is False


def test_zero_intensity_refuses_the_first_restart() -> None:
    assert RestartIntensity(intensity=0, period=1.0).add_restart(0.0) is False


def test_restarts_in_window_forgets_old_stamps() -> None:
    window = RestartIntensity(intensity=5, period=2.0)
    for t in (0.0, 1.0, 2.5):
        window.add_restart(t)
    assert window.restarts_in_window(2.5) == 2
    assert window.restarts_in_window(10.0) == 0


@pytest.mark.parametrize(("intensity", "period"), [(-1, 5.0), (1, 0.0), (1, float("inf")), (True, 5.0)])
def test_invalid_window_settings_are_rejected(intensity: int, period: float) -> None:
    with pytest.raises(ValueError, match="must be"):
        RestartIntensity(intensity, period)


def test_backoff_grows_geometrically_up_to_its_cap() -> None:
    backoff = Backoff(initial=0.5, factor=2.0, maximum=3.0)
    assert [backoff.delay(n) for n in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert backoff.delay(10_000) == 3.0


def test_backoff_rejects_a_shrinking_factor() -> None:
    with pytest.raises(ValueError, match="invalid backoff"):
        Backoff(factor=0.5)
