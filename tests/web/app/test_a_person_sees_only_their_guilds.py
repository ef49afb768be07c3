"""Strict guild scoping: a person sees only servers they are in that the bot serves."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from tests.web.app.conftest import MembersApp
from tests.web.app.helpers import app_url

pytestmark = [pytest.mark.web, pytest.mark.tenancy]


def test_the_app_lists_the_served_guilds_the_person_is_in(members_app: MembersApp) -> None:
    ana = members_app.person("ana", members_app.harbour_setup, members_app.elsewhere_setup)
    client = members_app.sign_in(ana)

    response = client.get(reverse("webapp:home"))

    assert response.status_code == 200
    assert b"Harbour" in response.content
    assert b"Hilltop" not in response.content  # a served guild ana is not in
    assert b"Elsewhere" not in response.content  # ana's guild the bot does not serve


def test_another_guilds_pages_are_404(members_app: MembersApp) -> None:
    ana = members_app.person("ana")
    hilda = members_app.person("hilda", members_app.hilltop_setup)
    hilltop_market = members_app.market(
        members_app.hilltop, hilda, question="Hilltop's secret question?"
    )
    client = members_app.sign_in(ana)
    hilltop = members_app.hilltop.pk
    for url in [
        reverse("webapp:markets", kwargs={"guild_id": hilltop}),
        reverse("webapp:portfolio", kwargs={"guild_id": hilltop}),
        reverse("webapp:history", kwargs={"guild_id": hilltop}),
        reverse("webapp:leaderboard", kwargs={"guild_id": hilltop}),
        app_url("market", hilltop_market),
        app_url("odds", hilltop_market),
    ]:
        response = client.get(url)
        assert response.status_code == 404, url
        assert b"secret question" not in response.content
    # No Member row was made for ana in a guild she is not in.
    assert not hilltop_market.guild.members.filter(discord_id=ana.user_id).exists()


def test_another_guilds_market_under_this_guild_is_404(members_app: MembersApp) -> None:
    ana = members_app.person("ana")
    hilda = members_app.person("hilda", members_app.hilltop_setup)
    foreign = members_app.market(members_app.hilltop, hilda, question="Hilltop's secret question?")
    client = members_app.sign_in(ana)
    harbour = members_app.harbour.pk

    for name in ["market", "odds"]:
        url = reverse(f"webapp:{name}", kwargs={"guild_id": harbour, "market_id": foreign.pk})
        response = client.get(url)
        assert response.status_code == 404, url
        assert b"secret question" not in response.content
    for name in ["buy-quote", "buy", "sell-quote", "sell"]:
        url = reverse(f"webapp:{name}", kwargs={"guild_id": harbour, "market_id": foreign.pk})
        response = client.post(url, {"outcome": 0, "amount": 10, "shares": "all"})
        assert response.status_code == 404, url
    assert foreign.trades.count() == 0


def test_an_id_past_bigint_is_404(members_app: MembersApp) -> None:
    client = members_app.sign_in(members_app.person("ana"))
    huge = 10**30
    assert client.get(f"/app/g/{huge}/").status_code == 404
    assert client.get(f"/app/g/{members_app.harbour.pk}/m/{huge}/").status_code == 404


def test_a_visitor_who_is_not_signed_in_is_sent_to_sign_in(members_app: MembersApp) -> None:
    response = Client().get(reverse("webapp:markets", kwargs={"guild_id": members_app.harbour.pk}))
    assert response.status_code == 302
    assert response["Location"].startswith("/?next=")


def test_a_password_user_without_discord_is_asked_to_sign_in_with_it(
    members_app: MembersApp, django_user_model: object
) -> None:
    operator = django_user_model.objects.create_user("operator", password="pw")  # type: ignore[attr-defined]
    client = Client()
    client.force_login(operator)
    response = client.get(reverse("webapp:markets", kwargs={"guild_id": members_app.harbour.pk}))
    assert response.status_code == 401
    assert b"sign in with Discord" in response.content


def test_discord_unreachable_is_a_clear_page(members_app: MembersApp) -> None:
    client = members_app.sign_in(members_app.person("ana"))
    members_app.emulator.fail_next("GET", r"/users/@me/guilds$", status=503)
    response = client.get(reverse("webapp:markets", kwargs={"guild_id": members_app.harbour.pk}))
    assert response.status_code == 503
    assert b"Discord did not list your servers" in response.content


def test_someone_who_left_the_server_loses_its_pages(
    members_app: MembersApp, settings: object
) -> None:
    ana = members_app.person("ana")
    client = members_app.sign_in(ana)
    markets = reverse("webapp:markets", kwargs={"guild_id": members_app.harbour.pk})
    assert client.get(markets).status_code == 200

    del members_app.harbour_setup.members[ana.user_id]
    from django.core.cache import cache

    cache.clear()  # as when the minute the guild list is kept for is over
    assert client.get(markets).status_code == 404
