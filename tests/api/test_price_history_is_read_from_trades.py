"""Price history is derived: the market's opening, then each trade's probabilities after it.

The same answers as the price-point rows gave (one at creation, at
``opens_at`` with equal probabilities, and one per trade with its time and
probabilities after): the history endpoint, the selector the charts and
public pages call, and its thinning.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from betting.models import Trade
from betting.services import bet_place, shares_sell
from markets.models import Market
from markets.selectors import market_price_history
from points.models import Member
from tests.api.helpers import open_market, url


def _expected(market: Market) -> list[tuple[object, list[str]]]:
    """What the price points held: creation's row, then one row per trade."""
    opening = (market.opens_at, ["0.333333"] * 3)
    trades = Trade.objects.filter(market=market).order_by("created_at", "id")
    return [opening, *((t.created_at, t.probabilities_after) for t in trades)]


@pytest.fixture
def traded(member: Member, other_member: Member) -> Market:
    market = open_market(other_member, options=("North", "Harbour", "Station"))
    for i, (who, outcome, amount) in enumerate(
        [(member, 0, 150), (other_member, 1, 60), (member, 2, 40)]
    ):
        bet_place(
            member=who,
            market_id=market.pk,
            outcome_index=outcome,
            amount=amount,
            idempotency_key=f"history-{i}",
            bypass_rate_limit=True,
        )
    shares_sell(
        member=member,
        market_id=market.pk,
        outcome_index=0,
        shares="all",
        idempotency_key="history-sell",
        bypass_rate_limit=True,
    )
    return market


def test_the_selector_gives_the_opening_then_every_trade(traded: Market) -> None:
    history = market_price_history(traded)

    assert [(p.at, [str(v) for v in p.probabilities]) for p in history] == _expected(traded)
    assert all(isinstance(v, Decimal) for p in history for v in p.probabilities)
    assert len(history) == 5  # opening, three bets, one sale


def test_the_history_endpoint_answers_the_same(alice: APIClient, traded: Market) -> None:
    response = alice.get(url("history", traded))

    assert response.status_code == 200
    body = response.json()
    expected = _expected(traded)
    assert [p["probabilities"] for p in body] == [probs for _, probs in expected]
    assert [p["at"] for p in body] == [
        at.isoformat().replace("+00:00", "Z")  # type: ignore[attr-defined]
        for at, _ in expected
    ]


def test_thinning_keeps_the_opening_and_the_last_trade(traded: Market) -> None:
    expected = _expected(traded)

    thinned = market_price_history(traded, limit=3)

    assert [(p.at, [str(v) for v in p.probabilities]) for p in thinned] == [
        expected[0],
        expected[2],
        expected[4],
    ]


def test_a_market_without_trades_has_its_opening_only(other_member: Member) -> None:
    market = open_market(other_member)

    [opening] = market_price_history(market)

    assert opening.at == market.opens_at
    assert opening.probabilities == [Decimal("0.500000")] * 2


def _thinned_in_python(points: list, limit: int) -> list:
    """The rule as first written: every point read, then the first, the last and an even spread."""
    if len(points) <= limit:
        return points
    step = (len(points) - 1) / (limit - 1)
    return [points[round(i * step)] for i in range(limit)]


@pytest.mark.parametrize("limit", [2, 3, 4, 5, 6])
def test_the_database_keeps_the_same_points_as_thinning_every_row_would(
    traded: Market, limit: int
) -> None:
    expected = _thinned_in_python(_expected(traded), limit)

    thinned = market_price_history(traded, limit=limit)

    assert [(p.at, [str(v) for v in p.probabilities]) for p in thinned] == expected
