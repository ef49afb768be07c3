"""Personas with API keys and markets to trade on, for the API suite.

Keys are issued with ``api_token_issue``, exactly as ``/apikey`` issues them, so
every request goes through the real authentication, permission and throttle
classes. Moderators are moderators because Discord says so: the fake Discord
(``tests/fake_discord.py``) gives them the guild's moderator role, and the API
asks it at each moderator action. ``tests/conftest.py`` provides ``guild``, ``member`` (alice),
``other_member`` (bob) and ``outsider`` (mallory, of another guild).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import time_machine
from django.contrib.auth.models import Permission, User
from rest_framework.test import APIClient

from markets.models import Market
from points.models import Guild, Member
from tests.api.helpers import client_with_key, issue_key, make_moderator, open_market
from tests.fake_discord import FakeDiscord


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


@pytest.fixture
def staff(db: None) -> APIClient:
    """A staff user's admin session who may change markets (a moderator in the API)."""
    user = User.objects.create_user("staffer", password="unused-in-tests", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="change_market"))
    api = APIClient()
    api.force_login(user)
    return api


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
