"""POST /markets/<id>/close/, /votes/ and /cancel/: the moderators' lifecycle actions."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from markets.models import Market, MarketStatus, ResolutionVote
from markets.services import market_close
from points.models import Guild, Member
from predictmarket.models import AuditLogEntry
from tests.api.helpers import api_state, assert_error, assert_unauthenticated, url


@pytest.fixture
def closed_market(market: Market) -> Market:
    market_close(market_id=market.pk, actor="discord:1")
    market.refresh_from_db()
    return market


def vote(api: APIClient, market: Market, body: dict[str, Any]) -> Any:
    return api.post(url("votes", market), body, format="json")


# ------------------------------------------------------------------------------
# Close
# ------------------------------------------------------------------------------
def test_a_moderator_closes_a_market(mod: APIClient, mod_member: Member, market: Market) -> None:
    response = mod.post(url("close", market))

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["id"], body["status"], body["accepting_bets"]) == (market.pk, "closed", False)
    assert body["seconds_left"] is None
    market.refresh_from_db()
    assert market.status == MarketStatus.CLOSED
    entry = AuditLogEntry.objects.get(action="market.close")
    assert entry.actor == f"api:discord:{mod_member.discord_id}"


def test_a_staff_session_closes_a_market(staff: APIClient, guild: Guild, market: Market) -> None:
    response = staff.post(f"{url('close', market)}?guild={guild.pk}")
    assert response.status_code == 200, response.content
    market.refresh_from_db()
    assert market.status == MarketStatus.CLOSED


def test_closing_a_closed_market_is_a_conflict(mod: APIClient, closed_market: Market) -> None:
    before = api_state()
    assert_error(mod.post(url("close", closed_market)), 409, "invalid_state")
    assert api_state() == before


# ------------------------------------------------------------------------------
# Votes
# ------------------------------------------------------------------------------
def test_a_vote_is_counted(mod: APIClient, mod_member: Member, closed_market: Market) -> None:
    response = vote(mod, closed_market, {"outcome": 1})

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["choice"], body["votes_for_choice"], body["votes_needed"]) == ("No", 1, 2)
    assert body["decided"] is False
    assert body["market"]["status"] == "closed"
    stored = ResolutionVote.objects.get(market=closed_market)
    assert stored.voter == f"discord:{mod_member.discord_id}"  # the person, not the channel
    assert stored.outcome.index == 1


def test_the_deciding_vote_resolves_the_market(
    mod: APIClient, second_mod: APIClient, closed_market: Market
) -> None:
    vote(mod, closed_market, {"outcome": 0})

    response = vote(second_mod, closed_market, {"outcome": 0})

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["votes_for_choice"], body["decided"]) == (2, True)
    assert body["market"]["status"] == "resolved"
    assert [o["is_winner"] for o in body["market"]["outcomes"]] == [True, False]
    closed_market.refresh_from_db()
    assert closed_market.status == MarketStatus.RESOLVED
    assert closed_market.winning_outcome.index == 0


def test_votes_to_cancel_cancel_the_market(
    mod: APIClient, second_mod: APIClient, closed_market: Market
) -> None:
    assert vote(mod, closed_market, {"cancel": True}).json()["choice"] == "cancel"
    body = vote(second_mod, closed_market, {"cancel": True}).json()

    assert body["decided"] is True and body["market"]["status"] == "cancelled"
    closed_market.refresh_from_db()
    assert closed_market.status == MarketStatus.CANCELLED


def test_voting_twice_for_the_same_choice_is_a_conflict(
    mod: APIClient, closed_market: Market
) -> None:
    vote(mod, closed_market, {"outcome": 0})
    before = api_state()
    assert_error(vote(mod, closed_market, {"outcome": 0}), 409, "conflict")
    assert api_state() == before


def test_a_market_still_taking_bets_cannot_be_resolved(mod: APIClient, market: Market) -> None:
    before = api_state()
    assert_error(vote(mod, market, {"outcome": 0}), 409, "invalid_state")
    assert api_state() == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "non_field_errors"),
        ({"outcome": 0, "cancel": True}, "non_field_errors"),
        ({"outcome": -1}, "outcome"),
        ({"outcome": 2}, "outcome"),
        ({"outcome": "Yes"}, "outcome"),
        ({"cancel": "perhaps"}, "cancel"),
    ],
)
def test_a_vote_must_name_one_choice(
    mod: APIClient, closed_market: Market, body: dict[str, Any], field: str
) -> None:
    before = api_state()
    assert_error(vote(mod, closed_market, body), 400, "validation_failed", field=field)
    assert api_state() == before


# ------------------------------------------------------------------------------
# Cancel
# ------------------------------------------------------------------------------
def test_a_moderator_cancels_a_market(mod: APIClient, market: Market) -> None:
    response = mod.post(url("cancel", market))

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "cancelled"
    market.refresh_from_db()
    assert market.status == MarketStatus.CANCELLED
    assert AuditLogEntry.objects.filter(action="market.cancelled").count() == 1


def test_a_decided_market_cannot_be_cancelled(mod: APIClient, market: Market) -> None:
    mod.post(url("cancel", market))
    before = api_state()
    assert_error(mod.post(url("cancel", market)), 409, "invalid_state")
    assert api_state() == before


# ------------------------------------------------------------------------------
# Who may
# ------------------------------------------------------------------------------
ACTIONS = [("close", {}), ("cancel", {}), ("votes", {"outcome": 0})]


@pytest.mark.parametrize(("name", "body"), ACTIONS, ids=[a[0] for a in ACTIONS])
def test_members_are_not_moderators(
    alice: APIClient, closed_market: Market, name: str, body: dict[str, Any]
) -> None:
    """The market's own creator (bob) is no moderator either."""
    before = api_state()
    assert_error(
        alice.post(url(name, closed_market), body, format="json"), 403, "permission_denied"
    )
    assert api_state() == before


