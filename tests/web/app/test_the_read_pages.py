"""The members' read pages: markets in order with search and categories, odds, boards."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from allauth.socialaccount.models import SocialToken
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from betting.services import bet_place
from markets.models import Market, MarketStatus
from tests.web.app.conftest import MembersApp
from tests.web.app.helpers import app_url, error_code, shown_probabilities
from tests.web.conftest import DiscordSignIn

pytestmark = pytest.mark.web


def _questions(response: object) -> list[str]:
    html = response.content.decode()  # type: ignore[attr-defined]
    return re.findall(r'<td><a href="/app/g/\d+/m/\d+/">([^<]+)</a>', html)


def test_markets_are_listed_open_first_closing_soonest_first(members_app: MembersApp) -> None:
    maker = members_app.person("maker")
    later = members_app.market(members_app.harbour, maker, question="Later?")
    soon = members_app.market(
        members_app.harbour, maker, question="Soon?", duration=timedelta(hours=2)
    )
    done = members_app.market(members_app.harbour, maker, question="Done?")
    Market.objects.filter(pk=done.pk).update(status=MarketStatus.CLOSED)
    expired = members_app.market(members_app.harbour, maker, question="Expired?")
    Market.objects.filter(pk=expired.pk).update(
        opens_at=timezone.now() - timedelta(hours=2),
        closes_at=timezone.now() - timedelta(minutes=1),
    )
    client = members_app.sign_in(maker)

    response = client.get(reverse("webapp:markets", kwargs={"guild_id": members_app.harbour.pk}))

    assert response.status_code == 200
    questions = _questions(response)
    assert questions[:2] == [soon.question, later.question]
    assert set(questions[2:]) == {done.question, expired.question}


def test_markets_are_searched_and_filtered_by_category(members_app: MembersApp) -> None:
    maker = members_app.person("maker")
    members_app.market(members_app.harbour, maker, question="Ferry on Sunday?", category="Travel")
    members_app.market(members_app.harbour, maker, question="Rain on Sunday?", category="Weather")
    members_app.market(members_app.harbour, maker, question="Ferry strike?", category="Travel")
    client = members_app.sign_in(maker)
    url = reverse("webapp:markets", kwargs={"guild_id": members_app.harbour.pk})

    assert sorted(_questions(client.get(url, {"q": "ferry"}))) == [
        "Ferry on Sunday?",
        "Ferry strike?",
    ]
    assert _questions(client.get(url, {"category": "Weather"})) == ["Rain on Sunday?"]
    assert _questions(client.get(url, {"q": "sunday", "category": "Travel"})) == [
        "Ferry on Sunday?"
    ]
    page = client.get(url)
    assert b'<option value="Travel"' in page.content and b'<option value="Weather"' in page.content
    odd = client.get(url, {"status": "nonsense", "q": "x" * 500, "page": "-3"})
    assert odd.status_code == 200
    assert b"were not valid" in odd.content


def test_the_odds_fragment_polls_while_the_market_is_open(members_app: MembersApp) -> None:
    maker = members_app.person("maker")
    market = members_app.market(members_app.harbour, maker, question="Polled?")
    client = members_app.sign_in(maker)

    page = client.get(app_url("market", market))
    fragment = client.get(app_url("odds", market), HTTP_HX_REQUEST="true")

    poll = f'hx-get="{app_url("odds", market)}" hx-trigger="every 2s"'
    assert poll in page.content.decode()
    assert b"/static/django_htmx/htmx" in page.content  # served by the project, no CDN
    assert fragment.status_code == 200
    assert fragment.content.decode().lstrip().startswith('<div id="odds"')
    assert shown_probabilities(fragment) == shown_probabilities(page)
    for part in ["price-history", "recent-trades"]:  # swapped by id along with the odds
        assert f'id="{part}" hx-swap-oob="true"' in fragment.content.decode()
        assert f'id="{part}" hx-swap-oob' not in page.content.decode()

    # Past its closing time (before any sweep marks it closed): polling stops.
    with time_machine.travel(market.closes_at + timedelta(seconds=1)):
        closed = client.get(app_url("odds", market), HTTP_HX_REQUEST="true")
    assert b"hx-trigger" not in closed.content  # nothing moves any more: polling stops


def test_a_poll_after_signing_out_loads_the_sign_in_page(members_app: MembersApp) -> None:
    maker = members_app.person("maker")
    market = members_app.market(members_app.harbour, maker, question="Polled?")
    page_url = "http://testserver" + app_url("market", market)

    response = Client().get(
        app_url("odds", market), HTTP_HX_REQUEST="true", HTTP_HX_CURRENT_URL=page_url
    )

    assert response.status_code == 200
    assert response["HX-Redirect"].startswith("/?next=")
    assert app_url("market", market) in response["HX-Redirect"].replace("%2F", "/")
    elsewhere = Client().get(
        app_url("odds", market),
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL="https://elsewhere.example/x",
    )
    assert "elsewhere" not in elsewhere["HX-Redirect"]


def test_without_a_discord_token_it_offers_to_sign_in_again(members_app: MembersApp) -> None:
    ana = members_app.person("ana")
    client = members_app.sign_in(ana)
    SocialToken.objects.all().delete()  # as for a session from before tokens were kept
    cache.clear()  # the minute the sign-in's answer is kept for is over
    url = reverse("webapp:markets", kwargs={"guild_id": members_app.harbour.pk})

    response = client.get(url)

    assert response.status_code == 401
    assert error_code(response) == "discord_sign_in_needed"
    assert f'action="{reverse("discord_login")}"'.encode() in response.content
    assert f'name="next" value="{url}"'.encode() in response.content
    # The page's button: signed in still, through Discord again, back to this page.
    members_app.emulator.oauth.signed_in(ana)
    start = client.post(reverse("discord_login"), {"next": url})
    assert start.status_code == 302
    back = client.get(DiscordSignIn(members_app.emulator, ana).consent(start["Location"]))
    assert back.status_code == 302 and back["Location"] == url
    assert SocialToken.objects.count() == 1
    assert client.get(url).status_code == 200


def test_portfolio_history_and_leaderboards(members_app: MembersApp) -> None:
    ana, ben = members_app.person("ana"), members_app.person("ben")
    market = members_app.market(members_app.harbour, ana, question="Ferry on Sunday?")
    ben_member = members_app.member_of(members_app.harbour, ben)
    bet_place(
        member=ben_member, market_id=market.pk, outcome_index=0, amount=100, idempotency_key="b1"
    )
    client = members_app.sign_in(ben)
    guild = {"guild_id": members_app.harbour.pk}

    portfolio = client.get(reverse("webapp:portfolio", kwargs=guild))
    assert portfolio.status_code == 200
    assert b"Ferry on Sunday?" in portfolio.content
    history = client.get(reverse("webapp:history", kwargs=guild))
    assert b"Bet" in history.content and b"-100" in history.content
    assert client.get(reverse("webapp:history", kwargs=guild), {"before": "x"}).status_code == 200
    for by in ["balance", "net_worth", "profit", "nonsense"]:
        board = client.get(reverse("webapp:leaderboard", kwargs=guild), {"by": by})
        assert board.status_code == 200, by
        assert b"ana" in board.content and b"(you)" in board.content
    balance_board = client.get(reverse("webapp:leaderboard", kwargs=guild))
    names = re.findall(
        r"<td>(\w+)(?: <strong>\(you\)</strong>)?</td>", balance_board.content.decode()
    )
    assert names == ["ana", "ben"]  # ben spent 100 of the same grant
