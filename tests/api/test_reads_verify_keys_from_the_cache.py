"""Reads verify API keys from the cache: a cached market read runs no query at all.

Real commits (``transaction=True``): issuing and revoking drop the cached key when
they commit, as in production. Writes always check the key in the database.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from markets.models import Market
from points.api_tokens import api_token_revoke
from points.models import ApiToken, Guild, Member
from tests.api.helpers import assert_unauthenticated, client_with_key, issue_key, url

pytestmark = pytest.mark.django_db(transaction=True)


def test_cached_reads_of_each_kind_run_no_query(
    alice: APIClient, market: Market, guild: Guild, django_assert_num_queries: object
) -> None:
    Guild.objects.filter(pk=guild.pk).update(public_pages=True)
    browser = Client()
    public_page = f"/g/{guild.pk}/markets/{market.pk}/"
    first = [alice.get(url("", market)), alice.get(url("markets")), browser.get(public_page)]
    assert [r.status_code for r in first] == [200, 200, 200]

    with django_assert_num_queries(0):  # type: ignore[operator]
        again = [alice.get(url("", market)), alice.get(url("markets")), browser.get(public_page)]

    assert [r.status_code for r in again] == [200, 200, 200]  # whole bodies, not 304s
    assert again[0].json() == first[0].json()
    assert again[1].json()["results"] == first[1].json()["results"]
    assert market.question in again[2].content.decode()


def test_a_revoked_key_stops_reading_once_the_revoke_commits(
    alice: APIClient, member: Member, market: Market
) -> None:
    assert alice.get(url("", market)).status_code == 200  # the key is cached now

    api_token_revoke(member=member, actor="discord:1")

    assert_unauthenticated(alice.get(url("", market)), code="authentication_failed")


def test_a_regenerated_key_reads_and_the_old_one_does_not(
    alice: APIClient, member: Member, market: Market
) -> None:
    assert alice.get(url("", market)).status_code == 200

    new_key = issue_key(member)

    assert_unauthenticated(alice.get(url("", market)), code="authentication_failed")
    assert client_with_key(new_key).get(url("", market)).status_code == 200


def test_writes_check_the_key_in_the_database_even_while_the_cache_trusts_it(
    alice: APIClient, member: Member, market: Market
) -> None:
    """A revocation the cache never heard of (Redis lost the delete): reads may go on until
    the entry expires, a trade is refused at once."""
    assert alice.get(url("", market)).status_code == 200
    ApiToken.objects.filter(member=member).update(revoked_at=timezone.now())

    assert alice.get(url("", market)).status_code == 200  # within API_KEY_CACHE_SECONDS
    assert_unauthenticated(
        alice.post(url("bets", market), {"outcome": 0, "amount": 10}, format="json"),
        code="authentication_failed",
    )


def test_a_read_after_a_trade_shows_the_members_own_new_balance(
    alice: APIClient, market: Market
) -> None:
    """Only the key's ids are cached, never the member's row: /me reads the balance live."""
    before = alice.get(url("me")).json()["balance"]

    trade = alice.post(url("bets", market), {"outcome": 0, "amount": 120}, format="json")
    assert trade.status_code == 201, trade.content

    assert alice.get(url("me")).json()["balance"] == before - 120
