"""``memberships_for``: the served guilds a web user is in and moderates, as Discord says now."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from predictmarket.discord_login.memberships import (
    DiscordSignInNeeded,
    memberships_cached,
    memberships_for,
)
from tests.console.conftest import Cast, World, make_world, sign_in

pytestmark = [pytest.mark.tenancy, pytest.mark.django_db]


@pytest.fixture
def world(cast: Cast) -> World:
    return make_world(cast)


def _user(cast: Cast, persona: object) -> object:
    sign_in(cast, persona)
    return get_user_model().objects.get(discord_link__discord_id=persona.user_id)  # type: ignore[attr-defined]


def test_a_member_of_two_served_guilds_moderates_only_the_one_discord_says(
    cast: Cast, world: World
) -> None:
    user = _user(cast, cast.mod_a)
    answer = memberships_for(user=user, max_age=300)
    assert answer.discord_id == cast.mod_a.user_id
    assert answer.member_of == {world.guild_a.pk, world.guild_b.pk}
    assert answer.moderator_of == {world.guild_a.pk}
    assert {g.name for g in answer.guilds} == {"Alpha guild", "Bravo guild"}


def test_the_answer_is_reused_until_it_is_too_old_and_asked_again_after(
    cast: Cast, world: World
) -> None:
    user = _user(cast, cast.mod_a)  # signing in asked already
    asked = len(cast.emulator.requests_matching("GET", r"^/users/@me/guilds$"))
    first = memberships_for(user=user, max_age=300)
    assert len(cast.emulator.requests_matching("GET", r"^/users/@me/guilds$")) == asked
    again = memberships_for(user=user, max_age=0)
    assert len(cast.emulator.requests_matching("GET", r"^/users/@me/guilds$")) == asked + 1
    assert again.checked_at >= first.checked_at
    assert memberships_cached(user=user) == again


def test_a_guild_the_bot_does_not_serve_is_not_listed(cast: Cast) -> None:
    from points.models import Guild
    from tests.factories import GuildFactory

    GuildFactory(id=cast.a.guild_id, name=cast.a.name)
    Guild.objects.filter(pk=cast.a.guild_id).update(moderator_role_id=cast.a.moderator_role_id)
    user = _user(cast, cast.mod_a)  # Discord lists A and B; only A has a guild row here
    answer = memberships_for(user=user, max_age=0)
    assert (answer.member_of, answer.moderator_of) == ({cast.a.guild_id}, {cast.a.guild_id})


def test_a_web_user_without_a_discord_sign_in_gets_the_reason_not_an_answer(db: None) -> None:
    staff = get_user_model().objects.create_user("plain-staff", is_staff=True)
    with pytest.raises(DiscordSignInNeeded):
        memberships_for(user=staff, max_age=0)
