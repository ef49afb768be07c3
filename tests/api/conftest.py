"""Personas with API keys and markets to trade on, for the API suite.

Keys are issued with ``api_token_issue``, exactly as ``/apikey`` issues them, so
every request goes through the real authentication, permission and throttle
classes. Moderators are moderators because Discord says so: the fake Discord
(``tests/fake_discord.py``) gives them the guild's moderator role, and the API
asks it at each moderator action. ``tests/conftest.py`` provides ``guild``, ``member`` (alice),
``other_member`` (bob) and ``outsider`` (mallory, of another guild).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator

import pytest
import time_machine
from allauth.socialaccount.models import SocialAccount, SocialToken
from django.contrib.auth.models import Permission, User
from rest_framework.test import APIClient

from markets.models import Market
from points.models import Guild, Member
from tests.api.helpers import (
    MODERATOR_ROLE_ID,
    client_with_key,
    issue_key,
    make_moderator,
    open_market,
)
from tests.fake_discord import FakeDiscord

STAFF_DISCORD_IDS = itertools.count(777_000_000_000_000_001)


@pytest.fixture(autouse=True)
def _discord(fake_discord: FakeDiscord) -> FakeDiscord:
    """Every API test has a Discord to ask about moderators (members are not, unless added)."""
    return fake_discord


@pytest.fixture
def anonymous() -> APIClient:
    return APIClient()


@pytest.fixture
def alice_key(member: Member) -> str:
    return issue_key(member)


@pytest.fixture
def alice(alice_key: str) -> APIClient:
    """The ``member`` persona, with her own key."""
    return client_with_key(alice_key)


@pytest.fixture
def bob(other_member: Member) -> APIClient:
    return client_with_key(issue_key(other_member))


@pytest.fixture
def mallory(outsider: Member) -> APIClient:
    """A member of another guild, with a valid key of that guild."""
    return client_with_key(issue_key(outsider))


@pytest.fixture
def mod_member(guild: Guild, fake_discord: FakeDiscord) -> Member:
    """A member Discord shows with the guild's moderator role."""
    return make_moderator(guild, "mod one", fake_discord)


@pytest.fixture
def mod(mod_member: Member) -> APIClient:
    """A moderator of the guild: a key issued to a moderator."""
    return client_with_key(issue_key(mod_member, moderator=True))


@pytest.fixture
def second_mod_member(guild: Guild, fake_discord: FakeDiscord) -> Member:
    return make_moderator(guild, "mod two", fake_discord)


@pytest.fixture
def second_mod(second_mod_member: Member) -> APIClient:
    return client_with_key(issue_key(second_mod_member, moderator=True))


@pytest.fixture
def foreign_mod(outsider: Member, fake_discord: FakeDiscord) -> APIClient:
    """A moderator of the *other* guild."""
    return client_with_key(
        issue_key(make_moderator(outsider.guild, "mod elsewhere", fake_discord), moderator=True)
    )


def staff_session(
    username: str, discord: FakeDiscord, *, moderates: list[Guild], member_of: list[Guild] = ()
) -> tuple[APIClient, User]:
    """A staff user (not a superuser) who may change markets, signed in with Discord.

    Discord (the fake, asked with the person's own token as the console asks)
    shows them with the moderator role of each guild in ``moderates`` and as a
    plain member of each in ``member_of``.
    """
    user = User.objects.create_user(username, password="unused-in-tests", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="change_market"))
    discord_id = next(STAFF_DISCORD_IDS)
    account = SocialAccount.objects.create(user=user, provider="discord", uid=str(discord_id))
    SocialToken.objects.create(account=account, token=discord.user_token(discord_id))
    for guild in moderates:
        Guild.objects.filter(pk=guild.pk).update(moderator_role_id=MODERATOR_ROLE_ID)
        discord.add_member(guild.pk, discord_id, roles=[MODERATOR_ROLE_ID])
    for guild in member_of:
        discord.add_member(guild.pk, discord_id)
    api = APIClient()
    api.force_login(user)
    return api, user


@pytest.fixture
def staff(guild: Guild, fake_discord: FakeDiscord) -> APIClient:
    """A staff user's admin session who may change markets and moderates ``guild`` on Discord."""
    return staff_session("staffer", fake_discord, moderates=[guild])[0]


@pytest.fixture
def market(other_member: Member) -> Market:
    """An open Yes/No market of the guild, created by bob, closing in a day."""
    return open_market(other_member)


@pytest.fixture
def foreign_market(outsider: Member) -> Market:
    """An open market of the other guild."""
    return open_market(outsider, question="A question in another server?")


@pytest.fixture
def one_rate_window() -> Iterator[None]:
    """Run from just after the top of the next hour, with the clock ticking.

    The limiter counts in fixed minute (and hour) windows: a test that straddled
    a window's end would see its count start again and miss its 429.
    """
    with time_machine.travel((time.time() // 3600 + 1) * 3600 + 0.1, tick=True):
        yield
