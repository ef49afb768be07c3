"""The moderator role alone never reconfigures the guild in the console.

The bot's ``/config set`` is for server managers (owner, Manage Server,
Administrator); the console holds the same line. Otherwise a role-only
moderator could make @everyone the moderator role, one vote decisive, or
switch the points backend.
"""

from __future__ import annotations

import pytest

from points.models import Guild
from tests.console.conftest import Cast, make_world, sign_in
from tests.drip.test_drip_admin import _form

pytestmark = [pytest.mark.django_db, pytest.mark.tenancy]


def test_a_role_moderator_sees_the_settings_read_only_and_cannot_post_them(cast: Cast) -> None:
    world = make_world(cast)
    guild = world.guild_a
    before = (guild.moderator_role_id, guild.min_resolution_votes, guild.resolvers_binary)
    client = sign_in(cast, cast.mod_a)  # the moderator role in A, no Manage Server
    url = f"/admin/points/guild/{guild.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200  # they may still read them
    assert b'name="min_resolution_votes"' not in page.content  # shown, not editable

    # guild.pk is Discord's @everyone role: every member would become a moderator.
    data = _form(
        guild, moderator_role_id=str(guild.pk), min_resolution_votes=1, resolvers_binary="creator"
    )
    answer = client.post(url, data)

    assert answer.status_code == 403
    guild.refresh_from_db()
    assert (guild.moderator_role_id, guild.min_resolution_votes, guild.resolvers_binary) == before


def test_a_server_manager_changes_their_guilds_settings(cast: Cast) -> None:
    world = make_world(cast)
    guild = world.guild_b
    client = sign_in(cast, cast.mod_b)  # Manage Server in B
    url = f"/admin/points/guild/{guild.pk}/change/"
    answer = client.post(url, _form(guild, min_resolution_votes=3))
    assert answer.status_code == 302, answer.content[:500]
    assert Guild.objects.get(pk=guild.pk).min_resolution_votes == 3
