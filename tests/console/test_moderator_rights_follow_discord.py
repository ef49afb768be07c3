"""The console asks Discord who moderates: at sign-in, every 5 minutes, before every POST.

Time is moved with time_machine, never slept; Discord's answers change in the
emulator (``set_roles``, ``fail_next``).
"""

from __future__ import annotations

import time

import pytest
import time_machine
from django.test import Client

from markets.models import Market, MarketStatus
from points.models import Account, Member
from predictmarket.models import AuditLogEntry, StaffDiscordLink
from tests.console.conftest import Cast, World, make_world, sign_in

pytestmark = [pytest.mark.tenancy, pytest.mark.django_db]

CHANGELIST = "/admin/markets/market/"


@pytest.fixture
def world(cast: Cast) -> World:
    return make_world(cast)


def _close(client: Client, market: Market) -> object:
    return client.post(
        CHANGELIST,
        {"action": "close_now", "_selected_action": [market.pk], "confirm": "yes"},
        follow=True,
    )


def test_an_action_on_another_guilds_object_is_refused(cast: Cast, world: World) -> None:
    moderator = sign_in(cast, cast.mod_a)
    response = _close(moderator, world.market_b)
    assert b"Nothing was done: none of the selected items is one you may change" in response.content
    world.market_b.refresh_from_db()
    assert world.market_b.status == MarketStatus.OPEN

    balance = Account.objects.get(member=world.member_b).balance
    granted = moderator.post(
        "/admin/points/member/",
        {
            "action": "grant_points",
            "_selected_action": [world.member_b.pk],
            "confirm": "yes",
            "amount": "1000",
            "reason": "from the other server",
        },
        follow=True,
    )
    assert b"Nothing was done" in granted.content
    assert Account.objects.get(member=world.member_b).balance == balance


def test_a_moderators_action_goes_through_the_services_as_their_discord_identity(
    cast: Cast, world: World
) -> None:
    moderator = sign_in(cast, cast.mod_a)
    assert StaffDiscordLink.objects.get(discord_id=cast.mod_a.user_id)
    _close(moderator, world.market_a)
    world.market_a.refresh_from_db()
    assert world.market_a.status == MarketStatus.CLOSED

    response = moderator.post(
        CHANGELIST,
        {
            "action": "vote_resolution",
            "_selected_action": [world.market_a.pk],
            "confirm": "yes",
            "choice": "0",
        },
        follow=True,
    )
    assert f"recorded as Discord user {cast.mod_a.user_id}".encode() in response.content
    vote = world.market_a.votes.get()
    assert vote.voter == f"discord:{cast.mod_a.user_id}"  # one person, one vote
    assert AuditLogEntry.objects.filter(action="market.close", guild_id=world.guild_a.pk).exists()


def test_the_manage_server_permission_makes_a_moderator_and_a_plain_member_gets_nothing(
    cast: Cast, world: World
) -> None:
    by_permission = sign_in(cast, cast.mod_b)
    page = by_permission.get(CHANGELIST)
    assert page.status_code == 200
    assert {m.guild_id for m in page.context["cl"].queryset} == {world.guild_b.pk}

    plain = sign_in(cast, cast.member_a)
    refused = plain.get(CHANGELIST)
    assert refused.status_code == 302 and "/admin/login/" in refused["Location"]


def test_a_lost_moderator_role_loses_the_console_within_the_refresh_window(
    cast: Cast, world: World, settings: object
) -> None:
    moderator = sign_in(cast, cast.mod_a)
    assert moderator.get(CHANGELIST).status_code == 200
    start = time.time()
    try:
        with time_machine.travel(start, tick=True) as traveller:
            cast.emulator.set_roles(cast.mod_a, [], guild=cast.a)
            # Any change (a POST) asks Discord at once: refused now, nothing done.
            refused = _close(moderator, world.market_a)
            assert refused.redirect_chain[-1][0].startswith("/admin/login/")
            world.market_a.refresh_from_db()
            assert world.market_a.status == MarketStatus.OPEN

            # Reading within the window shows the last answer, which the POST renewed.
            assert moderator.get(CHANGELIST).status_code == 302

            cast.emulator.set_roles(cast.mod_a, [cast.a.moderator_role_id], guild=cast.a)
            traveller.shift(301)  # the next read asks again: a moderator once more
            assert moderator.get(CHANGELIST).status_code == 200

            cast.emulator.set_roles(cast.mod_a, [], guild=cast.a)
            traveller.shift(299)
            assert moderator.get(CHANGELIST).status_code == 200  # still within 5 minutes
            traveller.shift(2)
            lost = moderator.get(CHANGELIST)
            assert lost.status_code == 302 and "/admin/login/" in lost["Location"]
    finally:
        cast.emulator.set_roles(cast.mod_a, [cast.a.moderator_role_id], guild=cast.a)


@pytest.mark.parametrize("status", [503, 429])
def test_discord_unreachable_before_an_action_refuses_it_with_a_clear_page(
    cast: Cast, world: World, status: int
) -> None:
    moderator = sign_in(cast, cast.mod_a)
    cast.emulator.fail_next("GET", r"^/users/@me/guilds$", status)
    response = moderator.post(
        CHANGELIST,
        {"action": "close_now", "_selected_action": [world.market_a.pk], "confirm": "yes"},
    )
    assert response.status_code == 503
    assert b"Discord could not be asked whether you are a moderator" in response.content
    world.market_a.refresh_from_db()
    assert world.market_a.status == MarketStatus.OPEN


def test_discord_unreachable_when_the_answer_is_stale_closes_the_console_for_reading_too(
    cast: Cast, world: World
) -> None:
    moderator = sign_in(cast, cast.mod_a)
    assert moderator.get(CHANGELIST).status_code == 200
    with time_machine.travel(time.time() + 301, tick=True):
        cast.emulator.fail_next("GET", r"^/users/@me/guilds$", 502)
        response = moderator.get(CHANGELIST)
        assert response.status_code == 503
        assert b"Discord could not be asked" in response.content
        assert b"alpha bridge" not in response.content
        assert moderator.get(CHANGELIST).status_code == 200  # Discord answers again


def test_a_token_discord_rejects_asks_the_person_to_sign_in_again(cast: Cast, world: World) -> None:
    from allauth.socialaccount.models import SocialToken

    moderator = sign_in(cast, cast.mod_a)
    SocialToken.objects.filter(account__uid=str(cast.mod_a.user_id)).update(token="revoked")
    response = moderator.post(CHANGELIST, {"action": "close_now", "_selected_action": [1]})
    assert response.status_code == 403
    assert b"Sign in with Discord again" in response.content


def test_operators_keep_their_password_login_and_see_every_guild(world: World) -> None:
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_superuser("ops", "ops@example.com", "a-long-password")
    client = Client()
    login = client.post(
        "/admin/login/?next=/admin/", {"username": "ops", "password": "a-long-password"}
    )
    assert login.status_code == 302
    page = client.get("/admin/points/member/")
    guilds = {m.guild_id for m in page.context["cl"].queryset}
    assert guilds >= {world.guild_a.pk, world.guild_b.pk}
    assert Member.objects.filter(guild=world.guild_b).exists()


def test_the_admin_login_page_offers_sign_in_with_discord(db: None) -> None:
    page = Client().get("/admin/login/").content.decode()
    assert 'id="console-sign-in"' in page and 'name="password"' in page
    assert 'action="/accounts/discord/login/?next=/admin/"' in page
