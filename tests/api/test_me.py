"""GET /me/: who the key belongs to and their balance."""

from __future__ import annotations

from rest_framework.test import APIClient

from betting.services import bet_place
from markets.models import Market
from points.models import Member
from points.services import member_set_frozen, member_set_notify_results
from tests.api.helpers import assert_error, assert_unauthenticated, url


def test_it_shows_the_keys_member(alice: APIClient, member: Member) -> None:
    response = alice.get(url("me"))

    assert response.status_code == 200
    assert response.json() == {
        "member_id": member.pk,
        # Snowflakes exceed 2^53: strings, so JavaScript clients keep every digit.
        "discord_id": str(member.discord_id),
        "display_name": "alice",
        "guild_id": str(member.guild_id),
        "guild_name": "Owner's guild",
        "balance": 1000,
        "is_frozen": False,
        "notify_results": False,
    }


def test_it_shows_the_current_balance_and_freeze(
    alice: APIClient, member: Member, market: Market
) -> None:
    bet_place(
        member=member,
        market_id=market.pk,
        outcome_index=0,
        amount=75,
        idempotency_key="me-1",
        bypass_rate_limit=True,
    )
    member_set_frozen(member=member, frozen=True, reason="test", actor="discord:1")

    body = alice.get(url("me")).json()

    assert (body["balance"], body["is_frozen"]) == (925, True)


def test_it_shows_whether_result_dms_are_on(alice: APIClient, member: Member) -> None:
    member_set_notify_results(member=member, on=True, actor="discord:1")

    assert alice.get(url("me")).json()["notify_results"] is True


def test_each_key_sees_its_own_member(bob: APIClient, outsider: Member, mallory: APIClient) -> None:
    assert bob.get(url("me")).json()["display_name"] == "bob"
    mine = mallory.get(url("me")).json()
    assert (mine["display_name"], mine["guild_id"]) == ("mallory", str(outsider.guild_id))


def test_it_needs_a_key(anonymous: APIClient) -> None:
    assert_unauthenticated(anonymous.get(url("me")))


def test_a_staff_session_is_no_member(staff: APIClient, member: Member) -> None:
    assert_error(staff.get(url("me"), {"guild": member.guild_id}), 403, "permission_denied")
