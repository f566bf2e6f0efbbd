"""Token buckets: a rate limit with bursts, for one client or for many behind a bounded table.

Theory of operation. A bucket holds up to ``burst`` tokens and gains ``rate`` tokens a second. A call costing
``cost`` is granted if that many tokens are there, and takes them; otherwise it is refused and takes nothing.
Nothing ticks: a bucket stores its level and the time of that level, and works out the refill when asked,
so an idle bucket costs nothing and time is passed in (``now``, seconds on any monotonic clock, e.g.
``trio.current_time()``), which makes the policy a pure function of its inputs.

Two rules keep the arithmetic honest. A refused take stores nothing, not even the refill it computed, so what
a bucket does next depends only on the calls it granted. Time that goes backwards is treated as no time at
all: the bucket neither refills nor un-refills, and its stored time never moves back.

:class:`KeyedBuckets` keeps one bucket per client key in a table bounded by ``max_keys``, evicting the least
recently used key when a new one arrives at the bound (a refused take counts as a use, so a client that keeps
hammering stays in the table). An evicted key comes back with a full bucket: that is the price of bounded
memory. It costs nothing for keys idle for ``burst / rate`` seconds or more, whose buckets are full anyway; it
lets a client through early only when more than ``max_keys`` keys are active within that window. The LRU is an
``OrderedDict`` (``move_to_end`` / ``popitem(last=False)``, both O(1)); a plain dict with re-insertion on use
is as fast on a hit but takes O(n) per eviction, since finding its oldest entry skips every deleted slot.
"""

from __future__ import annotations

import collections
import math
from collections.abc import Hashable

import attrs

__all__ = ["TokenBucket", "KeyedBuckets", "KeyedBucketsStatistics"]


def _check(rate: float, burst: float) -> None:
    if not (0 < rate < math.inf):
        raise ValueError(f"rate must be finite tokens per second > 0, not {rate!r}")
    if not (1 <= burst < math.inf):
        raise ValueError(f"burst must be a finite number of tokens >= 1, not {burst!r}")


def _bad_cost(cost: float) -> ValueError:
    return ValueError(f"cost must be a number of tokens >= 0, not {cost!r}")


class TokenBucket:
    """A rate limit of ``rate`` calls a second on average, with bursts of up to ``burst``.

    The bucket starts full. See the module docstring for how it works. Not thread-safe.

    Args:
        rate: tokens gained per second (finite, > 0).
        burst: capacity in tokens (finite, >= 1), so a call of cost 1 can always be granted eventually.

    Raises:
        ValueError: for a rate or burst out of range.
    """

    __slots__ = ("_stamp", "_tokens", "burst", "rate")

    def __init__(self, rate: float, burst: float) -> None:
        _check(rate, burst)
        self.rate = float(rate)
        self.burst = float(burst)
        self._tokens = self.burst
        # -inf makes the first refill infinite, so the bucket is full whenever it is first used.
        self._stamp = -math.inf

    def __repr__(self) -> str:
        return f"TokenBucket(rate={self.rate!r}, burst={self.burst!r})"

    def take(self, now: float, cost: float = 1.0) -> bool:
        """Take ``cost`` tokens if they are there at ``now``.

        Returns:
            True if the tokens were taken; False if not, in which case the bucket is left exactly as it was.

        Raises:
            ValueError: for a negative or NaN cost. A cost above ``burst`` is never granted.
        """
        if not cost >= 0:
            raise _bad_cost(cost)
        tokens = self._tokens
        stamp = self._stamp
        if now > stamp:
            tokens += (now - stamp) * self.rate
            if tokens > self.burst:
                tokens = self.burst
            if tokens < cost:
                return False
            self._stamp = now
        elif tokens < cost:
            return False
        self._tokens = tokens - cost
        return True

    def tokens(self, now: float) -> float:
        """The tokens there at ``now``."""
        stamp = self._stamp
        if now > stamp:
            return min(self.burst, self._tokens + (now - stamp) * self.rate)
        return self._tokens

    def retry_after(self, now: float, cost: float = 1.0) -> float:
        """Seconds from ``now`` until ``take(now + seconds, cost)`` will succeed, if nothing else is taken first.

        0 if it would succeed at ``now``; ``math.inf`` if ``cost`` exceeds ``burst``. The figure is rounded up
        where floating point needs it, so retrying exactly that much later is always granted.

        Raises:
            ValueError: for a negative or NaN cost.
        """
        if not cost >= 0:
            raise _bad_cost(cost)
        missing = cost - self.tokens(now)
        if missing <= 0:
            return 0.0
        if cost > self.burst:
            return math.inf
        at = max(now, self._stamp) + missing / self.rate
        # Rounding (of the division, of the refill computed from the stored stamp, of ``now + (at - now)``) can
        # leave the bucket a hair short at ``at``: nudge it later, one ulp and then doubling steps (usually none
        # or one step; rarely more when a large token count swallows a small refill's low bits).
        step = math.ulp(at)
        while self.tokens(now + (at - now)) < cost:
            at += step
            step *= 2
        return at - now


