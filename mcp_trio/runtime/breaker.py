"""A circuit breaker: stop calling a dependency that keeps failing, and probe it gently before trusting it again.

Theory of operation. Three states:

- **closed**: calls go through. ``failure_threshold`` failures in a row open the breaker; a success resets
  the count.
- **open**: calls are refused, quickly, until ``open_timeout`` seconds after it opened; from then on the
  breaker is half-open.
- **half-open**: a few calls go through as probes. ``half_open_probes`` successes close the breaker; any
  failure opens it again, and the timeout starts over.

The breaker is a pure policy: every method takes ``now`` (seconds on a monotonic clock) and state changes
that are due to time alone (open to half-open) happen when the breaker is next consulted with a ``now``
past the timeout, as if they had happened on time: the state is a function of the calls and their times,
never of who looked when.

Every call that :meth:`~CircuitBreaker.allow` admits is owed exactly one outcome: ``record_success``,
``record_failure`` or ``record_ignored`` (cancelled, or the outcome says nothing about the dependency).
:meth:`~CircuitBreaker.guard` pays that debt on every way out of its block.

Probe accounting. Outcomes carry no identity, so the breaker cannot tell a probe's outcome from that of a
call admitted before the breaker opened and still running (a *straggler*). It does not need to: it counts
every allowed call not yet recorded (``in_flight``), whatever state admitted it, and while half-open it
admits a call only if fewer than ``half_open_probes`` are in flight. So at most ``half_open_probes`` calls
are ever outstanding against a dependency under test, stragglers included, and the count is exact without
tickets. A straggler's outcome while half-open is treated as a probe's: it did just succeed or fail
against the dependency. The cost: stragglers hold the probe slots until they finish, so a call that never
finishes (no timeout on it) keeps the breaker from ever closing again. Give downstream calls timeouts.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager
from types import TracebackType

import attrs
import trio

__all__ = ["CircuitBreaker", "BreakerState", "BreakerStatistics", "CircuitOpen"]


class BreakerState(enum.StrEnum):
    """Where a :class:`CircuitBreaker` is; the values are what metrics and logs show."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


_CLOSED: BreakerState = BreakerState.CLOSED
_OPEN: BreakerState = BreakerState.OPEN
_HALF_OPEN: BreakerState = BreakerState.HALF_OPEN


class CircuitOpen(Exception):
    """Raised by :meth:`CircuitBreaker.guard` when the breaker refuses the call: fail fast, try again later.

    Attributes:
        name: the breaker's name ("" if it has none).
        retry_after: seconds until the breaker may admit a call (see :meth:`CircuitBreaker.retry_after`).
    """

    def __init__(self, name: str, retry_after: float) -> None:
        # Both in args (not a formatted message), so the exception pickles and copies.
        super().__init__(name, retry_after)
        self.name = name
        self.retry_after = retry_after

    def __str__(self) -> str:
        which = f"circuit breaker {self.name!r}" if self.name else "circuit breaker"
        return f"{which} is open; retry after {self.retry_after:.3f} s"


@attrs.frozen
class BreakerStatistics:
    """A snapshot of a :class:`CircuitBreaker`. Counters are since it was created.

    Attributes:
        name: the breaker's name.
        state: its state at the time asked.
        consecutive_failures: failures recorded since the last success.
        successes: calls recorded as successes.
        failures: calls recorded as failures.
        ignored: calls recorded as ignored.
        rejections: calls refused by :meth:`CircuitBreaker.allow`.
        times_opened: how often it opened (from closed, or again from half-open).
        opened_at: when it last opened; None while closed.
        in_flight: calls allowed and not yet recorded.
    """

    name: str
    state: BreakerState
    consecutive_failures: int
    successes: int
    failures: int
    ignored: int
    rejections: int
    times_opened: int
    opened_at: float | None
    in_flight: int


