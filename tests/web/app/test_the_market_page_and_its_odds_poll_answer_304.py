"""The members' market page and its odds poll come from the cached snapshot, with an ETag.

A poll revalidating with the current tag is a 304 that reads no market row: what
still runs is the person's own sign-in (session, user, Discord link, member).
A trade moves the tag on; another guild's market is a 404 either way.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from pytest_django import DjangoCaptureOnCommitCallbacks

from betting.services import bet_place
from markets.models import Market
from tests.web.app.conftest import MembersApp
from tests.web.app.helpers import app_url, shown_probabilities

pytestmark = pytest.mark.web


@pytest.fixture
def market(members_app: MembersApp) -> Market:
    maker = members_app.person("maker")
    return members_app.market(members_app.harbour, maker, question="Will the ferry run on Sunday?")


@pytest.fixture
def ana(members_app: MembersApp) -> Client:
    return members_app.sign_in(members_app.person("ana"))


def market_queries(captured: CaptureQueriesContext) -> list[str]:
    """Statements that read the markets' or the betting app's tables."""
    return [
        q["sql"]
        for q in captured.captured_queries
        if "markets_" in q["sql"] or "betting_" in q["sql"]
    ]


def trade(members_app: MembersApp, market: Market, outcome: int, amount: int) -> None:
    bettor = members_app.member_of(members_app.harbour, members_app.person("bettor"))
    bet_place(
        member=bettor,
        market_id=market.pk,
        outcome_index=outcome,
        amount=amount,
        idempotency_key=f"web-304-{outcome}-{amount}",
        bypass_rate_limit=True,
    )


def test_a_poll_with_the_current_etag_is_a_304_that_reads_no_market_row(
    ana: Client, market: Market
) -> None:
    first = ana.get(app_url("odds", market), HTTP_HX_REQUEST="true")
    assert first.status_code == 200
    assert first["Cache-Control"] == "private, no-cache"
    etag = first["ETag"]

    with CaptureQueriesContext(connection) as captured:
        again = ana.get(app_url("odds", market), HTTP_HX_REQUEST="true", HTTP_IF_NONE_MATCH=etag)

    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == etag
    assert market_queries(captured) == []


def test_a_poll_with_an_etag_from_before_a_trade_gets_the_new_odds(
    members_app: MembersApp,
    ana: Client,
    market: Market,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    old = ana.get(app_url("odds", market), HTTP_HX_REQUEST="true")
    assert shown_probabilities(old) == [Decimal("0.5")] * 2

    with django_capture_on_commit_callbacks(execute=True):
        trade(members_app, market, 0, 200)

    new = ana.get(app_url("odds", market), HTTP_HX_REQUEST="true", HTTP_IF_NONE_MATCH=old["ETag"])
    assert new.status_code == 200
    assert new["ETag"] != old["ETag"]
    assert shown_probabilities(new)[0] > Decimal("0.5")
    assert "200 points traded by 1 member in 1 trade" in new.content.decode()


def test_the_market_page_is_a_304_until_the_market_trades(
    members_app: MembersApp,
    ana: Client,
    market: Market,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    first = ana.get(app_url("market", market))
    assert first.status_code == 200
    assert first["Cache-Control"] == "private, no-cache"

    with CaptureQueriesContext(connection) as captured:
        again = ana.get(app_url("market", market), HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304
    assert market_queries(captured) == []

    with django_capture_on_commit_callbacks(execute=True):
        trade(members_app, market, 1, 150)
    after = ana.get(app_url("market", market), HTTP_IF_NONE_MATCH=first["ETag"])
    assert after.status_code == 200
    assert shown_probabilities(after)[1] > Decimal("0.5")


def test_each_person_has_their_own_market_page_tag(
    members_app: MembersApp, ana: Client, market: Market
) -> None:
    """The page shows the person's balance and shares: one person's tag never fits another's."""
    ben = members_app.sign_in(members_app.person("ben"))
    anas = ana.get(app_url("market", market))["ETag"]

    bens = ben.get(app_url("market", market), HTTP_IF_NONE_MATCH=anas)

    assert bens.status_code == 200
    assert bens["ETag"] != anas


def test_another_guilds_market_is_not_found_from_the_cache_either(
    members_app: MembersApp, ana: Client
) -> None:
    hilda = members_app.person("hilda", members_app.hilltop_setup)
    hilltop_market = members_app.market(members_app.hilltop, hilda, question="Hilltop only?")
    members_app.sign_in(hilda).get(app_url("odds", hilltop_market))  # now cached
    harbour = members_app.harbour.pk

    for name in ("odds", "market"):
        path = reverse(
            f"webapp:{name}", kwargs={"guild_id": harbour, "market_id": hilltop_market.pk}
        )
        response = ana.get(path)
        assert response.status_code == 404
        assert b"Hilltop only?" not in response.content


def test_the_market_page_tag_moves_with_the_server_name_and_the_time_left(
    ana: Client, market: Market, members_app: MembersApp
) -> None:
    """Both are on the page but not in the market's version: a 304 would keep them stale."""
    import time_machine

    from points.models import Guild

    first = ana.get(app_url("market", market))
    Guild.objects.filter(pk=market.guild_id).update(name="Harbour (renamed)")
    renamed = ana.get(app_url("market", market), HTTP_IF_NONE_MATCH=first["ETag"])
    assert renamed.status_code == 200
    assert "Harbour (renamed)" in renamed.content.decode()

    with time_machine.travel(market.closes_at - (market.closes_at - market.opens_at) / 2):
        later = ana.get(app_url("market", market), HTTP_IF_NONE_MATCH=renamed["ETag"])
    assert later.status_code == 200  # "(… left)" says something else now
