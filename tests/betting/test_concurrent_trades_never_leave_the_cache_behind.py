"""Concurrent trades on one market: once all have committed, the cache is where the database is.

Each trade's refresh runs after its own commit, on its own thread, in any
order; a late refresh of an older version must never move the latest-version
pointer back (``markets.snapshots._advance_pointer``).
"""

from __future__ import annotations

import pytest
from django.core.cache import cache

from markets.models import Market
from markets.snapshots import (
    _advance_pointer,
    _pointed_version,
    _pointer_key,
    _refresh_after_commit,
    market_snapshot,
    snapshot_build,
)
from points.models import Member
from tests.betting.helpers import bet, sell
from tests.concurrency import run_concurrently
from tests.markets.helpers import make_member

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.postgres
def test_concurrent_bets_and_sells_leave_the_cached_snapshot_at_the_last_commit(
    market: Market, bettor: Member
) -> None:
    bettors = [make_member(market.guild, f"trader {n}") for n in range(6)]
    for member in bettors:
        bet(member, market, 1, 20)  # something to sell
    calls = [
        (lambda m=m, n=n: bet(m, market, n % 2, 10 + n) if n % 3 else sell(m, market, 1, "5"))
        for n, m in enumerate(bettors * 4)
    ]

    outcomes = run_concurrently(calls, workers=6)

    assert [o.error for o in outcomes if o.error] == []
    truth = snapshot_build(guild_id=market.guild_id, market_id=market.pk)
    assert truth.version == 6 + len(calls)
    assert max(o.value.market_version for o in outcomes) == truth.version
    cached = market_snapshot(guild_id=market.guild_id, market_id=market.pk)
    assert cached == truth
    assert _pointed_version(cache.get(_pointer_key(market.pk))) == truth.version


def test_a_late_refresh_of_an_older_version_does_not_move_the_pointer_back(
    market: Market, bettor: Member
) -> None:
    first = bet(bettor, market, 0, 30)
    second = bet(bettor, market, 1, 30)
    newest = market_snapshot(guild_id=market.guild_id, market_id=market.pk)
    assert newest.version == second.market_version

    # The first trade's callback, running last (another process was slow).
    _refresh_after_commit(market.guild_id, market.pk, first.market_version, False)
    _advance_pointer(market.pk, first.market_version)

    assert market_snapshot(guild_id=market.guild_id, market_id=market.pk) == newest


@pytest.mark.redis
def test_on_redis_the_pointer_only_moves_forward(
    market: Market, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Atomic in Redis itself (a script), not by a lock of this process: other
    # processes' refreshes race with ours. The process-local path must not run.
    monkeypatch.setattr("markets.snapshots._local_lock", None)
    _advance_pointer(market.pk, 7)
    _advance_pointer(market.pk, 5)
    assert _pointed_version(cache.get(_pointer_key(market.pk))) == 7
    _advance_pointer(market.pk, 8)
    assert _pointed_version(cache.get(_pointer_key(market.pk))) == 8
