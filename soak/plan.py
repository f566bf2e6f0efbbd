"""When each generated session opens, what it sends in which phase, and when it ends: one plan, followed alike
by both engines (``soak.generator``'s Trio client sessions and ``soak.lean``'s event loop)."""

from __future__ import annotations

from typing import Any, Final, NamedTuple

__all__ = ["CALL_TIMEOUT", "LATE", "OPEN_CONCURRENCY", "Phase", "SessionPlan", "session_plan"]

LATE: Final = 0.010  # a send this long after its intended time is counted as late
OPEN_CONCURRENCY: Final = 100  # handshakes in progress at once, per generator process
CALL_TIMEOUT: Final = 30.0


class Phase(NamedTuple):
    """Calls from ``begin`` until ``until``: open loop at ``rate`` per second (each timed from when it was due),
    with at most ``window`` unanswered when ``window`` is set; closed loop (``window`` in flight, each sent when
    the previous one is answered) when ``rate`` is 0. A phase starts once the previous one's calls are answered:
    sends due meanwhile go out late, and their latency shows it."""

    rate: float
    begin: float
    until: float
    window: int = 0


class SessionPlan(NamedTuple):
    opens: float
    phases: tuple[Phase, ...]
    ping_at: float | None  # idle: the ping every session must answer at the end


def session_plan(config: dict[str, Any], index: int, start: float) -> SessionPlan:
    """Session ``index``'s plan, on the clock where the common start is ``start``.

    Sessions open over ``ramp`` (session ``k`` at ``ramp * k / sessions``) and, after ``duration``, close in the
    same order over ``ramp`` again. Session ``k``'s sends at a rate are shifted by ``k / sessions`` of an
    interval, so the sessions' calls are spread evenly rather than sent in bursts of all of them at once (which
    would measure the burst's own queueing). ``bomb``: ``rate`` through ``warmup``, then the bombing until the hold ends
    (``bomb_rate`` open loop with at most ``depth`` unanswered, or ``depth`` in flight closed loop), then
    ``rate`` again through ``cooldown``, in which the recovery is measured.
    """
    sessions, ramp, rate = config["sessions"], config["ramp"], config["rate"]
    opens = start + (ramp * index / sessions if ramp else 0.0)
    warm_end = start + config["warmup"]
    hold_end = warm_end + ramp + config["duration"]
    closes = hold_end + (ramp * (sessions - index) / sessions if ramp else 0.0)
    scenario = config["scenario"]
    share = index / sessions

    def paced(rate: float, begin: float, until: float, window: int = 0) -> Phase:
        return Phase(rate, begin + share / rate, until, window)

    if scenario == "idle":
        # Each session pings after the same time held, in the order they opened: not all at once at the end (a
        # herd of 100,000 pings in one instant measures the herd, and once held a worker's loop for 10 s).
        return SessionPlan(opens, (), hold_end + (opens - start))
    if scenario == "bomb":
        bombing = (
            paced(config["bomb_rate"], warm_end, hold_end, config["depth"])
            if config.get("bomb_rate")
            else Phase(0.0, warm_end, hold_end, config["depth"])
        )
        phases = (paced(rate, opens, warm_end), bombing, paced(rate, hold_end, closes + config["cooldown"]))
        return SessionPlan(opens, phases, None)
    return SessionPlan(opens, (paced(rate, opens, closes),), None)
