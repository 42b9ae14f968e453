"""Per-client rate limiting: a token bucket per client (API key, or IP address when the service
is open), kept in this process.

A rate ``N/period`` lets a client send N requests at once (the bucket holds N tokens) and then one
every ``period / N``. Memory is bounded: a bucket idle for a whole period is full again, exactly
like a new one, so it is dropped; and at most ``max_clients`` buckets are kept (the least recently
used go first, which can only make the limiter more lenient, never refuse wrongly).
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

UNITS: dict[str, float] = {
    "second": 1.0,
    "minute": 60.0,
    "hour": 3600.0,
    "day": 86400.0,
}
_ALIASES = {"s": "second", "sec": "second", "m": "minute", "min": "minute", "h": "hour"}
_ALIASES |= {"d": "day"} | {unit: unit for unit in UNITS} | {f"{u}s": u for u in UNITS}
_RATE = re.compile(r"^\s*(\d{1,9})\s*/\s*([a-z]+)\s*$")
OFF = ("off", "none")


@dataclass(frozen=True)
class Rate:
    requests: int
    unit: str  # a key of UNITS

    @property
    def period_s(self) -> float:
        return UNITS[self.unit]

    def __str__(self) -> str:
        return f"{self.requests}/{self.unit}"


def parse_rate(text: str) -> Rate | None:
    """``"60/minute"`` -> Rate(60, "minute"); ``"off"`` -> None; anything else a ValueError
    saying what is accepted."""
    clean = text.strip().lower()
    if clean in OFF:
        return None
    match = _RATE.match(clean)
    unit = _ALIASES.get(match.group(2)) if match else None
    if match is None or unit is None or int(match.group(1)) < 1:
        raise ValueError(
            f"{text!r} is not a rate: use N/second, N/minute, N/hour or N/day with N >= 1 "
            "(e.g. 60/minute), or 'off'"
        )
    return Rate(int(match.group(1)), unit)


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """``take(client)`` spends one of the client's tokens: 0.0 when the request may go ahead,
    else the seconds until it could. Safe to call from any thread or task (one lock, no awaits
    inside)."""

    def __init__(
        self,
        rate: Rate,
        max_clients: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self._capacity = float(rate.requests)
        self._per_s = rate.requests / rate.period_s
        self._max_clients = max_clients
        self._clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()  # least recently used first
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, client: str) -> float:
        with self._lock:
            now = self._clock()
            bucket = self._buckets.pop(client, None)
            if bucket is None:
                bucket = _Bucket(self._capacity, now)
            else:
                elapsed = max(0.0, now - bucket.updated)
                bucket.tokens = min(self._capacity, bucket.tokens + elapsed * self._per_s)
                bucket.updated = now
            self._buckets[client] = bucket  # now the most recently used
            self._evict(now)
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / self._per_s

    def peek(self, client: str) -> float:
        """What ``take`` would answer, without spending a token."""
        with self._lock:
            bucket = self._buckets.get(client)
            if bucket is None:
                return 0.0
            elapsed = max(0.0, self._clock() - bucket.updated)
            tokens = min(self._capacity, bucket.tokens + elapsed * self._per_s)
            return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self._per_s

    def _evict(self, now: float) -> None:
        while self._buckets:
            oldest = next(iter(self._buckets.values()))
            idle_and_full = now - oldest.updated >= self.rate.period_s
            if not idle_and_full and len(self._buckets) <= self._max_clients:
                return
            self._buckets.popitem(last=False)


def retry_after(wait_s: float) -> int:
    """The ``Retry-After`` value (whole seconds, at least 1) for a wait."""
    return max(1, math.ceil(wait_s))
