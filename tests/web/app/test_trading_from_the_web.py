"""Buying and selling through the web pages: a quote, a confirm, the bot's rules."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from pytest_django import DjangoCaptureOnCommitCallbacks, Settings

from betting.models import Position, Trade
from betting.services import bet_place
from markets.models import Market, MarketStatus
from points.models import Account
from tests.web.app.conftest import MembersApp
from tests.web.app.helpers import (
    app_url,
    confirm_fields,
    error_code,
    error_message,
    shown_probabilities,
)

pytestmark = pytest.mark.web


@pytest.fixture
def market(members_app: MembersApp) -> Market:
    maker = members_app.person("maker")
    return members_app.market(members_app.harbour, maker, question="Will the ferry run on Sunday?")


@pytest.fixture
def ana(members_app: MembersApp) -> Client:
    return members_app.sign_in(members_app.person("ana"))


def _balance(market: Market, client: Client) -> int:
    user_id = client.session["_auth_user_id"]
    from predictmarket.models import StaffDiscordLink

    discord_id = StaffDiscordLink.objects.get(user_id=user_id).discord_id
    return Account.objects.get(member__guild=market.guild, member__discord_id=discord_id).balance


def test_a_bet_is_quoted_then_placed_on_confirm(
    market: Market, ana: Client, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    page = ana.get(app_url("market", market))
    assert page.status_code == 200
    assert b'id="buy-form"' in page.content
    before = _balance(market, ana)

    quote = ana.post(app_url("buy-quote", market), {"outcome": 0, "amount": "100"})

    assert quote.status_code == 200
    assert b"Confirm your bet" in quote.content
    assert Trade.objects.count() == 0  # a quote charges nothing
    fields = confirm_fields(quote)
    assert fields["outcome"] == "0" and fields["amount"] == "100"
    assert Decimal(fields["min_shares"]) > 100  # 100 points at 50% buy more than 100 shares

    # Committed as in production: the market's snapshot moves on after the commit.
    with django_capture_on_commit_callbacks(execute=True):
        placed = ana.post(app_url("buy", market), fields)

    assert placed.status_code == 302
    assert placed["Location"] == app_url("market", market)
    trade = Trade.objects.get()
    assert (trade.points, trade.outcome.index, trade.shares) == (
        100,
        0,
        Decimal(fields["min_shares"]),
    )
    assert _balance(market, ana) == before - 100
    after = ana.get(placed["Location"])
    assert "Bought" in after.content.decode()
    assert shown_probabilities(after)[0] > Decimal("0.5")
    portfolio = ana.get(reverse("webapp:portfolio", kwargs={"guild_id": market.guild_id}))
    assert market.question.encode() in portfolio.content
    history = ana.get(reverse("webapp:history", kwargs={"guild_id": market.guild_id}))
    assert b"-100" in history.content


def test_a_double_submit_places_one_bet(market: Market, ana: Client) -> None:
    fields = confirm_fields(ana.post(app_url("buy-quote", market), {"outcome": 1, "amount": "50"}))
    before = _balance(market, ana)

    first = ana.post(app_url("buy", market), fields)
    second = ana.post(app_url("buy", market), fields)

    assert first.status_code == second.status_code == 302
    assert Trade.objects.count() == 1
    assert _balance(market, ana) == before - 50


def test_each_quote_issues_its_own_key(market: Market, ana: Client) -> None:
    for _ in range(2):
        fields = confirm_fields(
            ana.post(app_url("buy-quote", market), {"outcome": 1, "amount": "20"})
        )
        assert ana.post(app_url("buy", market), fields).status_code == 302
    assert Trade.objects.count() == 2  # two confirmed quotes are two bets


def test_a_stale_quote_is_refused_and_requoted(
    members_app: MembersApp, market: Market, ana: Client
) -> None:
    quote = ana.post(app_url("buy-quote", market), {"outcome": 0, "amount": "100"})
    fields = confirm_fields(quote)
    before = _balance(market, ana)
    # Someone else buys the same answer first: 100 points now buy fewer shares.
    rival = members_app.member_of(members_app.harbour, members_app.person("rival"))
    bet_place(
        member=rival, market_id=market.pk, outcome_index=0, amount=300, idempotency_key="rival"
    )

    stale = ana.post(app_url("buy", market), fields)

    assert stale.status_code == 409
    assert error_code(stale) == "price_moved"
    assert b"The price moved" in stale.content
    assert Trade.objects.filter(member__discord_id__gt=0).exclude(member=rival).count() == 0
    assert _balance(market, ana) == before  # nothing charged
    fresh = confirm_fields(stale)
    assert Decimal(fresh["min_shares"]) < Decimal(fields["min_shares"])
    assert fresh["token"] != fields["token"]

    placed = ana.post(app_url("buy", market), fresh)

    assert placed.status_code == 302
    mine = Trade.objects.exclude(member=rival).get()
    assert mine.shares == Decimal(fresh["min_shares"])


def test_a_confirm_token_only_works_for_its_market(
    members_app: MembersApp, market: Market, ana: Client
) -> None:
    other = members_app.market(
        members_app.harbour, members_app.person("maker2"), question="Another question?"
    )
    fields = confirm_fields(ana.post(app_url("buy-quote", market), {"outcome": 0, "amount": "10"}))

    moved = ana.post(app_url("buy", other), fields)
    forged = ana.post(app_url("buy", market), {**fields, "token": fields["token"] + "x"})

    for response in (moved, forged):
        assert response.status_code == 400
        assert error_code(response) == "form_expired"
    assert Trade.objects.count() == 0


def test_another_persons_confirm_form_is_refused(
    members_app: MembersApp, market: Market, ana: Client
) -> None:
    fields = confirm_fields(ana.post(app_url("buy-quote", market), {"outcome": 0, "amount": "10"}))
    ben = members_app.sign_in(members_app.person("ben"))

    response = ben.post(app_url("buy", market), fields)

    assert response.status_code == 400
    assert error_code(response) == "form_expired"
    assert Trade.objects.count() == 0


def test_a_tampered_amount_with_a_used_key_is_a_conflict(market: Market, ana: Client) -> None:
    fields = confirm_fields(ana.post(app_url("buy-quote", market), {"outcome": 0, "amount": "10"}))
    assert ana.post(app_url("buy", market), fields).status_code == 302

    response = ana.post(app_url("buy", market), {**fields, "amount": "20"})

    assert response.status_code == 409
    assert error_code(response) == "idempotency_conflict"
    assert Trade.objects.get().points == 10


@pytest.mark.parametrize(
    ("data", "code", "message"),
    [
        ({"outcome": 0, "amount": "abc"}, "validation_failed", "whole number of points"),
        ({"outcome": 0, "amount": "0"}, "validation_failed", "at least"),
        ({"outcome": 0, "amount": "9" * 41}, "validation_failed", "Points to spend: Ensure"),
        ({"outcome": 0, "amount": "99999999999999999999"}, "validation_failed", "at most"),
        ({"outcome": 7, "amount": "10"}, "validation_failed", "Answer: Select a valid"),
        ({"outcome": "x", "amount": "10"}, "validation_failed", "Answer: Select a valid"),
        ({"amount": "10"}, "validation_failed", "Answer: This field is required"),
    ],
)
def test_bad_input_is_a_clear_error(
    market: Market, ana: Client, data: dict[str, object], code: str, message: str
) -> None:
    response = ana.post(app_url("buy-quote", market), data)
    assert response.status_code == 400
    assert error_code(response) == code
    assert message in error_message(response)
    assert b'id="buy-form"' in response.content  # the form again, to correct
    assert Trade.objects.count() == 0


def test_a_bad_confirm_form_is_a_clear_error(market: Market, ana: Client) -> None:
    fields = confirm_fields(ana.post(app_url("buy-quote", market), {"outcome": 0, "amount": "10"}))
    for broken in [
        {**fields, "min_shares": "-1"},
        {**fields, "min_shares": "lots"},
        {k: v for k, v in fields.items() if k != "token"},
    ]:
        response = ana.post(app_url("buy", market), broken)
        assert response.status_code == 400
        assert error_code(response) == "validation_failed"
    assert Trade.objects.count() == 0


def test_a_closed_market_refuses_a_quote(market: Market, ana: Client) -> None:
    Market.objects.filter(pk=market.pk).update(status=MarketStatus.CLOSED)
    response = ana.post(app_url("buy-quote", market), {"outcome": 0, "amount": "10"})
    assert response.status_code == 409
    assert error_code(response) == "invalid_state"
    assert b"Betting is over" in response.content


def test_more_points_than_the_balance_is_refused(market: Market, ana: Client) -> None:
    assert ana.get(app_url("market", market)).status_code == 200  # first use: the grant
    balance = _balance(market, ana)
    fields = confirm_fields(ana.post(app_url("buy-quote", market), {"outcome": 0, "amount": "10"}))
    response = ana.post(app_url("buy", market), {**fields, "amount": str(balance + 1)})
    assert response.status_code in (400, 422)
    assert error_code(response) in {"insufficient_points", "validation_failed"}
    assert Trade.objects.count() == 0


def test_the_bet_rate_limit_applies(market: Market, ana: Client, settings: Settings) -> None:
    settings.RATE_LIMIT_BETS_PER_MINUTE = 2
    codes = []
    for _ in range(3):
        fields = confirm_fields(
            ana.post(app_url("buy-quote", market), {"outcome": 0, "amount": "10"})
        )
        codes.append(ana.post(app_url("buy", market), fields).status_code)
    assert codes[:2] == [302, 302]
    assert codes[2] == 429
    assert Trade.objects.count() == 2


def test_quotes_count_against_the_command_limit(
    market: Market, ana: Client, settings: Settings
) -> None:
    settings.RATE_LIMIT_COMMANDS_PER_MINUTE = 2
    quotes = [
        ana.post(app_url("buy-quote", market), {"outcome": 0, "amount": "10"}) for _ in range(3)
    ]
    assert [q.status_code for q in quotes] == [200, 200, 429]
    assert error_code(quotes[2]) == "rate_limited"
    assert int(quotes[2]["Retry-After"]) >= 1
    assert "commands per minute" in error_message(quotes[2])
    # Watching the odds is not a command: the page and its polls stay available.
    for _ in range(5):
        assert ana.get(app_url("odds", market)).status_code == 200


def test_forms_need_the_csrf_token(members_app: MembersApp, market: Market) -> None:
    client = members_app.sign_in(members_app.person("ana"), Client(enforce_csrf_checks=True))
    page = client.get(app_url("market", market))
    assert b'name="csrfmiddlewaretoken"' in page.content

    without = client.post(app_url("buy-quote", market), {"outcome": 0, "amount": "10"})
    assert without.status_code == 403

    token = client.cookies["csrftoken"].value
    quote = client.post(
        app_url("buy-quote", market),
        {"outcome": 0, "amount": "10", "csrfmiddlewaretoken": token},
    )
    assert quote.status_code == 200
    fields = confirm_fields(quote)
    assert "csrfmiddlewaretoken" in fields
    no_csrf = {k: v for k, v in fields.items() if k != "csrfmiddlewaretoken"}
    assert client.post(app_url("buy", market), no_csrf).status_code == 403
    assert Trade.objects.count() == 0
    assert client.post(app_url("buy", market), fields).status_code == 302
    assert Trade.objects.count() == 1


def test_shares_are_sold_with_a_quote_and_confirm(market: Market, ana: Client) -> None:
    fields = confirm_fields(ana.post(app_url("buy-quote", market), {"outcome": 0, "amount": "100"}))
    assert ana.post(app_url("buy", market), fields).status_code == 302
    page = ana.get(app_url("market", market))
    assert b'id="sell-form"' in page.content
    before = _balance(market, ana)

    quote = ana.post(app_url("sell-quote", market), {"outcome": 0, "shares": "all"})

    assert quote.status_code == 200
    assert b"Confirm your sale" in quote.content
    sell = confirm_fields(quote)
    assert Decimal(sell["shares"]) == Decimal(fields["min_shares"])
    first = ana.post(app_url("sell", market), sell)
    again = ana.post(app_url("sell", market), sell)  # a double submit sells once

    assert first.status_code == again.status_code == 302
    assert Trade.objects.filter(side="sell").count() == 1
    assert _balance(market, ana) == before + int(sell["min_points"])
    assert Position.objects.get(market=market, outcome__index=0).shares == 0


def test_selling_more_than_held_is_a_clear_error(market: Market, ana: Client) -> None:
    response = ana.post(app_url("sell-quote", market), {"outcome": 0, "shares": "5"})
    assert response.status_code == 422
    assert error_code(response) == "insufficient_shares"


def test_a_stale_sale_is_refused_and_requoted(
    members_app: MembersApp, market: Market, ana: Client
) -> None:
    fields = confirm_fields(ana.post(app_url("buy-quote", market), {"outcome": 0, "amount": "100"}))
    ana.post(app_url("buy", market), fields)
    sell = confirm_fields(ana.post(app_url("sell-quote", market), {"outcome": 0, "shares": "all"}))
    rival = members_app.member_of(members_app.harbour, members_app.person("rival"))
    bet_place(member=rival, market_id=market.pk, outcome_index=1, amount=300, idempotency_key="r")

    stale = ana.post(app_url("sell", market), sell)

    assert stale.status_code == 409
    assert error_code(stale) == "price_moved"
    assert Trade.objects.filter(side="sell").count() == 0
    fresh = confirm_fields(stale)
    assert int(fresh["min_points"]) < int(sell["min_points"])
    assert ana.post(app_url("sell", market), fresh).status_code == 302
    assert Trade.objects.filter(side="sell").get().points == int(fresh["min_points"])
