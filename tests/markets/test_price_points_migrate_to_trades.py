"""Migration markets 0008: every price point is a trade's or its market's opening, then it goes.

Backwards the points are rebuilt from markets and trades; forwards each is
checked against what replaces it, and a point nothing reproduces stops the
migration instead of being lost.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from markets.models import Market
from markets.selectors import market_price_history
from tests.betting.helpers import bet, sell
from tests.markets.helpers import make_guild, make_market, make_member

pytestmark = [pytest.mark.django_db(transaction=True)]

REPLACED = ("markets", "0008_price_history_from_trades")
BEFORE = ("markets", "0007_leaderboard_indexes")


@pytest.fixture
def traded() -> Market:
    guild = make_guild()
    market = make_market(make_member(guild, "creator"), options=("A", "B", "C"))
    member = make_member(guild, "trader")
    bet(member, market, 0, 100)
    bet(member, market, 2, 30)
    sell(member, market, 0, "all")
    make_market(make_member(guild, "quiet"))  # a market with no trade
    return market


@pytest.fixture
def before_the_migration() -> Iterator[MigrationExecutor]:
    executor = MigrationExecutor(connection)
    targets = executor.loader.graph.leaf_nodes()
    try:
        executor.migrate([BEFORE])
        yield MigrationExecutor(connection)
    finally:
        MigrationExecutor(connection).migrate(targets)


def _points(executor: MigrationExecutor, market: Market) -> list[tuple[object, list[str]]]:
    PricePoint = executor.loader.project_state([BEFORE]).apps.get_model("markets", "PricePoint")
    return list(
        PricePoint.objects.filter(market_id=market.pk)
        .order_by("created_at", "id")
        .values_list("created_at", "probabilities")
    )


def test_the_points_rebuilt_backwards_are_the_history_forwards(
    traded: Market, before_the_migration: MigrationExecutor
) -> None:
    history = [(p.at, [str(v) for v in p.probabilities]) for p in market_price_history(traded)]

    rebuilt = _points(before_the_migration, traded)
    assert rebuilt == history
    assert len(rebuilt) == 4  # the opening and three trades

    before_the_migration.migrate([REPLACED])
    assert [
        (p.at, [str(v) for v in p.probabilities]) for p in market_price_history(traded)
    ] == history


def test_a_point_nothing_reproduces_stops_the_migration(
    traded: Market, before_the_migration: MigrationExecutor
) -> None:
    apps = before_the_migration.loader.project_state([BEFORE]).apps
    PricePoint = apps.get_model("markets", "PricePoint")
    stray = PricePoint.objects.create(
        market_id=traded.pk, created_at=traded.closes_at, probabilities=["0.9", "0.05", "0.05"]
    )

    with pytest.raises(RuntimeError, match=rf"1 price points .*\[{stray.pk}\]"):
        before_the_migration.migrate([REPLACED])

    assert PricePoint.objects.filter(pk=stray.pk).exists()  # nothing dropped
    PricePoint.objects.filter(pk=stray.pk).delete()
    MigrationExecutor(connection).migrate([REPLACED])
