"""A leaderboard kept briefly in the Django cache, per guild, board and period.

A board is a read of every member of a guild, so a popular ``/leaderboard``
would otherwise repeat the same aggregate many times a second. It is cached
for ``LEADERBOARD_CACHE_SECONDS`` (a few seconds; then one caller recomputes
it while the others are served the previous one), under a key that names the
guild, so one guild's board is never served to another. A cache that cannot
answer (Redis down) is not an outage: the board is computed from the database
and the failure is counted.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.core.cache import cache
from redis.exceptions import RedisError

from predictmarket.cache_metrics import count_cache_read

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Bumped when the cached value's shape changes, so a deploy never unpickles old boards.
KEY_VERSION = 1
# How long a stale board may still be served while one caller recomputes it.
STALE_SECONDS = 60
# What a cache that cannot be reached raises: redis-py's errors, and the socket's own.
CACHE_ERRORS = (RedisError, OSError)


def leaderboard_key(guild_id: int, board: str, period: str) -> str:
    return f"leaderboard:v{KEY_VERSION}:{int(guild_id)}:{board}:{period}"


def cached_board(guild_id: int, board: str, period: str, compute: Callable[[], T]) -> T:
    """The cached board for (guild, board, period), computed by ``compute`` on a miss.

    A board older than ``LEADERBOARD_CACHE_SECONDS`` is recomputed by one caller
    (the one that wins ``cache.add`` of a short lock) while the others keep being
    served the previous board: on a large guild a board takes a second or more
    to compute, and every caller of that second would otherwise compute it too.
    Kept for at most ``STALE_SECONDS`` more, in case that caller dies.
    """
    if not settings.READ_CACHE_ENABLED:
        return compute()
    key = leaderboard_key(guild_id, board, period)
    try:
        cached = cache.get(key)
    except CACHE_ERRORS:
        logger.warning("leaderboard cache unavailable; reading the database", exc_info=True)
        count_cache_read("leaderboard", "error")
        return compute()
    if cached is not None:
        fresh_until, value = cached
        if time.time() < fresh_until or not _claim_refresh(key):
            count_cache_read("leaderboard", "hit")
            return value
    count_cache_read("leaderboard", "miss")
    value = compute()
    ttl = settings.LEADERBOARD_CACHE_SECONDS
    try:
        cache.set(key, (time.time() + ttl, value), timeout=ttl + STALE_SECONDS)
        if cached is not None:
            cache.delete(f"{key}:refreshing")
    except CACHE_ERRORS:
        logger.warning("leaderboard cache unavailable; board not stored", exc_info=True)
    return value


def _claim_refresh(key: str) -> bool:
    """True for the one caller that recomputes a stale board (the others serve it)."""
    try:
        return cache.add(f"{key}:refreshing", 1, timeout=STALE_SECONDS)
    except CACHE_ERRORS:
        return True
