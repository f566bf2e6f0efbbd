"""Load shedding: from sampled pressure signals, decide whether to refuse new connections or new requests.

Theory of operation. The runtime samples three signals periodically and hands them to :meth:`LoadShedder.update`:
process memory (RSS bytes), event-loop lag (seconds) and in-flight work (a fraction of the global in-flight
limit). Each enabled signal has two thresholds, ``(connections_at, requests_at)``. The shedding level is:

- ``NORMAL`` (0): everything is accepted;
- ``REFUSE_CONNECTIONS`` (1): new connections are refused;
- ``REFUSE_REQUESTS`` (2): new connections and new requests are refused; requests already accepted finish.

Hysteresis, so that a signal hovering at a threshold does not make the level flap:

- **Up at once.** As soon as any signal reaches a level's threshold (``>=``), the level is at least that.
- **Down slowly, one level at a time.** At level L the shedder is *calm* when every signal is below
  ``recover_ratio`` x its level-L threshold (strictly). After ``recover_after`` seconds of calm samples
  it goes down to L - 1, and the wait starts over there: each step down gets its own ``recover_after`` to see
  the effect of letting more work in before letting in more still. A sample that is not calm (a signal back in
  the band between ``recover_ratio`` x threshold and the threshold) restarts the wait. So a signal oscillating
  anywhere at or above ``recover_ratio`` x threshold never lowers the level.

"Stayed below for ``recover_after``" is judged on samples: calm starts at the first calm sample and the level
drops at the first calm sample ``recover_after`` or more later. A signal not given to an update keeps its
last reading; a signal with no reading yet, or disabled (thresholds None), is calm and never raises the level.
The :attr:`~LoadShedder.reason` is the signal furthest over (or nearest to) the current level's threshold:
the one holding the level there.

Time is passed in (``now``, seconds on a monotonic clock), so the policy is pure and tested with numbers.
Time that goes backwards counts as no time: it never adds to a calm spell or to the time spent at a level.
"""

from __future__ import annotations

import enum
import math
from typing import Final

import attrs

__all__ = ["LoadShedder", "ShedLevel", "ShedderStatistics"]


class ShedLevel(enum.IntEnum):
    """How much new work is refused; higher refuses more, so levels compare as numbers."""

    NORMAL = 0
    REFUSE_CONNECTIONS = 1
    REFUSE_REQUESTS = 2


_LEVELS: Final = tuple(ShedLevel)

#: A signal's thresholds: ``(connections_at, requests_at)``.
Thresholds = tuple[float, float]


@attrs.frozen
class ShedderStatistics:
    """A snapshot of a :class:`LoadShedder`. Times are seconds on the clock ``update`` was given.

    Attributes:
        level: the current level.
        reason: the signal holding it there (``"memory"``, ``"loop_lag"``, ``"in_flight"``); None at NORMAL.
        since: when the current level began (the first update, for the first one); None before any update.
        transitions: level changes so far, up or down.
        time_at_level: seconds spent at each level, indexed by level, up to the time asked.
        rss: the last memory reading, bytes; None if none yet. Readings are kept for disabled signals too.
        lag: the last loop-lag reading, seconds; None if none yet.
        in_flight: the last in-flight reading, a fraction of the limit; None if none yet.
    """

    level: ShedLevel
    reason: str | None
    since: float | None
    transitions: int
    time_at_level: tuple[float, float, float]
    rss: float | None
    lag: float | None
    in_flight: float | None


class _Signal:
    """One signal's thresholds by level (index 0 unused) and its last reading.

    A disabled signal has infinite thresholds: it never raises the level and is always calm, yet its readings
    are kept for the statistics.
    """

    __slots__ = ("calm_below", "enabled", "reading", "reason", "rise_at")

    def __init__(self, reason: str, thresholds: Thresholds | None, recover_ratio: float) -> None:
        self.enabled = thresholds is not None
        connections_at, requests_at = (math.inf, math.inf) if thresholds is None else thresholds
        if not (0 < connections_at <= requests_at):
            raise ValueError(
                f"{reason} thresholds must be (connections_at, requests_at) with 0 < connections_at <= "
                f"requests_at (math.inf: never), not {thresholds!r}"
            )
        self.reason = reason
        self.rise_at = (0.0, float(connections_at), float(requests_at))
        self.calm_below = (0.0, recover_ratio * connections_at, recover_ratio * requests_at)
        self.reading: float | None = None

    def target(self) -> int:
        """The level this signal alone calls for."""
        reading = self.reading
        if reading is None or reading < self.rise_at[1]:
            return 0
        return 2 if reading >= self.rise_at[2] else 1


