"""Pure restart policies: OTP's intensity window, and an optional backoff. No trio, no clock: pass ``now``.

OTP counts restarts per supervisor, not per child: each restart is stamped with the time it was decided;
stamps older than ``period`` seconds drop out; when more than ``intensity`` remain, the supervisor gives up.
A restart whose start fails is retried, and each retry is stamped like any other restart.
"""

from __future__ import annotations

import math
from collections import deque

import attrs

__all__ = ["RestartIntensity", "Backoff", "DEFAULT_INTENSITY", "DEFAULT_PERIOD"]

#: OTP's defaults: one restart within five seconds.
DEFAULT_INTENSITY: int = 1
DEFAULT_PERIOD: float = 5.0


class RestartIntensity:
    """The supervisor-wide restart window.

    Args:
        intensity: restarts tolerated within ``period`` (>= 0). One more and :meth:`add_restart` says stop.
        period: window length in seconds (> 0). A stamp exactly ``period`` old still counts, as in OTP.
    """

    __slots__ = ("_stamps", "intensity", "period")

    def __init__(self, intensity: int = DEFAULT_INTENSITY, period: float = DEFAULT_PERIOD) -> None:
        if isinstance(intensity, bool) or not isinstance(intensity, int) or intensity < 0:
            raise ValueError(f"intensity must be an int >= 0, not {intensity!r}")
        if not (0 < period < math.inf):
            raise ValueError(f"period must be finite seconds > 0, not {period!r}")
        self.intensity = intensity
        self.period = float(period)
        self._stamps: deque[float] = deque()

    def _expire(self, now: float) -> None:
        threshold = now - self.period
        stamps = self._stamps
        while stamps and stamps[0] < threshold:
            stamps.popleft()

    def add_restart(self, now: float) -> bool:
        """Record a restart at ``now``; return False when it exceeds the intensity (time to escalate)."""
        self._expire(now)
        self._stamps.append(now)
        return len(self._stamps) <= self.intensity

    def restarts_in_window(self, now: float) -> int:
        """Restarts still inside the window at ``now`` (for statistics and backoff)."""
        self._expire(now)
        return len(self._stamps)


@attrs.frozen
class Backoff:
    """Optional delay before a restart, growing with the restarts already in the intensity window.

    Off unless passed to a supervisor; when off, restarts are immediate as in OTP. The restart is counted
    toward intensity when it is decided, before the delay, so backoff never hides a restart from the window
    (though by spreading restarts out it can keep a flapping child under the limit, which is its purpose).

    Args:
        initial: delay in seconds for the first restart in an empty window.
        factor: multiplier per restart already in the window.
        maximum: cap in seconds.
    """

    initial: float = 0.1
    factor: float = 2.0
    maximum: float = 30.0

    def __attrs_post_init__(self) -> None:
        if not (0 <= self.initial <= self.maximum < math.inf) or self.factor < 1:
            raise ValueError(f"invalid backoff {self!r}: need 0 <= initial <= maximum < inf and factor >= 1")

    def delay(self, recent_restarts: int) -> float:
        """Seconds to wait before a restart, given the restarts already in the window before it."""
        exponent = max(recent_restarts, 0)
        if exponent > 64:
            return self.maximum
        return min(self.maximum, self.initial * self.factor**exponent)
