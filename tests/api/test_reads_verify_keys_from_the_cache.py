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

    def without_clock(body: dict[str, object]) -> dict[str, object]:
        return {k: v for k, v in body.items() if k != "seconds_left"}  # counts down meanwhile

    assert without_clock(again[0].json()) == without_clock(first[0].json())
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


def test_a_read_that_verified_the_key_just_before_its_revoke_cannot_cache_it(
    alice: APIClient, member: Member, market: Market, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race: a read finds the key live in the database, the revoke commits (and drops the
    cache entry), then the read fills the cache with the key it verified. The revoke's
    tombstone must refuse that fill, so the next read asks the database and is refused."""
    import points.api_tokens as api_tokens

    verify = api_tokens.api_token_authenticate

    def verify_then_revoke(key: str) -> ApiToken | None:
        token = verify(key)  # live: the revoke has not committed yet
        api_token_revoke(member=member, actor="discord:1")  # commits now, before the fill
        return token

    monkeypatch.setattr(api_tokens, "api_token_authenticate", verify_then_revoke)
    assert alice.get(url("", market)).status_code == 200  # that read itself was already in

    monkeypatch.setattr(api_tokens, "api_token_authenticate", verify)
    assert_unauthenticated(alice.get(url("", market)), code="authentication_failed")


@pytest.mark.parametrize("prefix", ["abc def 1234", "ABCDEF123456", "zzzzzzzzzzzz"])
def test_a_key_whose_prefix_is_not_lowercase_hex_is_refused_without_a_lookup(
    prefix: str, market: Market, django_assert_num_queries: object
) -> None:
    client = client_with_key(f"pm_{prefix}_secret")
    with django_assert_num_queries(0):  # type: ignore[operator]
        response = client.get(url("", market))
    assert_unauthenticated(response, code="authentication_failed")
