"""ETag and Cache-Control on the cached reads; If-None-Match with the current tag is a 304.

The 304 is answered from the cache alone: not one query runs, on the public
pages or through the API (whose key is verified from the cache for reads).
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from pytest_django import DjangoCaptureOnCommitCallbacks
from rest_framework.test import APIClient

from markets.models import Market
from points.models import Guild, Member
from predictmarket.db import statements_recorded
from tests.api.helpers import url
from tests.betting.helpers import bet


def _no_statement(orm: CaptureQueriesContext, statements: list) -> None:
    # Hand-written statements (predictmarket.db) run through Django's cursor too, so
    # every statement sent is among the captured queries. The key itself was verified
    # from the cache (points.api_tokens.api_key_credential): no lookup either.
    assert [q["sql"] for q in orm.captured_queries] == []
    assert statements == []


def test_the_market_detail_is_a_304_for_its_current_etag(alice: APIClient, market: Market) -> None:
    first = alice.get(url("", market))
    etag = first["ETag"]
    assert etag == f'"m{market.pk}-v0-open"'
    assert first["Cache-Control"] == "private, no-cache"

    with CaptureQueriesContext(connection) as orm, statements_recorded() as statements:
        again = alice.get(url("", market), HTTP_IF_NONE_MATCH=etag)

    assert again.status_code == 304
    assert again.content == b""
    assert (again["ETag"], again["Cache-Control"]) == (etag, "private, no-cache")
    _no_statement(orm, statements)


def test_an_etag_from_before_a_trade_gets_the_new_odds(
    alice: APIClient,
    market: Market,
    other_member: Member,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    old = alice.get(url("", market))

    with django_capture_on_commit_callbacks(execute=True):
        bet(other_member, market, 0, 100)

    response = alice.get(url("", market), HTTP_IF_NONE_MATCH=old["ETag"])
    assert response.status_code == 200
    assert response["ETag"] == f'"m{market.pk}-v1-open"' != old["ETag"]
    assert response.json()["outcomes"][0]["probability"] > old.json()["outcomes"][0]["probability"]


def test_the_market_list_is_a_304_until_a_market_in_it_changes(
    alice: APIClient,
    market: Market,
    other_member: Member,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    first = alice.get(url("markets"))
    assert first["Cache-Control"] == "private, no-cache"

    with CaptureQueriesContext(connection) as orm, statements_recorded() as statements:
        again = alice.get(url("markets"), HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304
    _no_statement(orm, statements)

    with django_capture_on_commit_callbacks(execute=True):
        bet(other_member, market, 1, 40)

    after = alice.get(url("markets"), HTTP_IF_NONE_MATCH=first["ETag"])
    assert after.status_code == 200
    assert after.json()["results"][0]["volume"] == 40


@pytest.fixture
def public_guild(guild: Guild) -> Guild:
    Guild.objects.filter(pk=guild.pk).update(public_pages=True)
    return guild


def test_the_public_market_page_is_a_304_with_no_query_at_all(
    public_guild: Guild,
    market: Market,
    other_member: Member,
    django_assert_num_queries: object,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    browser = Client()
    page = f"/g/{public_guild.pk}/markets/{market.pk}/"
    first = browser.get(page)
    assert first.status_code == 200
    assert first["Cache-Control"] == "public, no-cache"

    with django_assert_num_queries(0), statements_recorded() as statements:  # type: ignore[operator]
        again = browser.get(page, HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304
    assert statements == []

    with django_capture_on_commit_callbacks(execute=True):
        bet(other_member, market, 0, 100)
    after = browser.get(page, HTTP_IF_NONE_MATCH=first["ETag"])
    assert after.status_code == 200
    assert "100 points traded by 1 member in 1 trade" in after.content.decode()


def test_the_public_market_list_is_a_304_with_no_query_at_all(
    public_guild: Guild, market: Market, django_assert_num_queries: object
) -> None:
    browser = Client()
    first = browser.get(f"/g/{public_guild.pk}/")
    assert first.status_code == 200
    assert market.question in first.content.decode()

    with django_assert_num_queries(0):  # type: ignore[operator]
        again = browser.get(f"/g/{public_guild.pk}/", HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304


def test_turning_public_pages_off_takes_effect_at_once(
    public_guild: Guild,
    market: Market,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    browser = Client()
    assert browser.get(f"/g/{public_guild.pk}/").status_code == 200  # the flag is cached

    with django_capture_on_commit_callbacks(execute=True):
        guild = Guild.objects.get(pk=public_guild.pk)
        guild.public_pages = False
        guild.save()

    assert browser.get(f"/g/{public_guild.pk}/").status_code == 404
    assert browser.get(f"/g/{public_guild.pk}/markets/{market.pk}/").status_code == 404
