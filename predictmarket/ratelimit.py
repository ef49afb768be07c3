"""One rate limiter for the bot and the API, on the Django cache (Redis in production).

Fixed windows: a counter per (scope, subject, window) that expires with the
window. ``cache.incr`` is atomic in Redis, so concurrent processes share the
count; a refusal says how many seconds remain in the window.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from predictmarket.errors import RateLimited


@dataclass(frozen=True)
class Limit:
    scope: str
    limit: int
    window: int  # seconds
    message: str


def _limits() -> dict[str, Limit]:
    return {
        "bet": Limit("bet", settings.RATE_LIMIT_BETS_PER_MINUTE, 60, "bets"),
        "command": Limit("command", settings.RATE_LIMIT_COMMANDS_PER_MINUTE, 60, "commands"),
        "guild_command": Limit(
            "guild_command",
            settings.RATE_LIMIT_GUILD_COMMANDS_PER_MINUTE,
            60,
            "commands in this server",
        ),
        "market_create": Limit(
            "market_create",
            settings.RATE_LIMIT_MARKET_CREATIONS_PER_HOUR,
            3600,
            "new markets in this server",
        ),
    }


def rate_limit_hit(scope: str, subject: object, *, bypass: bool = False) -> None:
    """Count one use of ``scope`` by ``subject``; raise ``RateLimited`` past the limit.

    Moderators pass ``bypass=True``: their uses are neither limited nor counted.
    """
    if bypass or not settings.RATE_LIMITS_ENABLED:
        return
    rule = _limits()[scope]
    now = time.time()
    window_start = int(now // rule.window) * rule.window
    key = f"rl:{rule.scope}:{subject}:{window_start}"
    # add() is a no-op when the key exists, so the first use of a window creates it.
    cache.add(key, 0, timeout=rule.window + 5)
    try:
        count = cache.incr(key)
    except ValueError:  # the key expired between add() and incr()
        cache.add(key, 1, timeout=rule.window + 5)
        count = 1
    if count > rule.limit:
        retry_after = max(1, int(window_start + rule.window - now + 0.999))
        raise RateLimited(
            f"Slow down: at most {rule.limit} {rule.message} per "
            f"{'minute' if rule.window == 60 else 'hour'}. Try again in {retry_after} s.",
            retry_after=retry_after,
            scope=scope,
        )
