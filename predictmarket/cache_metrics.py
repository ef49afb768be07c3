"""Hits and misses of the cached reads, by kind of read (market snapshot, leaderboard, …).

Every cached read counts itself here once per lookup, so a dashboard's hit rate
is ``hit / (hit + miss)`` per kind. A lookup the cache could not answer at all
(Redis down) counts as ``error`` and is served from the database.
"""

from __future__ import annotations

from typing import Literal

from prometheus_client import Counter

CACHE_READS = Counter(
    "predictmarket_cache_reads_total",
    "Cached reads by kind (market_snapshot, market_list, leaderboard, …) and result "
    "(hit, miss, error)",
    ["kind", "result"],
)

CacheResult = Literal["hit", "miss", "error"]


def count_cache_read(kind: str, result: CacheResult) -> None:
    CACHE_READS.labels(kind, result).inc()
