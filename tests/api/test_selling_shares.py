"""POST /markets/<id>/sell/: sell shares back to the market maker."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from rest_framework.test import APIClient

from betting.models import Position, Trade
from betting.services import bet_place
from markets.models import Market
from markets.services import market_close
from points.models import Account, Member
from tests.api.helpers import api_state, assert_error, assert_unauthenticated, balance_of, url


@pytest.fixture
def holding(member: Member, market: Market) -> Decimal:
    """Alice bought Yes for 200 points; the shares she holds."""
    result = bet_place(
        member=member,
        market_id=market.pk,
        outcome_index=0,
        amount=200,
        idempotency_key="setup-holding",
        bypass_rate_limit=True,
    )
    return result.shares


def sell(api: APIClient, market: Market, body: dict[str, Any], key: str | None = None) -> Any:
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return api.post(url("sell", market), body, format="json", **headers)


def test_selling_pays_points_out_of_the_market(
    alice: APIClient, member: Member, market: Market, holding: Decimal
) -> None:
    escrow_before = Account.objects.get(pk=market.escrow_account_id).balance

    response = sell(alice, market, {"outcome": 0, "shares": "100"})

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["side"], body["outcome"], body["outcome_label"]) == ("sell", 0, "Yes")
    assert body["shares"] == "100.000000"
    assert 0 < body["points"] < 100  # each share is worth less than one point
    assert body["payout_if_wins"] == 0
    assert body["balance_after"] == 800 + body["points"] == balance_of(member)
    assert Account.objects.get(pk=market.escrow_account_id).balance == (
        escrow_before - body["points"]
    )
    position = Position.objects.get(member=member)
    assert position.shares == holding - 100
    assert position.points_received == body["points"]


def test_selling_all_empties_the_position(
    alice: APIClient, member: Member, market: Market, holding: Decimal
) -> None:
    response = sell(alice, market, {"outcome": 0, "shares": "all"})

    assert response.status_code == 201, response.content
    assert Decimal(response.json()["shares"]) == holding
    assert Position.objects.get(member=member).shares == 0
    # Buying and selling straight back at no fee returns what was paid, give or take rounding.
    assert 995 <= balance_of(member) <= 1000


def test_selling_more_than_held_is_refused(
    alice: APIClient, market: Market, holding: Decimal
) -> None:
    before = api_state()

    response = sell(alice, market, {"outcome": 0, "shares": str(holding + 1)})

    assert_error(response, 422, "insufficient_shares")
    assert api_state() == before


def test_selling_shares_never_bought_is_refused(
    alice: APIClient, market: Market, holding: Decimal
) -> None:
    before = api_state()
    assert_error(sell(alice, market, {"outcome": 1, "shares": "all"}), 422, "insufficient_shares")
    assert api_state() == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"shares": "10"}, "outcome"),
        ({"outcome": -1, "shares": "10"}, "outcome"),
        ({"outcome": 5, "shares": "10"}, "outcome"),
        ({"outcome": 0}, "shares"),
        ({"outcome": 0, "shares": "ten"}, "shares"),
        ({"outcome": 0, "shares": "0"}, "shares"),
        ({"outcome": 0, "shares": "-3"}, "shares"),
        ({"outcome": 0, "shares": "NaN"}, "shares"),
        ({"outcome": 0, "shares": "1" * 41}, "shares"),
        ({"outcome": 0, "shares": "10", "min_points": -1}, "min_points"),
    ],
)
def test_it_rejects_invalid_input(
    alice: APIClient, market: Market, holding: Decimal, body: dict[str, Any], field: str
) -> None:
    before = api_state()
    assert_error(sell(alice, market, body), 400, "validation_failed", field=field)
    assert api_state() == before


def test_a_replay_returns_the_original_sale(
    alice: APIClient, member: Member, market: Market, holding: Decimal
) -> None:
    first = sell(alice, market, {"outcome": 0, "shares": "50"}, key="sell-1")
    again = sell(alice, market, {"outcome": 0, "shares": "50"}, key="sell-1")

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert Trade.objects.filter(side="sell").count() == 1
    assert Position.objects.get(member=member).shares == holding - 50


def test_the_same_key_for_another_sale_is_a_conflict(
    alice: APIClient, market: Market, holding: Decimal
) -> None:
    sell(alice, market, {"outcome": 0, "shares": "50"}, key="sell-2")
    before = api_state()

    response = sell(alice, market, {"outcome": 0, "shares": "60"}, key="sell-2")

    assert_error(response, 409, "idempotency_conflict")
    assert api_state() == before


def test_a_too_low_return_refuses_the_sale(
    alice: APIClient, market: Market, holding: Decimal
) -> None:
    before = api_state()
    response = sell(alice, market, {"outcome": 0, "shares": "10", "min_points": 1000})
    assert_error(response, 409, "price_moved")
    assert api_state() == before


def test_a_closed_market_buys_nothing_back(
    alice: APIClient, market: Market, holding: Decimal
) -> None:
    market_close(market_id=market.pk, actor="discord:1")
    before = api_state()
    assert_error(sell(alice, market, {"outcome": 0, "shares": "all"}), 409, "invalid_state")
    assert api_state() == before


def test_a_market_of_another_guild_is_not_found(
    mallory: APIClient, market: Market, holding: Decimal
) -> None:
    before = api_state()
    assert_error(sell(mallory, market, {"outcome": 0, "shares": "all"}), 404, "not_found")
    assert api_state() == before


def test_selling_needs_a_key(anonymous: APIClient, market: Market, holding: Decimal) -> None:
    before = api_state()
    assert_unauthenticated(sell(anonymous, market, {"outcome": 0, "shares": "all"}))
    assert api_state() == before