@attrs.frozen
class KeyedBucketsStatistics:
    """A snapshot of a :class:`KeyedBuckets`.

    Attributes:
        keys: keys in the table now.
        max_keys: the bound on ``keys``.
        rate: the configured rate of each bucket, tokens per second.
        burst: the configured capacity of each bucket, in tokens.
        evictions: keys dropped to make room for a new one.
        refusals: takes refused.
        grants: takes granted.
    """

    keys: int
    max_keys: int
    rate: float
    burst: float
    evictions: int
    refusals: int
    grants: int


class KeyedBuckets:
    """One :class:`TokenBucket` per key (an auth principal, a source address), at most ``max_keys`` of them.

    A new key gets a full bucket; at the bound, the least recently used key is evicted to make room (and
    would come back full: see the module docstring). Not thread-safe.

    Args:
        rate: tokens per second of each bucket (finite, > 0).
        burst: capacity of each bucket (finite, >= 1).
        max_keys: how many keys are remembered at once (>= 1). Each costs about 180 bytes besides the key.

    Raises:
        ValueError: for a rate, burst or bound out of range.
    """

    __slots__ = ("_buckets", "_evictions", "_grants", "_refusals", "burst", "max_keys", "rate")

    def __init__(self, rate: float, burst: float, max_keys: int) -> None:
        _check(rate, burst)
        if max_keys < 1:
            raise ValueError(f"max_keys must be >= 1, not {max_keys!r}")
        self.rate = float(rate)
        self.burst = float(burst)
        self.max_keys = max_keys
        # Least recently used first.
        self._buckets: collections.OrderedDict[Hashable, TokenBucket] = collections.OrderedDict()
        self._evictions = 0
        self._refusals = 0
        self._grants = 0

    def __repr__(self) -> str:
        return f"KeyedBuckets(rate={self.rate!r}, burst={self.burst!r}, max_keys={self.max_keys!r})"

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: Hashable, now: float, cost: float = 1.0) -> bool:
        """Take ``cost`` tokens from ``key``'s bucket at ``now``; the key becomes the most recently used.

        Returns:
            True if granted; False if refused (the bucket is left as it was).

        Raises:
            ValueError: for a negative or NaN cost.
        """
        buckets = self._buckets
        bucket = buckets.get(key)
        if bucket is None:
            if len(buckets) >= self.max_keys:
                # Recycle the evicted bucket, refilled: at the bound a miss allocates no bucket.
                bucket = buckets.popitem(last=False)[1]
                bucket._tokens = bucket.burst
                bucket._stamp = -math.inf
                self._evictions += 1
            else:
                bucket = TokenBucket(self.rate, self.burst)
            buckets[key] = bucket
        else:
            buckets.move_to_end(key)
        if bucket.take(now, cost):
            self._grants += 1
            return True
        self._refusals += 1
        return False

    def retry_after(self, key: Hashable, now: float, cost: float = 1.0) -> float:
        """Seconds until ``key`` may take ``cost`` tokens (see :meth:`TokenBucket.retry_after`).

        A read: it neither adds the key nor makes it recently used. An unknown key has a full bucket.

        Raises:
            ValueError: for a negative or NaN cost.
        """
        bucket = self._buckets.get(key)
        if bucket is None:
            if not cost >= 0:
                raise _bad_cost(cost)
            return 0.0 if cost <= self.burst else math.inf
        return bucket.retry_after(now, cost)

    def statistics(self) -> KeyedBucketsStatistics:
        """Counters since this table was created."""
        return KeyedBucketsStatistics(
            keys=len(self._buckets),
            max_keys=self.max_keys,
            rate=self.rate,
            burst=self.burst,
            evictions=self._evictions,
            refusals=self._refusals,
            grants=self._grants,
        )