class CircuitBreaker:
    """The classic three-state circuit breaker, as a pure policy with time passed in.

    See the module docstring for the states and how probes are counted. Not thread-safe.

    Args:
        failure_threshold: failures in a row, while closed, that open the breaker (>= 1).
        open_timeout: seconds the breaker stays open before letting probes through (finite, >= 0).
        half_open_probes: calls admitted at once while half-open, and successes then needed to close (>= 1).
        name: names the breaker in :class:`CircuitOpen` and statistics.

    Raises:
        ValueError: for an argument out of range.
    """

    __slots__ = (
        "_consecutive_failures",
        "_failures",
        "_ignored",
        "_in_flight",
        "_opened_at",
        "_probe_at",
        "_probe_successes",
        "_rejections",
        "_state",
        "_successes",
        "_times_opened",
        "failure_threshold",
        "half_open_probes",
        "name",
        "open_timeout",
    )

    def __init__(
        self, failure_threshold: int, open_timeout: float, half_open_probes: int = 1, *, name: str = ""
    ) -> None:
        if failure_threshold < 1:
            raise ValueError(f"failure_threshold must be >= 1, not {failure_threshold!r}")
        if not (0 <= open_timeout < math.inf):
            raise ValueError(f"open_timeout must be finite seconds >= 0, not {open_timeout!r}")
        if half_open_probes < 1:
            raise ValueError(f"half_open_probes must be >= 1, not {half_open_probes!r}")
        self.failure_threshold = failure_threshold
        self.open_timeout = float(open_timeout)
        self.half_open_probes = half_open_probes
        self.name = name
        self._state = _CLOSED
        self._opened_at: float | None = None
        #: When an open breaker turns half-open (``opened_at + open_timeout``); meaningless otherwise.
        self._probe_at = math.inf
        self._in_flight = 0
        self._probe_successes = 0
        self._consecutive_failures = 0
        self._successes = 0
        self._failures = 0
        self._ignored = 0
        self._rejections = 0
        self._times_opened = 0

    def __repr__(self) -> str:
        return (
            f"CircuitBreaker(failure_threshold={self.failure_threshold!r}, open_timeout={self.open_timeout!r}, "
            f"half_open_probes={self.half_open_probes!r}, name={self.name!r})"
        )

    # --- the policy ----------------------------------------------------------------------------------------

    def allow(self, now: float) -> bool:
        """Whether a call may go ahead at ``now``. If it may, the call is counted in flight and owes an outcome.

        Returns:
            True: make the call, then record its outcome. False: do not make it (counted as a rejection).
        """
        state = self._state
        if state is _CLOSED:
            self._in_flight += 1
            return True
        if state is _OPEN:
            if now < self._probe_at:
                self._rejections += 1
                return False
            self._half_open()
        if self._in_flight >= self.half_open_probes:
            self._rejections += 1
            return False
        self._in_flight += 1
        return True

    def record_success(self, now: float) -> None:
        """An allowed call succeeded: while half-open, one probe success more.

        Raises:
            RuntimeError: if no allowed call is waiting for its outcome.
        """
        self._settle("record_success")
        self._successes += 1
        self._consecutive_failures = 0
        state = self._state
        if state is _CLOSED:
            return
        if state is _OPEN:
            if now < self._probe_at:
                return
            self._half_open()
        self._probe_successes += 1
        if self._probe_successes >= self.half_open_probes:
            self._state = _CLOSED
            self._opened_at = None
            self._probe_at = math.inf

    def record_failure(self, now: float) -> None:
        """An allowed call failed because of the dependency: it may open the breaker, or open it again.

        Raises:
            RuntimeError: if no allowed call is waiting for its outcome.
        """
        self._settle("record_failure")
        self._failures += 1
        self._consecutive_failures += 1
        state = self._state
        if state is _CLOSED:
            if self._consecutive_failures >= self.failure_threshold:
                self._open(now)
        elif state is _HALF_OPEN or now >= self._probe_at:
            self._open(now)
        # Otherwise open, and a straggler's failure says nothing new: the timeout does not start over.

    def record_ignored(self, now: float) -> None:
        """An allowed call ended without saying anything about the dependency (cancelled, or an expected error).

        It frees its place in flight (a probe slot, while half-open) and counts for nothing else.

        Raises:
            RuntimeError: if no allowed call is waiting for its outcome.
        """
        self._settle("record_ignored")
        self._ignored += 1

    def state(self, now: float) -> BreakerState:
        """The state at ``now``: reading it turns an open breaker half-open once its timeout has passed."""
        if self._state is _OPEN and now >= self._probe_at:
            self._half_open()
        return self._state

    def retry_after(self, now: float) -> float:
        """Seconds from ``now`` until a call may be tried; 0 if :meth:`allow` would say yes now.

        While half-open with every probe slot taken the wait depends on the probes, so this returns
        ``open_timeout``: the longest a caller could have to wait if the probes fail, a hint and not a promise.
        """
        state = self.state(now)
        if state is _CLOSED:
            return 0.0
        if state is _OPEN:
            return self._probe_at - now
        return 0.0 if self._in_flight < self.half_open_probes else self.open_timeout

    def statistics(self, now: float) -> BreakerStatistics:
        """A snapshot at ``now`` (which may turn an open breaker half-open, as :meth:`state` does)."""
        return BreakerStatistics(
            name=self.name,
            state=self.state(now),
            consecutive_failures=self._consecutive_failures,
            successes=self._successes,
            failures=self._failures,
            ignored=self._ignored,
            rejections=self._rejections,
            times_opened=self._times_opened,
            opened_at=self._opened_at,
            in_flight=self._in_flight,
        )

    def _settle(self, method: str) -> None:
        if self._in_flight <= 0:
            raise RuntimeError(f"{method}() without an allowed call waiting for its outcome")
        self._in_flight -= 1

    def _open(self, now: float) -> None:
        self._state = _OPEN
        self._opened_at = now
        self._probe_at = now + self.open_timeout
        self._times_opened += 1

    def _half_open(self) -> None:
        self._state = _HALF_OPEN
        self._probe_successes = 0

    # --- around a call ------------------------------------------------------------------------------------

    def guard(self, *, failure: Callable[[BaseException], bool] | None = None) -> AbstractAsyncContextManager[None]:
        """Run a block as one call through the breaker: ``async with breaker.guard(): await downstream()``.

        Entering checkpoints, then asks :meth:`allow` at ``trio.current_time()``; if refused it raises
        :class:`CircuitOpen`. Leaving records the outcome and never swallows an exception:

        - normal exit: a success;
        - an ``Exception`` (or an exception group holding one): a failure, unless ``failure`` says otherwise;
        - a ``BaseException`` that is not an ``Exception`` (``trio.Cancelled``, ``KeyboardInterrupt``,
          ``SystemExit``, ``GeneratorExit``), or a group of nothing else: ignored, as it says nothing about
          the dependency.

        Args:
            failure: decides, for each ``Exception`` the block raised (each leaf of a group), whether it is the
                dependency's fault; the block failed if any is. Others are ignored: a tool's expected
                ``ToolError`` should not trip the breaker. If it raises, the call is recorded as ignored and
                its exception propagates.

        Raises:
            CircuitOpen: on entry, when the breaker refuses the call.
        """
        return _Guard(self, failure)


