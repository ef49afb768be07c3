"""Moderator commands are registered hidden from members; the moderator role still moderates.

Discord shows a command whose ``default_member_permissions`` is Manage Server
("32") only to members with that permission, until a server manager adds a
role to it (Server Settings → Integrations). It applies the field to top-level
commands only, so moderators' close and cancel have their own ``/moderate``
command. The emulator delivers what Discord would deliver once the server has
allowed the moderator role; the bot's own check still refuses everyone else.
"""

from __future__ import annotations

import pytest

from markets.models import Market, MarketStatus
from points.models import Member
from tests.botrunner.e2e.bot_process import BotProcess
from tests.botrunner.e2e.conftest import Personas, member_row, open_market
from tests.discord_emulator import DiscordEmulator, GuildSetup, message_text
from tests.discord_emulator.model import MANAGE_GUILD

pytestmark = [
    pytest.mark.discord_e2e,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]

HIDDEN = {"resolve", "moderate", "points", "config", "season"}
MEMBERS = {"market", "bet", "sell", "portfolio", "balance", "daily", "tip", "leaderboard"}


def registered(emulator: DiscordEmulator) -> dict[str, dict]:
    with emulator.lock:
        return {c["name"]: dict(c) for c in emulator.commands.get(None, {}).values()}


def test_only_moderator_and_manager_commands_need_manage_server(
    emulator: DiscordEmulator, bot: BotProcess
) -> None:
    # nextcord 2.6 registers each new command with its own POST (an upsert), not
    # one bulk overwrite; the bodies are what Discord would store either way.
    posted = emulator.requests_matching(
        "POST", rf"/applications/{emulator.application_id}/commands$"
    )
    sent = {r.body["name"]: r.body.get("default_member_permissions") for r in posted}

    assert {name for name, value in sent.items() if value is not None} == HIDDEN
    assert all(sent[name] == str(MANAGE_GUILD) for name in HIDDEN), sent
    assert set(sent) >= MEMBERS
    commands = registered(emulator)
    assert {n for n, c in commands.items() if c.get("default_member_permissions")} == HIDDEN
    # close and cancel for moderators left the members' /market.
    market_subcommands = {o["name"] for o in commands["market"]["options"]}
    assert "close" not in market_subcommands
    assert {o["name"] for o in commands["moderate"]["options"]} == {"close", "cancel", "correct"}


def test_the_moderator_role_without_manage_server_still_moderates(
    emulator: DiscordEmulator, bot: BotProcess, people: Personas, discord_guild: GuildSetup
) -> None:
    mod = people.mod_one
    assert not mod.permissions & MANAGE_GUILD
    assert not int(discord_guild.role_payload(discord_guild.moderator_role_id)["permissions"]) & (
        MANAGE_GUILD
    )
    market = open_market(discord_guild, people.alice, "Ferry back by July?", ["Yes", "No"])
    other = open_market(discord_guild, people.alice, "Snow in April?", ["Yes", "No"])

    closed = emulator.slash(mod, "moderate close", market=str(market.pk))
    assert "is closed" in emulator.wait_for_reply(closed, contains="closed")["content"]
    cancelled = emulator.slash(mod, "moderate cancel", market=str(other.pk))
    assert "cancelled" in emulator.wait_for_reply(cancelled, contains="cancelled")["content"]
    granted = emulator.slash(mod, "points grant", member=people.bob, amount=25, reason="quiz")
    assert "Granted 25 points" in emulator.wait_for_reply(granted, contains="Granted")["content"]
    voted = emulator.slash(mod, "resolve", market=str(market.pk), outcome="Yes")
    assert "1 of 2 votes" in emulator.wait_for_reply(voted, contains="votes")["content"]
    # The role moderates; it does not manage the server.
    settings = emulator.slash(mod, "config show")
    assert "Only server managers" in message_text(
        emulator.wait_for_reply(settings, contains="server managers")
    )

    assert Market.objects.get(pk=market.pk).status == MarketStatus.CLOSED
    assert Market.objects.get(pk=other.pk).status == MarketStatus.CANCELLED


def test_a_member_without_the_role_is_refused(
    emulator: DiscordEmulator, bot: BotProcess, people: Personas, discord_guild: GuildSetup
) -> None:
    market = open_market(discord_guild, people.alice, "Bridge repaired?", ["Yes", "No"])
    bob = member_row(discord_guild, people.bob)
    before = Member.objects.get(pk=bob.pk).account.balance

    for command, options in (
        ("moderate close", {"market": str(market.pk)}),
        ("moderate cancel", {"market": str(market.pk)}),
        ("points grant", {"member": people.bob, "amount": 500, "reason": "mine"}),
        ("resolve", {"market": str(market.pk), "outcome": "Yes"}),
    ):
        asked = emulator.slash(people.bob, command, **options)
        refused = emulator.wait_for_reply(asked, contains="moderators")
        assert "Only moderators" in refused["content"], (command, refused["content"])

    assert Market.objects.get(pk=market.pk).status == MarketStatus.OPEN
    assert Member.objects.get(pk=bob.pk).account.balance == before


def test_a_creator_still_cancels_their_own_market_from_market(
    emulator: DiscordEmulator, bot: BotProcess, people: Personas, discord_guild: GuildSetup
) -> None:
    market = open_market(discord_guild, people.alice, "Cake at the meetup?", ["Yes", "No"])

    asked = emulator.slash(people.alice, "market cancel", market=str(market.pk))

    assert "cancelled" in emulator.wait_for_reply(asked, contains="cancelled")["content"]
    assert Market.objects.get(pk=market.pk).status == MarketStatus.CANCELLED
