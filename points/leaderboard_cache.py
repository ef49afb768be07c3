"""A leaderboard kept briefly in the Django cache, per guild, board and period.

A board is a read of every member of a guild, so a popular ``/leaderboard``
would otherwise repeat the same aggregate many times a second. It is cached
for ``LEADERBOARD_CACHE_SECONDS`` (a few seconds: the ranking may be that old,
never older), under a key that names the guild, so one guild's board is never
served to another. A cache that cannot answer (Redis down) is not an outage:
the board is computed from the database and the failure is counted.
"""

from __future__ import annotations

import logging
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
# What a cache that cannot be reached raises: redis-py's errors, and the socket's own.
CACHE_ERRORS = (RedisError, OSError)


def leaderboard_key(guild_id: int, board: str, period: str) -> str:
    return f"leaderboard:v{KEY_VERSION}:{int(guild_id)}:{board}:{period}"


def cached_board(guild_id: int, board: str, period: str, compute: Callable[[], T]) -> T:
    """The cached board for (guild, board, period), computed by ``compute`` on a miss."""
    if not settings.READ_CACHE_ENABLED:
        return compute()
    key = leaderboard_key(guild_id, board, period)
    try:
        value = cache.get(key)
    except CACHE_ERRORS:
        logger.warning("leaderboard cache unavailable; reading the database", exc_info=True)
        count_cache_read("leaderboard", "error")
        return compute()
    if value is not None:
        count_cache_read("leaderboard", "hit")
        return value
    count_cache_read("leaderboard", "miss")
    value = compute()
    try:
        cache.set(key, value, timeout=settings.LEADERBOARD_CACHE_SECONDS)
    except CACHE_ERRORS:
        logger.warning("leaderboard cache unavailable; board not stored", exc_info=True)
    return value
