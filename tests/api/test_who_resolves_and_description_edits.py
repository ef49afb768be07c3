"""The API names an arbitrator at creation, lets the creator or arbitrator vote, and edits
descriptions; markets show their resolver rule and description history."""

from __future__ import annotations

from rest_framework.test import APIClient

from betting.services import bet_place
from betting.settlement import settle_resolved_market
from markets.models import Market, MarketStatus
from markets.services import market_close
from points.models import Guild, Member, ResolverRule
from predictmarket.models import AuditLogEntry
from tests.api.helpers import assert_error, client_with_key, issue_key, open_market, url
from tests.factories import snapshot
from tests.fake_discord import FakeDiscord

CREATE = {"question": "Will the pier reopen?", "options": ["Yes", "No"], "duration_minutes": 60}


def _arbitrated(guild: Guild) -> None:
    Guild.objects.filter(pk=guild.pk).update(
        resolvers_binary=ResolverRule.ARBITRATOR, min_resolution_votes=1
    )


def test_creating_with_an_arbitrator_discord_knows(
    alice: APIClient, guild: Guild, fake_discord: FakeDiscord
) -> None:
    _arbitrated(guild)
    fake_discord.add_member(guild.pk, 777_000_000_000_000_001)

    created = alice.post(
        url("markets"), {**CREATE, "arbitrator": "777000000000000001"}, format="json"
    )

    assert created.status_code == 201, created.content
    resolver = created.json()["resolver"]
    assert resolver["rule"] == "arbitrator"
    assert resolver["discord_id"] == "777000000000000001"
    assert resolver["member"] == "user777000000000000001"  # Discord's username
    market = Market.objects.get(pk=created.json()["id"])
    assert market.arbitrator.discord_id == 777_000_000_000_000_001


def test_an_arbitrator_outside_the_server_is_refused_and_nothing_is_made(
    alice: APIClient, guild: Guild, fake_discord: FakeDiscord
) -> None:
    _arbitrated(guild)
    before = snapshot()

    refused = alice.post(
        url("markets"), {**CREATE, "arbitrator": "777000000000000002"}, format="json"
    )

    assert_error(refused, 400, "validation_failed", field="arbitrator")
    assert snapshot() == before
    assert not Member.objects.filter(discord_id=777_000_000_000_000_002).exists()


def test_a_missing_arbitrator_is_refused(alice: APIClient, guild: Guild) -> None:
    _arbitrated(guild)
    assert_error(
        alice.post(url("markets"), CREATE, format="json"),
        400,
        "validation_failed",
        field="arbitrator",
    )


def _arbitrated_market(guild: Guild, creator: Member, arbitrator: Member) -> Market:
    _arbitrated(guild)
    # Read again: the fixture's member holds the guild as it was before the change.
    return open_market(Member.objects.get(pk=creator.pk), arbitrator=arbitrator)


def test_the_arbitrator_votes_through_the_api_without_moderator_rights(
    guild: Guild, member: Member, other_member: Member, fake_discord: FakeDiscord
) -> None:
    market = _arbitrated_market(guild, other_member, member)  # alice arbitrates bob's market
    market_close(market_id=market.pk, actor="system:test")
    bob = client_with_key(issue_key(other_member))
    before = snapshot()

    assert_error(
        bob.post(url("votes", market), {"outcome": 0}, format="json"), 403, "permission_denied"
    )
    assert snapshot() == before

    voted = client_with_key(issue_key(member)).post(
        url("votes", market), {"outcome": 1}, format="json"
    )

    assert voted.status_code == 200, voted.content
    assert voted.json()["decided"] is True
    assert voted.json()["market"]["status"] == MarketStatus.RESOLVED


