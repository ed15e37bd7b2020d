"""Rate limits and lockouts kept in the server process: sign-in and sign-up per account and per address,
re-plan events per user and per alert. A refusal is a ``TooManyRequests`` (429 with ``Retry-After``).

The counters live in memory: each server process counts on its own (N processes allow N times the rate), and a
restart forgets them. That bounds what one client can make one process do, which is the point; docs/security.md
says what each limit is and why its default does not refuse honest clients (``scripts/load.py``).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from api.config import Settings
from api.errors import ServiceError

#: Keys kept per limiter before the least recently used are forgotten (bounds the memory an attacker can fill).
MAX_KEYS = 100_000


class TooManyRequests(ServiceError):
    """Too many requests from one account, address or alert; ``retry_after`` says when to try again (s)."""

    status = 429

    def __init__(self, message: str, retry_after: float) -> None:
        self.retry_after = max(1, math.ceil(retry_after))
        super().__init__(f"{message}; try again in {self.retry_after} s")


@dataclass
class _Bucket:
    tokens: float
    at: float


class TokenBucket:
    """``burst`` requests at once per key, refilled at ``per_minute``; thread-safe."""

    def __init__(self, burst: int, per_minute: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.burst, self.rate, self.clock = burst, per_minute / 60.0, clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> float | None:
        """Take one request for ``key``: ``None`` when allowed, else seconds until one is."""
        with self._lock:
            now = self.clock()
            bucket = self._buckets.pop(key, None) or _Bucket(float(self.burst), now)
            bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.at) * self.rate)
            bucket.at = now
            self._buckets[key] = bucket  # re-inserted: dict order is least recently used first
            if len(self._buckets) > MAX_KEYS:
                del self._buckets[next(iter(self._buckets))]
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return None
            return (1.0 - bucket.tokens) / self.rate if self.rate > 0 else math.inf


@dataclass
class _Failures:
    count: int
    locked_until: float


class Lockout:
    """Failed attempts per key: after ``allowed`` failures the key is locked for ``base_seconds``, doubling with
    each further failure up to ``max_seconds``; a success clears the key."""

    def __init__(self, allowed: int, base_seconds: float, max_seconds: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.allowed, self.base, self.max, self.clock = allowed, base_seconds, max_seconds, clock
        self._failures: dict[str, _Failures] = {}
        self._lock = threading.Lock()

    def locked_for(self, key: str) -> float | None:
        """Seconds the key stays locked, or ``None``."""
        with self._lock:
            entry = self._failures.get(key)
            left = None if entry is None else entry.locked_until - self.clock()
            return left if left is not None and left > 0 else None

    def failed(self, key: str) -> None:
        with self._lock:
            entry = self._failures.pop(key, None) or _Failures(0, 0.0)
            entry.count += 1
            if entry.count >= self.allowed:
                backoff = self.base * 2 ** (entry.count - self.allowed)
                entry.locked_until = self.clock() + min(self.max, backoff)
            self._failures[key] = entry
            if len(self._failures) > MAX_KEYS:
                del self._failures[next(iter(self._failures))]

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)


class Limits:
    """The process's limiters, built from the settings (``api.config.Settings``)."""

    def __init__(self, s: Settings) -> None:
        self.login_account = Lockout(s.login_failures_per_account, s.lockout_base_seconds, s.lockout_max_seconds)
        self.login_address = Lockout(s.login_failures_per_address, s.lockout_base_seconds, s.lockout_max_seconds)
        self.login_attempts = TokenBucket(s.login_burst_per_address, s.login_per_minute_per_address)
        self.signups = TokenBucket(s.signup_burst_per_address, s.signup_per_minute_per_address)
        self.replan_user = TokenBucket(s.replan_events_burst_per_user, s.replan_events_per_minute_per_user)
        self.replan_alert = TokenBucket(s.replan_events_burst_per_alert, s.replan_events_per_minute_per_alert)

    @staticmethod
    def check(bucket: TokenBucket, key: str, what: str) -> None:
        wait = bucket.take(key)
        if wait is not None:
            raise TooManyRequests(f"too many {what}", wait)

    def replan_event(self, user_id: int, alert_id: int) -> None:
        """One event that may queue a re-plan (a drop-out, a stop report asking for one, ...)."""
        self.check(self.replan_user, str(user_id), "re-plan requests from your account")
        self.check(self.replan_alert, str(alert_id), f"re-plan requests on alert {alert_id}")
