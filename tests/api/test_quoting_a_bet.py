"""POST /markets/<id>/quote/: what a bet would get, without trading."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from rest_framework.test import APIClient

from markets.models import Market
from markets.services import market_close
from points.models import Guild
from tests.api.helpers import api_state, assert_error, assert_unauthenticated, url


def test_a_quote_prices_a_bet_and_changes_nothing(alice: APIClient, market: Market) -> None:
    before = api_state()

    response = alice.post(url("quote", market), {"outcome": 0, "amount": 100}, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["outcome"], body["amount"]) == (0, 100)
    shares = Decimal(body["shares"])
    assert shares > 100  # at 50% a point buys about two shares
    assert body["payout_if_wins"] == int(shares)
    assert Decimal(body["average_price"]) == pytest.approx(
        Decimal(100) / shares, rel=Decimal("1e-6")
    )
    yes, no = (Decimal(p) for p in body["probabilities_after"])
    assert yes > Decimal("0.5") > no and abs(yes + no - 1) <= Decimal("0.000002")
    assert body["fee"] == "0.000000"
    assert api_state() == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount": 10}, "outcome"),
        ({"outcome": -1, "amount": 10}, "outcome"),
        ({"outcome": 7, "amount": 10}, "outcome"),
        ({"outcome": 0}, "amount"),
        ({"outcome": 0, "amount": 0}, "amount"),
        ({"outcome": 0, "amount": "ten"}, "amount"),
    ],
)
def test_it_rejects_invalid_input(
    alice: APIClient, market: Market, body: dict[str, Any], field: str
) -> None:
    response = alice.post(url("quote", market), body, format="json")
    assert_error(response, 400, "validation_failed", field=field)


def test_it_quotes_within_the_guilds_bet_limits(
    alice: APIClient, market: Market, guild: Guild
) -> None:
    Guild.objects.filter(pk=guild.pk).update(max_bet=200)
    response = alice.post(url("quote", market), {"outcome": 0, "amount": 201}, format="json")
    assert_error(response, 400, "validation_failed", field="amount")


def test_a_closed_market_gives_no_quote(alice: APIClient, market: Market) -> None:
    market_close(market_id=market.pk, actor="discord:1")
    response = alice.post(url("quote", market), {"outcome": 0, "amount": 10}, format="json")
    assert_error(response, 409, "invalid_state")


def test_a_market_of_another_guild_is_not_found(mallory: APIClient, market: Market) -> None:
    response = mallory.post(url("quote", market), {"outcome": 0, "amount": 10}, format="json")
    assert_error(response, 404, "not_found")


def test_quoting_needs_a_key(anonymous: APIClient, market: Market) -> None:
    response = anonymous.post(url("quote", market), {"outcome": 0, "amount": 10}, format="json")
    assert_unauthenticated(response)