def test_a_holding_arbitrators_sole_vote_waits_for_a_moderator(
    guild: Guild, member: Member, other_member: Member, mod: APIClient
) -> None:
    market = _arbitrated_market(guild, other_member, member)
    bet_place(
        member=member,
        market_id=market.pk,
        outcome_index=0,
        amount=30,
        idempotency_key="api-test-arbitrator-bet",
        bypass_rate_limit=True,
    )
    market_close(market_id=market.pk, actor="system:test")

    voted = client_with_key(issue_key(member)).post(
        url("votes", market), {"outcome": 0}, format="json"
    )

    assert voted.status_code == 200, voted.content
    body = voted.json()
    assert (body["decided"], body["waiting_for_moderator"]) == (False, True)
    assert body["market"]["status"] == MarketStatus.CLOSED
    agreed = mod.post(url("votes", market), {"outcome": 0}, format="json")
    assert agreed.json()["decided"] is True


def test_a_holding_arbitrators_correction_through_the_api_waits_for_a_moderator(
    guild: Guild, member: Member, other_member: Member, mod: APIClient
) -> None:
    """A correction is a decision: the arbitrator may vote one, holding shares not alone."""
    market = _arbitrated_market(guild, other_member, member)
    bet_place(
        member=member,
        market_id=market.pk,
        outcome_index=0,
        amount=30,
        idempotency_key="api-test-arbitrator-correction-bet",
        bypass_rate_limit=True,
    )
    market_close(market_id=market.pk, actor="system:test")
    assert mod.post(url("votes", market), {"outcome": 1}, format="json").json()["decided"]
    assert settle_resolved_market(market_id=market.pk).performed
    bob = client_with_key(issue_key(other_member))
    before = snapshot()

    assert_error(
        bob.post(url("corrections", market), {"outcome": 0}, format="json"),
        403,
        "permission_denied",
    )
    assert snapshot() == before
    voted = client_with_key(issue_key(member)).post(
        url("corrections", market), {"outcome": 0}, format="json"
    )

    assert voted.status_code == 200, voted.content
    body = voted.json()
    assert (body["decided"], body["waiting_for_moderator"]) == (False, True)
    assert body["market"]["history_text"] == "resolved No"


def test_the_creator_edits_the_description_and_the_history_shows(
    alice: APIClient, bob: APIClient, member: Member
) -> None:
    market = open_market(member, description="Noon.")

    assert_error(
        bob.post(url("description", market), {"description": "Hijack"}, format="json"),
        403,
        "permission_denied",
    )
    edited = alice.post(url("description", market), {"description": "Noon UTC."}, format="json")

    assert edited.status_code == 200, edited.content
    body = edited.json()
    assert body["description"] == "Noon UTC."
    assert body["description_edited"] is True
    assert [(v["version"], v["text"]) for v in body["description_history"]] == [
        (1, "Noon."),
        (2, "Noon UTC."),
    ]
    assert AuditLogEntry.objects.filter(action="market.description.edit").count() == 1
    shown = alice.get(url("", market)).json()
    assert shown["description_history"] == body["description_history"]


def test_after_a_trade_only_a_moderator_edits(
    alice: APIClient, mod: APIClient, member: Member, other_member: Member
) -> None:
    market = open_market(member, description="Noon.")
    bet_place(
        member=other_member,
        market_id=market.pk,
        outcome_index=1,
        amount=20,
        idempotency_key="api-test-other-trade",
        bypass_rate_limit=True,
    )
    before = snapshot()

    refused = alice.post(url("description", market), {"description": "Later"}, format="json")
    assert_error(refused, 403, "permission_denied")
    assert snapshot() == before

    edited = mod.post(url("description", market), {"description": "Noon, local."}, format="json")
    assert edited.status_code == 200, edited.content
    assert edited.json()["question"] == market.question


def test_a_member_of_another_guild_cannot_tell_the_market_exists(
    mallory: APIClient, member: Member
) -> None:
    market = open_market(member)
    for name in ("description", "votes"):
        assert_error(
            mallory.post(url(name, market), {"description": "x", "outcome": 0}, format="json"),
            403,
            "permission_denied",
        )
