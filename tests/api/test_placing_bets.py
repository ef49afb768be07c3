"""POST /markets/<id>/bets/: buy shares; idempotent, limited, and all-or-nothing."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from rest_framework.test import APIClient

from betting.models import Position, Trade
from markets.models import Market
from markets.services import market_close
from points.models import Account, Guild, Member
from points.services import member_set_frozen
from tests.api.helpers import (
    api_state,
    assert_error,
    assert_unauthenticated,
    balance_of,
    open_market,
    url,
)


def place(api: APIClient, market: Market, body: dict[str, Any], key: str | None = None) -> Any:
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return api.post(url("bets", market), body, format="json", **headers)


def test_a_bet_moves_points_into_the_market(
    alice: APIClient, member: Member, market: Market
) -> None:
    escrow_before = Account.objects.get(pk=market.escrow_account_id).balance

    response = place(alice, market, {"outcome": 0, "amount": 50})

    assert response.status_code == 201, response.content
    body = response.json()
    trade = Trade.objects.get()
    assert body == {
        "trade_id": trade.pk,
        "market_id": market.pk,
        "side": "buy",
        "outcome": 0,
        "outcome_label": "Yes",
        "points": 50,
        "shares": str(trade.shares),
        "average_price": str(trade.average_price),
        "payout_if_wins": int(trade.shares),
        "probabilities_after": trade.probabilities_after,
        "balance_after": 950,
        "market_version": 1,
        "created_at": body["created_at"],
    }
    assert Decimal(body["shares"]) > 50  # at 50% each point buys about two shares
    assert balance_of(member) == 950
    assert Account.objects.get(pk=market.escrow_account_id).balance == escrow_before + 50
    position = Position.objects.get(member=member)
    assert (position.shares, position.points_spent) == (trade.shares, 50)
    market.refresh_from_db()
    assert market.volume == 50
    assert alice.get(url("me")).json()["balance"] == 950


def test_it_quotes_and_bets_the_same_shares(alice: APIClient, market: Market) -> None:
    quote = alice.post(url("quote", market), {"outcome": 1, "amount": 120}, format="json").json()
    bet = place(alice, market, {"outcome": 1, "amount": 120, "min_shares": quote["shares"]})

    assert bet.status_code == 201, bet.content
    assert bet.json()["shares"] == quote["shares"]
    assert bet.json()["probabilities_after"] == quote["probabilities_after"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount": 10}, "outcome"),
        ({"outcome": -1, "amount": 10}, "outcome"),
        ({"outcome": 2, "amount": 10}, "outcome"),  # a Yes/No market has options 0 and 1
        ({"outcome": "yes", "amount": 10}, "outcome"),
        ({"outcome": 0}, "amount"),
        ({"outcome": 0, "amount": 0}, "amount"),
        ({"outcome": 0, "amount": -5}, "amount"),
        ({"outcome": 0, "amount": 2.5}, "amount"),
        ({"outcome": 0, "amount": "lots"}, "amount"),
        ({"outcome": 0, "amount": 10, "min_shares": -1}, "min_shares"),
        ({"outcome": 0, "amount": 10, "min_shares": "many"}, "min_shares"),
    ],
)
def test_it_rejects_invalid_input(
    alice: APIClient, market: Market, body: dict[str, Any], field: str
) -> None:
    before = api_state()

    response = place(alice, market, body)

    assert_error(response, 400, "validation_failed", field=field)
    assert api_state() == before


def test_it_enforces_the_guilds_bet_limits(alice: APIClient, market: Market, guild: Guild) -> None:
    Guild.objects.filter(pk=guild.pk).update(min_bet=20, max_bet=300)
    before = api_state()

    assert_error(
        place(alice, market, {"outcome": 0, "amount": 19}), 400, "validation_failed", field="amount"
    )
    assert_error(
        place(alice, market, {"outcome": 0, "amount": 301}),
        400,
        "validation_failed",
        field="amount",
    )
    assert api_state() == before


def test_an_overlong_idempotency_key_is_refused(alice: APIClient, market: Market) -> None:
    before = api_state()
    response = place(alice, market, {"outcome": 0, "amount": 10}, key="k" * 101)
    assert_error(response, 400, "validation_failed", field="Idempotency-Key")
    assert api_state() == before


def test_betting_more_than_the_balance_is_refused(
    alice: APIClient, member: Member, market: Market
) -> None:
    before = api_state()

    response = place(alice, market, {"outcome": 0, "amount": 1001})

    error = assert_error(response, 422, "insufficient_points")
    assert error["details"] == {"balance": 1000, "needed": 1001}
    assert api_state() == before


def test_a_replay_returns_the_original_response_and_trades_once(
    alice: APIClient, member: Member, market: Market
) -> None:
    first = place(alice, market, {"outcome": 0, "amount": 40}, key="bet-1")
    # Someone else trades in between: the replay must not show the new prices.
    place(alice, market, {"outcome": 1, "amount": 25}, key="bet-2")

    again = place(alice, market, {"outcome": 0, "amount": 40}, key="bet-1")

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert Trade.objects.filter(side="buy", points=40).count() == 1
    assert balance_of(member) == 1000 - 40 - 25


@pytest.mark.parametrize(
    "changed",
    [{"amount": 41}, {"outcome": 1}],
    ids=["another amount", "another outcome"],
)
def test_the_same_key_with_another_body_is_a_conflict(
    alice: APIClient, market: Market, changed: dict[str, int]
) -> None:
    place(alice, market, {"outcome": 0, "amount": 40}, key="bet-3")
    before = api_state()

    response = place(alice, market, {"outcome": 0, "amount": 40, **changed}, key="bet-3")

    assert_error(response, 409, "idempotency_conflict")
    assert api_state() == before


def test_the_same_key_on_another_market_is_a_conflict(
    alice: APIClient, market: Market, other_member: Member
) -> None:
    other = open_market(other_member, question="Another market?")
    place(alice, market, {"outcome": 0, "amount": 40}, key="bet-4")
    before = api_state()

    assert_error(
        place(alice, other, {"outcome": 0, "amount": 40}, key="bet-4"), 409, "idempotency_conflict"
    )
    assert api_state() == before


def test_two_members_may_use_the_same_key(
    alice: APIClient, bob: APIClient, member: Member, other_member: Member, market: Market
) -> None:
    """Keys are per member: bob's "1" is not alice's "1"."""
    assert place(alice, market, {"outcome": 0, "amount": 10}, key="1").status_code == 201
    assert place(bob, market, {"outcome": 0, "amount": 10}, key="1").status_code == 201
    assert (balance_of(member), balance_of(other_member)) == (990, 990)


def test_requests_without_a_key_are_separate_bets(
    alice: APIClient, member: Member, market: Market
) -> None:
    assert place(alice, market, {"outcome": 0, "amount": 10}).status_code == 201
    assert place(alice, market, {"outcome": 0, "amount": 10}).status_code == 201
    assert Trade.objects.count() == 2
    assert balance_of(member) == 980


def test_a_moved_price_refuses_the_bet(alice: APIClient, market: Market) -> None:
    before = api_state()

    response = place(alice, market, {"outcome": 0, "amount": 50, "min_shares": "1000"})

    assert_error(response, 409, "price_moved")
    assert api_state() == before


def test_a_closed_market_takes_no_bets(alice: APIClient, market: Market) -> None:
    market_close(market_id=market.pk, actor="discord:1")
    before = api_state()

    assert_error(place(alice, market, {"outcome": 0, "amount": 10}), 409, "invalid_state")
    assert api_state() == before


def test_a_frozen_member_cannot_bet(alice: APIClient, member: Member, market: Market) -> None:
    member_set_frozen(member=member, frozen=True, reason="test", actor="discord:1")
    before = api_state()

    assert_error(place(alice, market, {"outcome": 0, "amount": 10}), 403, "account_frozen")
    assert api_state() == before


def test_a_market_of_another_guild_is_not_found(mallory: APIClient, market: Market) -> None:
    before = api_state()

    response = place(mallory, market, {"outcome": 0, "amount": 10}, key="bet-5")

    assert_error(response, 404, "not_found")
    assert api_state() == before


def test_betting_needs_a_key(anonymous: APIClient, market: Market) -> None:
    before = api_state()
    assert_unauthenticated(place(anonymous, market, {"outcome": 0, "amount": 10}))
    assert api_state() == before


def test_a_staff_session_cannot_bet(staff: APIClient, market: Market, guild: Guild) -> None:
    """Points belong to members: only a member's key trades."""
    before = api_state()
    response = staff.post(
        f"{url('bets', market)}?guild={guild.pk}", {"outcome": 0, "amount": 10}, format="json"
    )
    assert_error(response, 403, "permission_denied")
    assert api_state() == before


@pytest.mark.usefixtures("one_rate_window")
def test_the_sixth_bet_in_a_minute_is_refused(
    alice: APIClient, member: Member, market: Market
) -> None:
    for i in range(5):
        assert place(alice, market, {"outcome": i % 2, "amount": 10}).status_code == 201
    before = api_state()

    refused = place(alice, market, {"outcome": 0, "amount": 10})

    error = assert_error(refused, 429, "rate_limited")
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert error["details"]["retry_after"] == int(refused["Retry-After"])
    assert api_state() == before
    assert Trade.objects.count() == 5 and balance_of(member) == 950


@pytest.mark.usefixtures("one_rate_window")
def test_a_replay_is_not_counted_as_another_bet(alice: APIClient, market: Market) -> None:
    """A client retrying a bet it already placed gets its answer, not a 429."""
    for i in range(5):
        assert place(alice, market, {"outcome": 0, "amount": 10}, key=f"r{i}").status_code == 201

    again = place(alice, market, {"outcome": 0, "amount": 10}, key="r4")

    assert again.status_code == 201
    assert Trade.objects.count() == 5
