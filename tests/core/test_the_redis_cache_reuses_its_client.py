"""The Redis cache builds one ``redis.Redis`` per connection pool, not one per call.

Django's own client builds a new one for every cache call, and its
constructor costs about a tenth of a bet's CPU (``predictmarket/redis_cache.py``).
"""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.cache import caches

from predictmarket.redis_cache import RedisCache


@pytest.fixture
def redis_cache() -> RedisCache:
    if not settings.CACHES["default"]["BACKEND"].endswith("redis_cache.RedisCache"):
        pytest.skip("the cache is local memory without REDIS_URL")
    cache = caches["default"]
    assert isinstance(cache, RedisCache)
    return cache


def test_every_call_uses_the_same_client(redis_cache: RedisCache) -> None:
    first = redis_cache._cache.get_client("a", write=True)
    redis_cache.set("reuse-probe", 1, timeout=5)
    assert redis_cache.get("reuse-probe") == 1
    assert redis_cache._cache.get_client("b") is first


def test_a_reused_client_still_works_in_a_forked_process(redis_cache: RedisCache) -> None:
    """redis-py's pool notices the fork and opens the child's own connection."""
    import multiprocessing

    redis_cache.set("fork-probe", 0, timeout=5)
    context = multiprocessing.get_context("fork")
    child = context.Process(target=redis_cache.incr, args=("fork-probe",))
    child.start()
    child.join(10)
    assert child.exitcode == 0
    assert redis_cache.get("fork-probe") == 1
