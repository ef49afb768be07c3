"""The members' pages ask Discord through the console's memberships module, at no more cost.

Before the two were one module, a members' page asked ``GET /users/@me/guilds``
once a minute and nothing else; the console's answer may also ask
``GET /users/@me/guilds/{id}/member`` for each guild with a moderator role.
A member's page must never pay for those.
"""

from __future__ import annotations

import time

import pytest
import time_machine
from allauth.socialaccount.models import SocialAccount
from django.urls import reverse

from points.models import Guild
from predictmarket.discord_login.memberships import memberships_cached, memberships_for
from tests.web.app.conftest import MembersApp
from tests.web.app.helpers import app_url

pytestmark = pytest.mark.web

GUILD_LIST = r"^/users/@me/guilds$"
MEMBER_CALL = r"^/users/@me/guilds/\d+/member$"


def _calls(members_app: MembersApp, since: int) -> tuple[int, int]:
    emulator = members_app.emulator
    return (
        len(emulator.requests_matching("GET", GUILD_LIST, since=since)),
        len(emulator.requests_matching("GET", MEMBER_CALL, since=since)),
    )


def test_page_views_ask_only_for_the_guild_list_once_a_minute(members_app: MembersApp) -> None:
    # Both guilds have a moderator role, so a moderator check would ask per guild.
    for guild, setup in (
        (members_app.harbour, members_app.harbour_setup),
        (members_app.hilltop, members_app.hilltop_setup),
    ):
        Guild.objects.filter(pk=guild.pk).update(moderator_role_id=setup.moderator_role_id)
    ana = members_app.person("ana", members_app.harbour_setup, members_app.hilltop_setup)
    market = members_app.market(members_app.harbour, ana)
    client = members_app.sign_in(ana)
    pages = [
        reverse("webapp:home"),
        reverse("webapp:markets", kwargs={"guild_id": members_app.harbour.pk}),
        app_url("market", market),
        app_url("odds", market),
    ]

    # Signing in asked already (with the moderator checks, for the console): the
    # pages in the next minute ask nothing.
    start = len(members_app.emulator.requests)
    for url in pages:
        assert client.get(url).status_code == 200, url
    assert _calls(members_app, start) == (0, 0)

    # A minute on: one guild list for all the pages, and never a member call.
    with time_machine.travel(time.time() + 61, tick=True):
        start = len(members_app.emulator.requests)
        for url in pages:
            assert client.get(url).status_code == 200, url
        assert _calls(members_app, start) == (1, 0)

        # The sign-in's moderator answers were kept, as old as they are, so the
        # console (fresh within 5 minutes) has no more reason to ask than before.
        user = SocialAccount.objects.get(provider="discord", uid=str(ana.user_id)).user
        answer = memberships_cached(user=user)
        assert answer is not None and answer.member_of == {
            members_app.harbour.pk,
            members_app.hilltop.pk,
        }
        assert answer.moderators_checked_at is not None
        assert answer.checked_at - answer.moderators_checked_at >= 60
        start = len(members_app.emulator.requests)
        assert memberships_for(user=user, max_age=300).moderator_of == frozenset()
        assert _calls(members_app, start) == (0, 0)