class _Guard:
    """The async context manager :meth:`CircuitBreaker.guard` returns: one call, one outcome."""

    __slots__ = ("_breaker", "_failure")

    def __init__(self, breaker: CircuitBreaker, failure: Callable[[BaseException], bool] | None) -> None:
        self._breaker = breaker
        self._failure = failure

    async def __aenter__(self) -> None:
        # A full checkpoint first, taking nothing: a caller retrying in a loop on CircuitOpen still yields,
        # and a cancellation here leaves no call in flight.
        await trio.lowlevel.checkpoint()
        breaker = self._breaker
        now = trio.current_time()
        if not breaker.allow(now):
            raise CircuitOpen(breaker.name, breaker.retry_after(now))

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        breaker = self._breaker
        now = trio.current_time()
        if exc is None:
            breaker.record_success(now)
            return
        failed = False
        try:
            failed = self._is_failure(exc)
        finally:
            if failed:
                breaker.record_failure(now)
            else:
                breaker.record_ignored(now)

    def _is_failure(self, exc: BaseException) -> bool:
        predicate = self._failure
        return any(predicate is None or predicate(leaf) for leaf in _leaves(exc) if isinstance(leaf, Exception))


def _leaves(exc: BaseException) -> Iterator[BaseException]:
    """The exceptions in ``exc``, looking through (nested) exception groups."""
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            yield from _leaves(inner)
    else:
        yield exc
