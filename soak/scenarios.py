"""The seed scenarios, with their defaults (each may be overridden on the command line).

* ``baseline`` (seed 002, test 1): ``sessions`` sessions at ``rate`` calls/s each for ``duration`` seconds.
* ``flood`` (seed 002, test 2): sessions ramp from 0 to ``sessions`` over ``ramp`` seconds while each sends
  ``rate`` calls/s, hold for ``duration``, then ramp down over ``ramp``.
* ``bomb`` (seed 002, test 3): ``sessions`` sessions each keep ``depth`` calls in flight as fast as the server
  answers (closed loop), or with ``bomb_rate`` send that many calls per second each with at most ``depth``
  unanswered (open loop: the load does not shrink when the server slows), after ``warmup`` seconds at ``rate``
  and before ``cooldown`` seconds at ``rate`` again, in which the time until latency is back to its warm-up
  level is the recovery.
* ``idle``: open ``sessions`` sessions, hold them ``duration`` seconds, then every one must answer a ping; the
  establishment rate and the server's memory per session are reported.
* ``mix``: ``sessions`` sessions at ``rate`` each with a realistic mix (calls, a slow tool, resource reads,
  prompts, listings) for long soaks; with our server, its connections must return to their baseline after.
"""

from __future__ import annotations

import re
from typing import Any, Final

import attrs

__all__ = ["MIX", "Scenario", "SCENARIOS", "parse_sla", "SlaGate", "operation"]


@attrs.frozen
class Scenario:
    name: str
    sessions: int
    rate: float = 0.0  # calls per second per session (open loop); 0: none
    duration: float = 60.0
    ramp: float = 0.0
    depth: int = 1  # bomb: calls in flight per session (with bomb_rate: at most this many unanswered)
    bomb_rate: float = 0.0  # bomb: calls per second per session while bombing (open loop); 0: closed loop
    warmup: float = 0.0
    cooldown: float = 0.0
    tool: str = "echo"

    def with_overrides(self, **overrides: Any) -> Scenario:
        return attrs.evolve(self, **{key: value for key, value in overrides.items() if value is not None})

    @property
    def total_seconds(self) -> float:
        return self.warmup + 2 * self.ramp + self.duration + self.cooldown


SCENARIOS: Final = {
    "baseline": Scenario("baseline", sessions=25, rate=100, duration=300),
    "flood": Scenario("flood", sessions=500, rate=50, duration=60, ramp=300),
    "bomb": Scenario("bomb", sessions=20, rate=10, duration=60, depth=16, warmup=10, cooldown=20),
    "idle": Scenario("idle", sessions=1000, duration=60),
    "mix": Scenario("mix", sessions=50, rate=20, duration=300, tool="mix"),
}


Operation = tuple[str, dict[str, Any]]

_ECHO: Final[Operation] = ("tools/call", {"name": "echo", "arguments": {"text": "soak"}})
_SLOW: Final[Operation] = ("tools/call", {"name": "sleep", "arguments": {"seconds": 0.05}})
_READ: Final[Operation] = ("resources/read", {"uri": "demo://counter"})
_PROMPT: Final[Operation] = ("prompts/get", {"name": "summarize", "arguments": {"text": "soak"}})
_LIST: Final[Operation] = ("tools/list", {})

#: The ``mix`` scenario's cycle of 20 requests against the demo server: half cheap calls, a slow tool, reads,
#: prompts and listings (a fixed cycle: runs are reproducible).
MIX: Final[tuple[Operation, ...]] = (
    *[_ECHO] * 10,
    _SLOW,
    _SLOW,
    _READ,
    _READ,
    _READ,
    _PROMPT,
    _PROMPT,
    _PROMPT,
    _LIST,
    _LIST,
)


def operation(tool: str, turn: int) -> Operation:
    """The request (method, params) a session sends for its ``turn``-th call: ``tool`` with ``echo``'s argument
    (or none), or the mix's cycle when ``tool`` is ``mix``. Both engines send exactly these."""
    if tool == "mix":
        return MIX[turn % len(MIX)]
    if tool == "echo":
        return _ECHO
    return ("tools/call", {"name": tool, "arguments": {}})


@attrs.frozen
class SlaGate:
    """One gate: ``p95<=150ms``-style latency percentiles, ``errors`` (a fraction of calls), ``rss_growth``."""

    name: str
    limit: float  # seconds for percentiles; a fraction for errors and rss_growth

    def describe(self) -> str:
        if self.name.startswith("p"):
            return f"{self.name} <= {self.limit * 1000:g} ms"
        return f"{self.name} <= {self.limit * 100:g}%"


_GATE: Final = re.compile(r"^(p\d{1,2}(?:\.\d+)?|errors|rss_growth)=(\d+(?:\.\d+)?)(ms|s|%)$")


def parse_sla(text: str) -> list[SlaGate]:
    """``p95=150ms,p99=300ms,errors=0.1%,rss_growth=25%`` -> gates.

    Raises:
        ValueError: a gate that is not one of those shapes (the message names it and the accepted forms).
    """
    gates = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        match = _GATE.match(part)
        if match is None:
            raise ValueError(
                f"bad SLA gate {part!r}: use pNN=<ms|s> (e.g. p95=150ms), errors=<percent>%, rss_growth=<percent>%"
            )
        name, number, unit = match[1], float(match[2]), match[3]
        if name.startswith("p"):
            if unit == "%":
                raise ValueError(f"bad SLA gate {part!r}: a latency percentile takes ms or s")
            gates.append(SlaGate(name, number / 1000 if unit == "ms" else number))
        else:
            if unit != "%":
                raise ValueError(f"bad SLA gate {part!r}: {name} takes a percentage")
            gates.append(SlaGate(name, number / 100))
    return gates
