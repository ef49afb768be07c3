"""The cache is an accelerator, not a dependency: Redis stopped mid-test, reads stay correct.

The web's cache is a private Redis (``tests/faults/servers.py``) that the test
SIGKILLs between trades. Reads of the market (API detail and list, the public
page) then come from the database, with the odds of the trade made while
Redis was down, each counted as a cache ``error`` and none slowed by more
than the socket timeout; trades commit meanwhile (their snapshot refresh
fails after the commit, quietly). Once Redis is back the reads are cached
again.

The rate limiter is off here: it counts in the same Redis and refuses bets
while it is down, by design (``test_redis_restarted_during_a_bet_storm``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from django.test import Client
from prometheus_client import REGISTRY
from pytest_django import Settings
from rest_framework.test import APIClient

from markets.models import Market
from points.models import Guild
from tests.api.conftest import alice, alice_key, market
from tests.api.helpers import url
from tests.faults.servers import PrivateRedis, private_redis

# The API suite's personas (pytest finds fixtures imported into a test module).
__all__ = ["alice", "alice_key", "market"]

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]

SOCKET_TIMEOUT = 0.25


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[PrivateRedis]:
    with private_redis(tmp_path) as server:
        yield server


@pytest.fixture
def redis_cache(redis_server: PrivateRedis, settings: Settings) -> PrivateRedis:
    settings.CACHES = {
        "default": {
            "BACKEND": "predictmarket.redis_cache.RedisCache",
            "LOCATION": redis_server.url(0),
            "KEY_PREFIX": "pm",
            "OPTIONS": {
                "socket_connect_timeout": SOCKET_TIMEOUT,
                "socket_timeout": SOCKET_TIMEOUT,
            },
        }
    }
    settings.RATE_LIMITS_ENABLED = False
    return redis_server


def reads(kind: str, result: str) -> float:
    value = REGISTRY.get_sample_value(
        "predictmarket_cache_reads_total", {"kind": kind, "result": result}
    )
    return value or 0.0


def odds(body: dict) -> list[Decimal]:
    return [Decimal(o["probability"]) for o in body["outcomes"]]


def test_with_redis_stopped_reads_answer_from_the_database_and_trades_go_on(
    redis_cache: PrivateRedis, alice: APIClient, market: Market, guild: Guild
) -> None:
    Guild.objects.filter(pk=guild.pk).update(public_pages=True)
    browser = Client()
    page = f"/g/{guild.pk}/markets/{market.pk}/"
    first = alice.post(url("bets", market), {"outcome": 0, "amount": 100}, format="json")
    assert first.status_code == 201
    alice.get(url("", market))  # the version's first read builds its snapshot
    hits = reads("market_snapshot", "hit")
    assert odds(alice.get(url("", market)).json()) == [
        Decimal(p) for p in first.json()["probabilities_after"]
    ]
    assert reads("market_snapshot", "hit") == hits + 1  # from Redis

    redis_cache.stop()
    errors = reads("market_snapshot", "error")

    during = alice.post(url("bets", market), {"outcome": 1, "amount": 300}, format="json")
    assert during.status_code == 201, during.content  # committed; its refresh failed quietly
    trade = during.json()
    assert trade["market_version"] == 2

    started = time.monotonic()
    detail = alice.get(url("", market))
    listed = alice.get(url("markets"))
    public = browser.get(page)
    elapsed = time.monotonic() - started

    assert (detail.status_code, listed.status_code, public.status_code) == (200, 200, 200)
    assert detail.json()["version"] == 2
    assert odds(detail.json()) == [Decimal(p) for p in trade["probabilities_after"]]
    assert detail.json()["volume"] == listed.json()["results"][0]["volume"] == 400
    assert "400 points traded by 1 member in 2 trades" in public.content.decode()
    assert reads("market_snapshot", "error") >= errors + 3
    # Each read pays at most a refused connection per cache call, never a stall.
    assert elapsed < 3 * 4 * SOCKET_TIMEOUT

    redis_cache.start()  # empty: it kept nothing
    alice.get(url("", market))  # a miss, cached again
    hits = reads("market_snapshot", "hit")
    again = alice.get(url("", market))
    assert again.json()["version"] == 2
    assert reads("market_snapshot", "hit") == hits + 1