@pytest.mark.parametrize(("name", "body"), ACTIONS, ids=[a[0] for a in ACTIONS])
def test_the_creator_is_not_a_moderator(
    bob: APIClient, closed_market: Market, name: str, body: dict[str, Any]
) -> None:
    """Bob created the market; in the API only a moderator's key closes or cancels it."""
    before = api_state()
    assert_error(bob.post(url(name, closed_market), body, format="json"), 403, "permission_denied")
    assert api_state() == before


@pytest.mark.parametrize(("name", "body"), ACTIONS, ids=[a[0] for a in ACTIONS])
def test_a_moderator_of_another_guild_finds_nothing(
    foreign_mod: APIClient, closed_market: Market, name: str, body: dict[str, Any]
) -> None:
    before = api_state()
    response = foreign_mod.post(url(name, closed_market), body, format="json")
    assert_error(response, 404, "not_found")
    assert api_state() == before


@pytest.mark.parametrize(("name", "body"), ACTIONS, ids=[a[0] for a in ACTIONS])
def test_moderation_needs_a_key(
    anonymous: APIClient, closed_market: Market, name: str, body: dict[str, Any]
) -> None:
    before = api_state()
    assert_unauthenticated(anonymous.post(url(name, closed_market), body, format="json"))
    assert api_state() == before


@pytest.mark.parametrize(("name", "body"), ACTIONS, ids=[a[0] for a in ACTIONS])
def test_a_member_of_another_guild_learns_nothing(
    mallory: APIClient, closed_market: Market, name: str, body: dict[str, Any]
) -> None:
    """Not a moderator: the same 403 for this guild's market as for one that does not exist."""
    before = api_state()
    here = mallory.post(url(name, closed_market), body, format="json")
    nowhere = mallory.post(url(name, 987_654), body, format="json")
    assert_error(here, 403, "permission_denied")
    assert here.json() == nowhere.json()
    assert api_state() == before
