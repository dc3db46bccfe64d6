"""Failed sign-in throttling, per account and per address.

Counts failures, not requests, in the rate-limit storage (memory in the embedded default,
Redis in production, so every web process shares the count). If Redis is unreachable, sign-in
keeps working: the counts are kept in this process until Redis answers again (checked at most
every RETRY_SECONDS), so throttling is per process meanwhile rather than gone.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

import redis
from flask import current_app
from limits import RateLimitItemPerMinute
from limits.errors import StorageError
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter, RateLimiter

from app.extensions import limiter

log = logging.getLogger("infirmary.throttle")
RETRY_SECONDS = 30.0
T = TypeVar("T")

_lock = threading.Lock()
_fallback: RateLimiter | None = None
# The shared strategy found unreachable, and when to try it again.
_down: tuple[RateLimiter | None, float] = (None, 0.0)


def _with_strategy(op: Callable[[RateLimiter], T]) -> T:
    """Run op on the shared strategy, or on the in-process fallback while the shared one is down."""
    global _fallback, _down
    shared = limiter.limiter
    if _down[0] is not shared or time.monotonic() >= _down[1]:
        try:
            return op(shared)
        except (redis.RedisError, OSError, StorageError) as exc:
            log.warning("sign-in throttle storage unreachable; counting in this process",
                        extra={"error": type(exc).__name__})
            _down = (shared, time.monotonic() + RETRY_SECONDS)
    with _lock:
        if _fallback is None:
            _fallback = MovingWindowRateLimiter(MemoryStorage())
    return op(_fallback)


def _items() -> tuple[RateLimitItemPerMinute, RateLimitItemPerMinute]:
    cfg = current_app.config
    window = int(cfg["LOGIN_FAILURE_WINDOW_MINUTES"])
    return (
        RateLimitItemPerMinute(int(cfg["LOGIN_MAX_FAILURES_PER_ACCOUNT"]), window, namespace="login-account"),
        RateLimitItemPerMinute(int(cfg["LOGIN_MAX_FAILURES_PER_IP"]), window, namespace="login-ip"),
    )


def retry_at(username: str, ip: str) -> datetime | None:
    """When the next attempt may be made, or None if it may be made now."""
    account, address = _items()

    def check(strategy: RateLimiter) -> list[float]:
        return [strategy.get_window_stats(item, key).reset_time
                for item, key in ((account, username.lower()), (address, ip))
                if not strategy.test(item, key)]

    blocked = _with_strategy(check)
    if not blocked:
        return None
    return datetime.fromtimestamp(max(blocked), UTC)


def record_failure(username: str, ip: str) -> None:
    account, address = _items()

    def hit(strategy: RateLimiter) -> None:
        strategy.hit(account, username.lower())
        strategy.hit(address, ip)

    _with_strategy(hit)


def clear_account(username: str) -> None:
    account, _ = _items()
    _with_strategy(lambda strategy: strategy.clear(account, username.lower()))
