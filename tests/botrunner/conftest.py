"""Personas for the bot's suite, as Discord shows them and as the database knows them.

Handlers call the services on worker threads, which must see the test's data:
the suite's tests are ``django_db(transaction=True)`` (committed data, flushed
after each test). Coroutines run with ``asyncio.run`` inside plain tests.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Coroutine
from datetime import timedelta
from typing import Any, TypeVar

import pytest

from markets.models import Market
from markets.services import market_create
from points.models import Guild, Member
from points.services import guild_ensure, member_ensure
from tests.botrunner.fakes import (
    FakeGuild,
    FakeInteraction,
    FakePermissions,
    FakeRole,
    FakeUser,
    next_id,
)

T = TypeVar("T")
GUILD_ID = 760_000_000_000_000_001
MODERATOR_ROLE_ID = 765_000_000_000_000_001
_users = itertools.count(770_000_000_000_000_001)


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def persona(name: str, **kwargs: Any) -> FakeUser:
    return FakeUser(id=next(_users), display_name=name, **kwargs)


def member_for(user: FakeUser, guild: Guild) -> Member:
    return member_ensure(guild_id=guild.pk, discord_id=user.id, display_name=user.display_name)


@pytest.fixture
def guild(transactional_db: None) -> Guild:
    """A guild with a moderator role and the default settings (two votes decide)."""
    guild = guild_ensure(guild_id=GUILD_ID, name="Bot testers")
    Guild.objects.filter(pk=guild.pk).update(
        moderator_role_id=MODERATOR_ROLE_ID, min_resolution_votes=2
    )
    guild.refresh_from_db()
    return guild


@pytest.fixture
def discord_guild(guild: Guild) -> FakeGuild:
    return FakeGuild(
        id=guild.pk,
        name=guild.name,
        roles=[FakeRole(MODERATOR_ROLE_ID, mentionable=True)],
        me=FakeUser(next_id(), "PredictBot", bot=True),
    )


@pytest.fixture
def alice() -> FakeUser:
    return persona("alice")


@pytest.fixture
def bob() -> FakeUser:
    return persona("bob")


@pytest.fixture
def moderator() -> FakeUser:
    """A member with the guild's moderator role (no Discord permission)."""
    return persona("mod", roles=[FakeRole(MODERATOR_ROLE_ID)])


@pytest.fixture
def second_moderator() -> FakeUser:
    return persona("mod2", roles=[FakeRole(MODERATOR_ROLE_ID)])


@pytest.fixture
def admin() -> FakeUser:
    """A server manager: Discord's Manage Server permission."""
    return persona("owner", guild_permissions=FakePermissions(manage_guild=True))


@pytest.fixture
def slash(discord_guild: FakeGuild) -> Any:
    """``slash(user)``: a slash-command interaction by ``user`` in the guild."""

    def make(user: FakeUser, **kwargs: Any) -> FakeInteraction:
        return FakeInteraction(user=user, guild=discord_guild, **kwargs)

    return make


@pytest.fixture
def market(guild: Guild, alice: FakeUser) -> Market:
    """An open Yes/No market created by alice, closing in a day."""
    creator = member_for(alice, guild)
    return market_create(
        creator=creator,
        question="Will the server reach 1,000 members this month?",
        options=["Yes", "No"],
        duration=timedelta(days=1),
        category="server",
        actor=f"discord:{alice.id}",
        bypass_rate_limit=True,
    )
