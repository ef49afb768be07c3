"""A key's moderator rights are Discord's answer at the time of each moderator action.

The web asks (the fake) Discord with the bot token for the member and the
guild's roles, caches the answer for at most 60 s, and refuses with a 503 when
it cannot tell: a moderator action is never allowed on a guess.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import time_machine
from pytest_django import Settings
from rest_framework.test import APIClient

from markets.models import Market, MarketStatus
from points.models import Guild, Member
from tests.api.helpers import (
    MODERATOR_ROLE_ID,
    api_state,
    assert_error,
    client_with_key,
    issue_key,
    open_market,
    url,
)
from tests.fake_discord import ADMINISTRATOR, MANAGE_GUILD, FakeDiscord


@pytest.fixture
def clock() -> Iterator[time_machine.Coordinates]:
    with time_machine.travel(time.time(), tick=True) as traveller:
        yield traveller


@pytest.fixture
def second_market(other_member: Member) -> Market:
    return open_market(other_member, question="Will the library open on Sunday?")


def member_path(member: Member) -> str:
    return f"/api/v10/guilds/{member.guild_id}/members/{member.discord_id}"


def close(api: APIClient, market: Market) -> object:
    return api.post(url("close", market))


def still_open(market: Market) -> bool:
    market.refresh_from_db()
    return market.status == MarketStatus.OPEN


def test_a_moderators_key_closes_a_market(mod: APIClient, market: Market) -> None:
    assert close(mod, market).status_code == 200
    assert not still_open(market)


def test_the_key_stops_moderating_once_the_role_is_removed(
    mod: APIClient,
    mod_member: Member,
    market: Market,
    second_market: Market,
    fake_discord: FakeDiscord,
    clock: time_machine.Coordinates,
) -> None:
    assert close(mod, market).status_code == 200
    fake_discord.set_roles(mod_member.guild_id, mod_member.discord_id, [])
    clock.shift(61)  # past the cache: Discord is asked again
    before = api_state()

    assert_error(close(mod, second_market), 403, "permission_denied")

    assert api_state() == before and still_open(second_market)


def test_within_a_minute_discord_is_asked_once(
    mod: APIClient,
    mod_member: Member,
    market: Market,
    second_market: Market,
    fake_discord: FakeDiscord,
    clock: time_machine.Coordinates,
) -> None:
    assert close(mod, market).status_code == 200
    clock.shift(30)
    assert mod.post(url("cancel", second_market)).status_code == 200

    assert fake_discord.requests_to(member_path(mod_member)) == 1


def test_a_member_promoted_after_the_key_was_issued_may_moderate(
    alice_key: str, member: Member, market: Market, fake_discord: FakeDiscord, guild: Guild
) -> None:
    """The key was issued to a plain member; rights are read at the action, not at issue."""
    Guild.objects.filter(pk=guild.pk).update(moderator_role_id=MODERATOR_ROLE_ID)
    fake_discord.add_member(guild.pk, member.discord_id, roles=[MODERATOR_ROLE_ID])

    assert close(client_with_key(alice_key), market).status_code == 200
    assert not still_open(market)


@pytest.mark.parametrize(
    ("permissions", "owner"),
    [(MANAGE_GUILD, False), (ADMINISTRATOR, False), (0, True)],
    ids=["manage-server", "administrator", "owner"],
)
def test_manage_server_administrator_or_owner_moderates_without_the_role(
    member: Member,
    market: Market,
    fake_discord: FakeDiscord,
    guild: Guild,
    permissions: int,
    owner: bool,
) -> None:
    role = 558_000_000_000_000_001
    fake_discord.add_role(guild.pk, role, permissions)
    fake_discord.add_member(guild.pk, member.discord_id, roles=[role])
    if owner:
        fake_discord.guild(guild.pk).owner_id = member.discord_id

    assert close(client_with_key(issue_key(member)), market).status_code == 200


def test_a_member_without_the_role_or_permission_is_refused(
    member: Member, market: Market, fake_discord: FakeDiscord, guild: Guild
) -> None:
    fake_discord.add_role(guild.pk, 558_000_000_000_000_002, 0x400)  # View Channel only
    fake_discord.add_member(guild.pk, member.discord_id, roles=[558_000_000_000_000_002])
    api = client_with_key(issue_key(member))
    before = api_state()

    assert_error(close(api, market), 403, "permission_denied")
    assert api_state() == before


def test_someone_who_left_the_server_is_refused(
    mod: APIClient, mod_member: Member, market: Market, fake_discord: FakeDiscord
) -> None:
    fake_discord.remove_member(mod_member.guild_id, mod_member.discord_id)
    before = api_state()

    assert_error(close(mod, market), 403, "permission_denied")
    assert api_state() == before and still_open(market)


@pytest.mark.parametrize(
    "failure",
    [
        "down",
        "rate-limited",
        "timeout",
        "unauthorized",
        "no-token",
        "unknown-guild",
        "unreadable-answer",
    ],
)
def test_when_discord_cannot_tell_the_action_is_refused_with_503(
    mod: APIClient,
    mod_member: Member,
    market: Market,
    fake_discord: FakeDiscord,
    settings: Settings,
    failure: str,
) -> None:
    if failure == "down":
        fake_discord.down = True
    elif failure == "rate-limited":
        # Once: within its Retry-After the web does not ask again (nor guess).
        fake_discord.fail_next(status=429, retry_after=5)
    elif failure == "timeout":
        fake_discord.fail_next(delay=1.0)  # the client waits 0.5 s
        fake_discord.fail_next(delay=1.0)
    elif failure == "unauthorized":
        settings.DISCORD_TOKEN = "a-token-discord-does-not-know"
    elif failure == "no-token":
        settings.DISCORD_TOKEN = ""
    elif failure == "unknown-guild":
        fake_discord.unknown_guilds.add(mod_member.guild_id)  # the bot is not in the server
    elif failure == "unreadable-answer":
        for _ in ("close", "cancel"):  # a 200 that names no roles, for each action
            fake_discord.fail_next(body={"user": {"id": str(mod_member.discord_id)}})
    before = api_state()

    for action in ("close", "cancel"):
        error = assert_error(mod.post(url(action, market)), 503, "moderator_check_unavailable")
        assert "Discord" in error["message"]

    assert api_state() == before and still_open(market)


def test_a_refusal_is_not_remembered_once_discord_answers_again(
    mod: APIClient, market: Market, fake_discord: FakeDiscord
) -> None:
    fake_discord.down = True
    assert_error(close(mod, market), 503, "moderator_check_unavailable")
    fake_discord.down = False

    assert close(mod, market).status_code == 200


def test_a_member_endpoint_works_while_discord_is_down(
    mod: APIClient, fake_discord: FakeDiscord
) -> None:
    """Only moderator actions need Discord's answer; the rest of the API does not wait on it."""
    fake_discord.down = True
    assert mod.get(url("me")).status_code == 200
