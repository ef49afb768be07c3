"""The Redis cache backend: Django's (with django-prometheus's counters), one client per pool.

Django's ``RedisCacheClient.get_client`` builds a new ``redis.Redis`` for every
cache call. Its constructor fills a case-insensitive table of response
callbacks (about 170 entries, each key upper-cased), which measured at about
a tenth of a bet's CPU in ``bench/trade_profile.py`` (the snapshot pointer
moved after each commit) and is paid by every cached read as well. The
client holds no connection of its own (the pool does, and the pool is
already kept per server), so one client per pool is built once and reused.
"""

from __future__ import annotations

from typing import Any

from django.core.cache.backends.redis import RedisCacheClient
from django_prometheus.cache.backends.redis import NativeRedisCache


class ReusedClientRedisCacheClient(RedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class RedisCache(NativeRedisCache):
    def __init__(self, server: Any, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = ReusedClientRedisCacheClient  # Django's __init__ sets its own
