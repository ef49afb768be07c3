"""A staff user's Discord link: set by superusers only, and it makes their votes that person's."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client

from markets.models import MarketStatus, ResolutionVote
from markets.services import market_close, resolution_vote
from markets.voters import staff_voter
from points.models import Member
from predictmarket.models import StaffDiscordLink
from tests.markets.helpers import make_market

pytestmark = pytest.mark.django_db


def test_only_a_superuser_sees_and_sets_the_discord_account() -> None:
    users = get_user_model()
    staffer = users.objects.create_user("staffer", password="pw", is_staff=True)
    staffer.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_user", "change_user"])
    )
    root = users.objects.create_superuser("root", "root@example.com", "pw")
    page = f"/admin/auth/user/{staffer.pk}/change/"

    as_root, as_staff = Client(), Client()
    as_root.force_login(root)
    as_staff.force_login(staffer)

    assert 'name="discord_link-0-discord_id"' in as_root.get(page).content.decode()
    assert 'name="discord_link-0-discord_id"' not in as_staff.get(page).content.decode()


def test_votes_cast_before_the_link_count_once_with_the_linked_discord_user(
    member: Member,
) -> None:
    """Voted unlinked (user:<pk>), then linked and voted again via Discord: one person, one vote."""
    market = make_market(member)
    market_close(market_id=market.pk, actor="discord:1")
    staffer = get_user_model().objects.create_user("staffer", password="pw", is_staff=True)
    resolution_vote(market_id=market.pk, voter=staff_voter(staffer), outcome_index=0)
    StaffDiscordLink.objects.create(user=staffer, discord_id=731_000_000_000_000_001)

    result = resolution_vote(
        market_id=market.pk, voter="discord:731000000000000001", outcome_index=1
    )

    assert (result.votes_for_choice, result.decided) == (1, False)
    assert list(ResolutionVote.objects.values_list("voter", "outcome__index")) == [
        ("discord:731000000000000001", 1)
    ]
    market.refresh_from_db()
    assert market.status == MarketStatus.CLOSED


def test_a_channel_string_is_not_a_voter(member: Member) -> None:
    market = make_market(member)
    market_close(market_id=market.pk, actor="discord:1")
    from predictmarket.errors import ValidationFailed

    for channel in ("api:discord:731000000000000001", "admin:staffer", "mod1"):
        with pytest.raises(ValidationFailed):
            resolution_vote(market_id=market.pk, voter=channel, outcome_index=0)
    assert not ResolutionVote.objects.exists()


def _staff_votes(market_id: int, staffer: object, outcome_index: int) -> object:
    """A staff user's vote as the admin casts it: as whoever they are linked to now."""
    return resolution_vote(
        market_id=market_id,
        voter=staff_voter(staffer),
        actor=f"admin:{staffer.username}",  # type: ignore[attr-defined]
        outcome_index=outcome_index,
        cast_by_user_id=staffer.pk,  # type: ignore[attr-defined]
    )


@pytest.mark.parametrize("relink", ["to another discord user", "removed"])
def test_a_changed_link_replaces_the_staff_users_earlier_vote(member: Member, relink: str) -> None:
    market = make_market(member)
    market_close(market_id=market.pk, actor="discord:1")
    staffer = get_user_model().objects.create_user("staffer", password="pw", is_staff=True)
    link = StaffDiscordLink.objects.create(user=staffer, discord_id=731_000_000_000_000_001)
    _staff_votes(market.pk, staffer, 0)
    if relink == "removed":
        link.delete()
    else:
        StaffDiscordLink.objects.filter(pk=link.pk).update(discord_id=731_000_000_000_000_002)

    result = _staff_votes(market.pk, staffer, 0)

    # Still one person with one vote: the market (two votes needed) stays undecided.
    assert (result.votes_for_choice, result.decided) == (1, False)
    assert ResolutionVote.objects.filter(market=market).count() == 1


def test_an_unlinked_staff_user_never_adds_up_with_discord_moderators(member: Member) -> None:
    """They may be one of those Discord users: their votes count only among their kind."""
    market = make_market(member)
    market_close(market_id=market.pk, actor="discord:1")
    staffer = get_user_model().objects.create_user("staffer", password="pw", is_staff=True)
    resolution_vote(market_id=market.pk, voter="discord:731000000000000001", outcome_index=0)

    alone = _staff_votes(market.pk, staffer, 0)

    assert (alone.votes_for_choice, alone.decided) == (1, False)
    decided = resolution_vote(
        market_id=market.pk, voter="discord:731000000000000002", outcome_index=0
    )
    assert (decided.votes_for_choice, decided.decided) == (2, True)


def test_a_relinked_staff_user_voting_through_discord_still_has_one_vote(member: Member) -> None:
    """Voted in the admin as D1; relinked to D2 (their own account); votes again via the bot."""
    market = make_market(member)
    market_close(market_id=market.pk, actor="discord:1")
    staffer = get_user_model().objects.create_user("staffer", password="pw", is_staff=True)
    link = StaffDiscordLink.objects.create(user=staffer, discord_id=731_000_000_000_000_001)
    _staff_votes(market.pk, staffer, 0)
    StaffDiscordLink.objects.filter(pk=link.pk).update(discord_id=731_000_000_000_000_002)

    result = resolution_vote(
        market_id=market.pk, voter="discord:731000000000000002", outcome_index=0
    )

    assert (result.votes_for_choice, result.decided) == (1, False)
    assert list(ResolutionVote.objects.values_list("voter", flat=True)) == [
        "discord:731000000000000002"
    ]


def test_a_discord_users_own_vote_is_not_taken_away_by_a_staff_user_relinked_elsewhere(
    member: Member,
) -> None:
    market = make_market(member)
    market_close(market_id=market.pk, actor="discord:1")
    staffer = get_user_model().objects.create_user("staffer", password="pw", is_staff=True)
    link = StaffDiscordLink.objects.create(user=staffer, discord_id=731_000_000_000_000_001)
    _staff_votes(market.pk, staffer, 0)
    StaffDiscordLink.objects.filter(pk=link.pk).update(discord_id=731_000_000_000_000_002)
    # D1 is someone else after all, and changes their own vote in Discord.
    resolution_vote(market_id=market.pk, voter="discord:731000000000000001", outcome_index=1)

    _staff_votes(market.pk, staffer, 1)

    assert sorted(ResolutionVote.objects.values_list("voter", "outcome__index")) == [
        ("discord:731000000000000001", 1),
        ("discord:731000000000000002", 1),
    ]
    market.refresh_from_db()
    assert market.status == MarketStatus.RESOLVED
