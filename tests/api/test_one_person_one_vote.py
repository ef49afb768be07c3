"""One person, one vote: a moderator counts once whether they vote in Discord, the API or the admin.

Two votes decide these markets (the guild's default). The bot's ``/resolve`` is
driven through its real handler with an interaction double, the API through its
real views, the admin through its real action; they all meet in
``resolution_vote``. The suite is transactional: the bot's handler runs the
service on a worker thread, which must see the test's data.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.test import APIClient

from botrunner.cogs.moderation import resolve_command
from botrunner.reads import picked_value
from markets.models import Market, MarketStatus, ResolutionVote
from markets.services import market_close
from points.models import Guild, Member
from predictmarket.models import AuditLogEntry
from tests.api.helpers import MODERATOR_ROLE_ID, url
from tests.botrunner.conftest import run
from tests.botrunner.fakes import FakeGuild, FakeInteraction, FakeRole, FakeUser

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def closed_market(market: Market) -> Market:
    market_close(market_id=market.pk, actor="discord:1")
    market.refresh_from_db()
    assert market.guild.min_resolution_votes == 2
    return market


def vote_in_discord(member: Member, market: Market, outcome: str) -> FakeInteraction:
    """``/resolve`` by ``member``, who holds the moderator role in Discord.

    ``outcome`` is the 0-based index, sent the way autocomplete sends a picked answer.
    """
    user = FakeUser(
        id=member.discord_id, display_name=member.display_name, roles=[FakeRole(MODERATOR_ROLE_ID)]
    )
    interaction = FakeInteraction(user=user, guild=FakeGuild(id=member.guild_id))
    run(resolve_command(interaction, market=str(market.pk), outcome=picked_value(int(outcome))))
    return interaction


def vote_in_api(api: APIClient, market: Market, body: dict[str, Any]) -> Any:
    return api.post(url("votes", market), body, format="json")


def staff_client(username: str) -> tuple[Any, Client]:
    user = get_user_model().objects.create_superuser(username, f"{username}@example.com", "pw")
    client = Client()
    client.force_login(user)
    return user, client


def vote_in_admin(client: Client, market: Market, choice: str) -> str:
    response = client.post(
        "/admin/markets/market/",
        {
            "action": "vote_resolution",
            "_selected_action": [market.pk],
            "confirm": "yes",
            "choice": choice,
        },
        follow=True,
    )
    assert response.status_code == 200
    return response.content.decode()


def test_one_moderator_through_the_bot_and_the_api_does_not_decide(
    mod: APIClient, mod_member: Member, closed_market: Market
) -> None:
    first = vote_in_discord(mod_member, closed_market, "0")
    assert "1 of 2 votes" in first.last.text

    response = vote_in_api(mod, closed_market, {"outcome": 0})

    # The same person already voted for that: it is refused, not counted again.
    assert response.status_code == 409, response.content
    assert response.json()["error"]["code"] == "conflict"
    closed_market.refresh_from_db()
    assert closed_market.status == MarketStatus.CLOSED
    assert ResolutionVote.objects.filter(market=closed_market).count() == 1


def test_changing_a_vote_in_the_api_replaces_the_one_cast_in_discord(
    mod: APIClient, mod_member: Member, closed_market: Market
) -> None:
    vote_in_discord(mod_member, closed_market, "0")

    body = vote_in_api(mod, closed_market, {"outcome": 1}).json()

    assert (body["choice"], body["votes_for_choice"], body["decided"]) == ("No", 1, False)
    vote = ResolutionVote.objects.get(market=closed_market)
    assert vote.voter == f"discord:{mod_member.discord_id}" and vote.outcome.index == 1
    # The audit log still says which way each vote came.
    actors = list(
        AuditLogEntry.objects.filter(action="market.vote")
        .order_by("id")
        .values_list("actor", "data__via")
    )
    assert actors == [
        (f"discord:{mod_member.discord_id}", "bot"),
        (f"api:discord:{mod_member.discord_id}", "api"),
    ]


def test_two_moderators_through_the_bot_and_the_api_decide(
    second_mod: APIClient, mod_member: Member, closed_market: Market
) -> None:
    vote_in_discord(mod_member, closed_market, "1")

    body = vote_in_api(second_mod, closed_market, {"outcome": 1}).json()

    assert (body["votes_for_choice"], body["decided"]) == (2, True)
    closed_market.refresh_from_db()
    assert closed_market.status == MarketStatus.RESOLVED
    assert closed_market.winning_outcome.index == 1


def test_a_linked_staff_user_in_the_admin_is_the_same_person_as_in_the_api(
    mod: APIClient, mod_member: Member, closed_market: Market
) -> None:
    from predictmarket.models import StaffDiscordLink

    user, admin = staff_client("modone")
    StaffDiscordLink.objects.create(user=user, discord_id=mod_member.discord_id)

    page = vote_in_admin(admin, closed_market, "0")
    assert "1 of 2 needed" in page
    assert f"as Discord user {mod_member.discord_id}" in page

    response = vote_in_api(mod, closed_market, {"outcome": 0})

    assert response.status_code == 409, response.content
    closed_market.refresh_from_db()
    assert closed_market.status == MarketStatus.CLOSED
    assert list(ResolutionVote.objects.values_list("voter", flat=True)) == [
        f"discord:{mod_member.discord_id}"
    ]
    entry = AuditLogEntry.objects.get(action="market.vote")
    assert (entry.actor, entry.data["via"]) == ("admin:modone", "admin")


def test_an_unlinked_staff_user_votes_as_themself_and_the_admin_says_so(
    guild: Guild, mod_member: Member, closed_market: Market
) -> None:
    user, admin = staff_client("stafftwo")

    form = admin.post(
        "/admin/markets/market/",
        {"action": "vote_resolution", "_selected_action": [closed_market.pk]},
    ).content.decode()
    assert "staff user stafftwo, not linked to a Discord account" in form

    page = vote_in_admin(admin, closed_market, "0")
    assert "1 of 2 needed" in page
    # A Discord moderator agrees, but the staff user may be that same person:
    # an unlinked staff vote never adds up with Discord users' votes.
    vote_in_discord(mod_member, closed_market, "0")

    closed_market.refresh_from_db()
    assert closed_market.status == MarketStatus.CLOSED
    assert sorted(ResolutionVote.objects.values_list("voter", flat=True)) == sorted(
        [f"user:{user.pk}", f"discord:{mod_member.discord_id}"]
    )
    listing = admin.get(f"/admin/markets/market/{closed_market.pk}/change/").content.decode()
    assert "staff user stafftwo (not linked to Discord)" in listing
    assert f"Discord user {mod_member.discord_id} (mod one)" in listing
