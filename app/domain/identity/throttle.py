"""Failed sign-in throttling, per account and per address.

Counts failures, not requests, in the rate-limit storage (memory in the embedded default,
Redis in production, so every web process shares the count).
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import current_app
from limits import RateLimitItemPerMinute

from app.extensions import limiter


def _items() -> tuple[RateLimitItemPerMinute, RateLimitItemPerMinute]:
    cfg = current_app.config
    window = int(cfg["LOGIN_FAILURE_WINDOW_MINUTES"])
    return (
        RateLimitItemPerMinute(int(cfg["LOGIN_MAX_FAILURES_PER_ACCOUNT"]), window, namespace="login-account"),
        RateLimitItemPerMinute(int(cfg["LOGIN_MAX_FAILURES_PER_IP"]), window, namespace="login-ip"),
    )


def retry_at(username: str, ip: str) -> datetime | None:
    """When the next attempt may be made, or None if it may be made now."""
    strategy = limiter.limiter
    account, address = _items()
    blocked = []
    for item, key in ((account, username.lower()), (address, ip)):
        if not strategy.test(item, key):
            blocked.append(strategy.get_window_stats(item, key).reset_time)
    if not blocked:
        return None
    return datetime.fromtimestamp(max(blocked), UTC)


def record_failure(username: str, ip: str) -> None:
    strategy = limiter.limiter
    account, address = _items()
    strategy.hit(account, username.lower())
    strategy.hit(address, ip)


def clear_account(username: str) -> None:
    account, _ = _items()
    limiter.limiter.clear(account, username.lower())
