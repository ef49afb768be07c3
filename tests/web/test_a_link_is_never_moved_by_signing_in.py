"""Signing in never moves a web user's Discord link to another Discord account.

A staff user linked (by an operator) to Discord user A who could attach and sign
in with an alt B would have their admin and API votes count as B while A still
votes in Discord: two votes for one person. Only an operator changes a link.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from predictmarket.discord_login.services import DiscordAlreadyLinked, discord_link_ensure
from predictmarket.models import StaffDiscordLink

pytestmark = pytest.mark.django_db

ALICE_MAIN, ALICE_ALT = 900_000_000_000_000_001, 900_000_000_000_000_002


def test_a_user_linked_to_one_discord_account_cannot_be_relinked_to_another() -> None:
    staff = get_user_model().objects.create_user("staff", is_staff=True)
    StaffDiscordLink.objects.create(user=staff, discord_id=ALICE_MAIN)
    with pytest.raises(DiscordAlreadyLinked):
        discord_link_ensure(user=staff, discord_id=ALICE_ALT)
    assert StaffDiscordLink.objects.get(user=staff).discord_id == ALICE_MAIN


def test_the_same_account_signing_in_again_keeps_its_link() -> None:
    staff = get_user_model().objects.create_user("staff2", is_staff=True)
    StaffDiscordLink.objects.create(user=staff, discord_id=ALICE_MAIN)
    assert discord_link_ensure(user=staff, discord_id=ALICE_MAIN).discord_id == ALICE_MAIN