class LoadShedder:
    """Turns sampled memory, loop lag and in-flight work into a :class:`ShedLevel`, with hysteresis.

    See the module docstring for the rules. Not thread-safe.

    Args:
        memory: ``(connections_at, requests_at)`` in bytes of resident memory (RSS), or None to ignore memory.
        loop_lag: the same in seconds of event-loop lag, or None to ignore it.
        in_flight: the same as a fraction of the global in-flight limit (e.g. ``(0.9, 1.0)``), or None.
        recover_ratio: a level is left only once every signal is below this fraction of that level's
            thresholds (0 < ratio <= 1).
        recover_after: seconds those signals must stay below before the level goes down one (finite, >= 0).

    In each pair ``0 < connections_at <= requests_at``; ``math.inf`` as ``requests_at`` makes a signal that
    only ever refuses connections.

    Raises:
        ValueError: for thresholds, ratio or delay out of range.
    """

    __slots__ = ("_calm_since", "_level", "_signals", "_since", "_time_at", "_transitions", "recover_after")

    def __init__(
        self,
        *,
        memory: Thresholds | None = None,
        loop_lag: Thresholds | None = None,
        in_flight: Thresholds | None = None,
        recover_ratio: float = 0.8,
        recover_after: float = 1.0,
    ) -> None:
        if not (0 < recover_ratio <= 1):
            raise ValueError(f"recover_ratio must be > 0 and <= 1, not {recover_ratio!r}")
        if not (0 <= recover_after < math.inf):
            raise ValueError(f"recover_after must be finite seconds >= 0, not {recover_after!r}")
        self.recover_after = float(recover_after)
        # In the order of ``update``'s arguments, which is also the order ties are broken in.
        self._signals = (
            _Signal("memory", memory, recover_ratio),
            _Signal("loop_lag", loop_lag, recover_ratio),
            _Signal("in_flight", in_flight, recover_ratio),
        )
        self._level = ShedLevel.NORMAL
        self._since: float | None = None
        self._calm_since: float | None = None
        self._transitions = 0
        self._time_at = [0.0, 0.0, 0.0]

    @property
    def level(self) -> ShedLevel:
        """The current level, as of the last :meth:`update`."""
        return self._level

    @property
    def reason(self) -> str | None:
        """The signal holding the current level (``"memory"``, ``"loop_lag"``, ``"in_flight"``); None at NORMAL."""
        level = self._level
        if level is ShedLevel.NORMAL:
            return None
        best: _Signal | None = None
        best_pressure = -math.inf
        for signal in self._signals:
            if not signal.enabled or signal.reading is None:
                continue
            pressure = signal.reading / signal.rise_at[level]
            if pressure > best_pressure:
                best, best_pressure = signal, pressure
        return None if best is None else best.reason

    def update(
        self, now: float, *, rss: float | None = None, lag: float | None = None, in_flight: float | None = None
    ) -> ShedLevel:
        """Take new readings at ``now`` and return the level. Readings not given keep their last value.

        Readings of disabled signals are only kept for :meth:`statistics`.

        Raises:
            ValueError: for a reading that is negative or not finite (nothing is updated then).
        """
        readings = (rss, lag, in_flight)
        for reading in readings:
            if reading is not None and not (0 <= reading < math.inf):
                raise ValueError(f"readings must be finite numbers >= 0, not {reading!r}")
        for signal, reading in zip(self._signals, readings, strict=True):
            if reading is not None:
                signal.reading = float(reading)
        if self._since is None:
            self._since = now
        level = self._level
        target = max(signal.target() for signal in self._signals)
        if target > level:
            self._move(now, target)
        elif level > 0:
            if not self._calm(level):
                self._calm_since = None
            else:
                if self._calm_since is None:
                    self._calm_since = now
                if now - self._calm_since >= self.recover_after:
                    self._move(now, level - 1)
        return self._level

    def statistics(self, now: float) -> ShedderStatistics:
        """A snapshot, with the time at the current level counted up to ``now``."""
        time_at = list(self._time_at)
        if self._since is not None and now > self._since:
            time_at[self._level] += now - self._since
        memory, lag, in_flight = (signal.reading for signal in self._signals)
        return ShedderStatistics(
            level=self._level,
            reason=self.reason,
            since=self._since,
            transitions=self._transitions,
            time_at_level=(time_at[0], time_at[1], time_at[2]),
            rss=memory,
            lag=lag,
            in_flight=in_flight,
        )

    def _calm(self, level: int) -> bool:
        """Whether every signal is below its recovery threshold for ``level``."""
        for signal in self._signals:
            if signal.reading is not None and not signal.reading < signal.calm_below[level]:
                return False
        return True

    def _move(self, now: float, level: int) -> None:
        since = self._since
        assert since is not None
        if now > since:
            self._time_at[self._level] += now - since
            self._since = now
        self._level = _LEVELS[level]
        self._transitions += 1
        # The wait to come down starts over at every change; a calm sample right now counts as its start.
        self._calm_since = now if level > 0 and self._calm(level) else None
