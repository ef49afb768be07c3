"""A read after a trade shows the trade's odds: the cached snapshot is never behind a commit.

Real commits (``transaction=True``): the snapshot is refreshed by the trade's
on-commit callback, which a test wrapped in one transaction would never run.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from markets.models import Market, Outcome
from markets.snapshots import _pointer_key, _pointer_value, market_snapshot
from points.models import Member
from tests.api.helpers import assert_error, url

pytestmark = pytest.mark.django_db(transaction=True)


def probabilities(body: dict) -> list[Decimal]:
    return [Decimal(o["probability"]) for o in body["outcomes"]]


def test_the_read_after_a_bet_shows_the_bets_odds_and_version(
    alice: APIClient, market: Market
) -> None:
    before = alice.get(url("", market)).json()  # cached now, at version 0
    assert before["version"] == 0

    trade = alice.post(url("bets", market), {"outcome": 0, "amount": 200}, format="json").json()

    after = alice.get(url("", market)).json()
    assert trade["market_version"] == after["version"] == 1
    assert probabilities(after) == [Decimal(p) for p in trade["probabilities_after"]]
    assert probabilities(after)[0] > probabilities(before)[0]
    assert after["volume"] == 200
    assert after["traders"] == after["trades"] == 1


def test_a_sale_moves_the_cached_odds_back(alice: APIClient, market: Market) -> None:
    alice.post(url("bets", market), {"outcome": 1, "amount": 300}, format="json")
    bought = alice.get(url("", market)).json()

    sale = alice.post(url("sell", market), {"outcome": 1, "shares": "all"}, format="json").json()

    after = alice.get(url("", market), {"min_version": sale["market_version"]}).json()
    assert after["version"] == sale["market_version"] == bought["version"] + 1
    assert probabilities(after) == [Decimal(p) for p in sale["probabilities_after"]]
    assert probabilities(after)[1] < probabilities(bought)[1]


def test_min_version_ahead_of_the_cache_reads_the_database(
    alice: APIClient, market: Market, member: Member
) -> None:
    """A refresh that never happened (Redis lost it): the trader's read is still fresh."""
    alice.get(url("", market))  # version 0 cached
    trade = alice.post(url("bets", market), {"outcome": 0, "amount": 100}, format="json").json()
    # As if the refresh after the commit had been lost: the pointer still names version 0.
    cache.set(_pointer_key(market.pk), _pointer_value(0))

    stale = alice.get(url("", market)).json()
    fresh = alice.get(url("", market), {"min_version": trade["market_version"]}).json()
    by_header = alice.get(url("", market), HTTP_X_MIN_VERSION=str(trade["market_version"])).json()

    assert stale["version"] == 0  # what a reader told about nothing may get
    assert fresh == {**by_header, "seconds_left": fresh["seconds_left"]}
    assert fresh["version"] == 1
    assert probabilities(fresh) == [Decimal(p) for p in trade["probabilities_after"]]
    # The database's answer was cached: the pointer moved forward again.
    cached = market_snapshot(guild_id=member.guild_id, market_id=market.pk)
    pools = list(
        Outcome.objects.filter(market=market).order_by("index").values_list("pool", flat=True)
    )
    assert (cached.version, [o.pool for o in cached.outcomes]) == (1, pools)


def test_a_closed_market_reads_closed_at_once(
    mod: APIClient, alice: APIClient, market: Market
) -> None:
    alice.get(url("", market))

    closed = mod.post(url("close", market)).json()

    assert closed["status"] == "closed"
    read = alice.get(url("", market)).json()
    assert (read["status"], read["accepting_bets"], read["version"]) == ("closed", False, 1)


@pytest.mark.parametrize("raw", ["abc", "-1", "1.5", "²", str(2**63)])
def test_a_bad_min_version_is_refused(alice: APIClient, market: Market, raw: str) -> None:
    assert_error(
        alice.get(url("", market), {"min_version": raw}),
        400,
        "validation_failed",
        field="min_version",
    )


def test_another_guilds_cached_market_stays_hidden(
    alice: APIClient, mallory: APIClient, foreign_market: Market
) -> None:
    assert mallory.get(url("", foreign_market)).status_code == 200  # cached now

    response = alice.get(url("", foreign_market))

    assert_error(response, 404, "not_found")
