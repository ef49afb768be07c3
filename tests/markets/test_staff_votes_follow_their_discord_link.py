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
