"""A staff session (not an operator's) reaches only the guilds its person moderates on Discord.

The answer is the one the moderators' console reads (``memberships_for`` with
the person's own Discord token), fresh within
``MODERATOR_CONSOLE_REFRESH_SECONDS`` for reading and asked again before
every write. Operators (superusers) still name any guild; API keys are
unchanged (their own guild only).
"""

from __future__ import annotations

import time

import pytest
import time_machine
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from markets.models import Market, MarketStatus, ResolutionVote
from markets.services import market_close
from points.models import Guild, Member
from tests.api.conftest import staff_session
from tests.api.helpers import MODERATOR_ROLE_ID, api_state, assert_error, url
from tests.fake_discord import FakeDiscord

pytestmark = pytest.mark.tenancy

MY_GUILDS = "/api/v10/users/@me/guilds"


@pytest.fixture
def foreign_guild(outsider: Member) -> Guild:
    return outsider.guild


@pytest.fixture
def closed_foreign_market(foreign_market: Market) -> Market:
    market_close(market_id=foreign_market.pk, actor="discord:1")
    foreign_market.refresh_from_db()
    return foreign_market


def test_a_staff_session_cannot_read_another_guilds_market(
    guild: Guild, foreign_guild: Guild, foreign_market: Market, fake_discord: FakeDiscord
) -> None:
    # A moderator of `guild` who is a plain member of the other guild on Discord.
    api, _ = staff_session("mod-a", fake_discord, moderates=[guild], member_of=[foreign_guild])

    listing = api.get(url("markets"), {"guild": foreign_guild.pk})
    detail = api.get(url("", foreign_market), {"guild": foreign_guild.pk})

    assert_error(listing, 404, "not_found")
    assert_error(detail, 404, "not_found")
    assert b"another server" not in listing.content + detail.content
    assert api.get(url("markets"), {"guild": guild.pk}).status_code == 200


def test_a_staff_session_cannot_vote_on_another_guilds_market(
    guild: Guild, foreign_guild: Guild, closed_foreign_market: Market, fake_discord: FakeDiscord
) -> None:
    api, _ = staff_session("mod-a", fake_discord, moderates=[guild])
    before = api_state()

    for action, body in (("votes", {"outcome": 0}), ("close", {}), ("cancel", {})):
        response = api.post(
            f"{url(action, closed_foreign_market)}?guild={foreign_guild.pk}", body, format="json"
        )
        assert_error(response, 404, "not_found")

    assert not ResolutionVote.objects.filter(market=closed_foreign_market).exists()
    closed_foreign_market.refresh_from_db()
    assert closed_foreign_market.status == MarketStatus.CLOSED
    assert api_state() == before


def test_an_operator_still_names_any_guild(
    guild: Guild, foreign_guild: Guild, foreign_market: Market, fake_discord: FakeDiscord
) -> None:
    operator = User.objects.create_superuser("ops", "ops@example.com", "pw")
    api = APIClient()
    api.force_login(operator)

    assert api.get(url("", foreign_market), {"guild": foreign_guild.pk}).status_code == 200
    assert fake_discord.requests_to(MY_GUILDS) == 0  # operators are not asked about


def test_reading_reuses_the_answer_and_a_write_asks_again(
    guild: Guild, market: Market, fake_discord: FakeDiscord, settings: object
) -> None:
    api, user = staff_session("mod-a", fake_discord, moderates=[guild])
    asked = fake_discord.requests_to(MY_GUILDS)  # signing in asked already, as for the console
    assert api.get(url("", market), {"guild": guild.pk}).status_code == 200
    assert fake_discord.requests_to(MY_GUILDS) == asked  # within the refresh window

    # The moderator role is taken away on Discord: reading goes on within the
    # window, the next write asks and is refused, and so is reading after it.
    discord_id = int(user.socialaccount_set.get().uid)
    fake_discord.set_roles(guild.pk, discord_id, [])
    assert api.get(url("", market), {"guild": guild.pk}).status_code == 200
    assert_error(api.post(f"{url('close', market)}?guild={guild.pk}"), 404, "not_found")
    assert fake_discord.requests_to(MY_GUILDS) == asked + 1
    market.refresh_from_db()
    assert market.status == MarketStatus.OPEN
    assert_error(api.get(url("", market), {"guild": guild.pk}), 404, "not_found")

    # Given back: reading sees it once the window is over.
    fake_discord.set_roles(guild.pk, discord_id, [MODERATOR_ROLE_ID])
    assert_error(api.get(url("", market), {"guild": guild.pk}), 404, "not_found")
    later = time.time() + settings.MODERATOR_CONSOLE_REFRESH_SECONDS + 1  # type: ignore[attr-defined]
    with time_machine.travel(later):
        assert api.get(url("", market), {"guild": guild.pk}).status_code == 200


def test_without_a_discord_sign_in_a_staff_session_is_told_why(
    guild: Guild, market: Market, fake_discord: FakeDiscord
) -> None:
    api, user = staff_session("mod-a", fake_discord, moderates=[guild])
    user.socialaccount_set.all().delete()  # its token with it

    response = api.post(f"{url('close', market)}?guild={guild.pk}")

    error = assert_error(response, 401, "discord_sign_in_needed")
    assert "Sign in with Discord again" in error["message"]
    market.refresh_from_db()
    assert market.status == MarketStatus.OPEN


def test_discord_unreachable_refuses_rather_than_guesses(
    guild: Guild, market: Market, fake_discord: FakeDiscord
) -> None:
    api, _ = staff_session("mod-a", fake_discord, moderates=[guild])
    fake_discord.down = True

    assert_error(
        api.post(f"{url('close', market)}?guild={guild.pk}"), 503, "moderator_check_unavailable"
    )
    market.refresh_from_db()
    assert market.status == MarketStatus.OPEN
