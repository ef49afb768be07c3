"""New and closing-soon markets are announced as configured; a market's thread holds it live.

Through the real bot and the Discord emulator: the guild's settings are what a
server manager sets with ``/config set``; the closing-soon beat task is called
with a controlled ``now`` (it is a Celery task with no Discord of its own); what
the bot posts is read back from the emulator's channels and threads.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from betting.services import bet_place
from markets.closing_soon import markets_announce_closing_soon
from markets.models import Market
from points.services import guild_update_settings
from tests.botrunner.e2e.bot_process import BotProcess
from tests.botrunner.e2e.conftest import Personas, member_row, open_market
from tests.botrunner.e2e.flows import EPHEMERAL
from tests.discord_emulator import DiscordEmulator, GuildSetup, message_text

pytestmark = [
    pytest.mark.discord_e2e,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]

# The consumer polls every 2 s and edits a message at most once per 5 s.
WITHIN = 30


def _configure(guild: GuildSetup, **settings: object) -> None:
    guild_update_settings(guild_id=guild.guild_id, actor="system:e2e", **settings)


def _titled(emulator: DiscordEmulator, channel_id: int, title: str) -> list[dict]:
    return [
        m
        for m in emulator.channel_messages(channel_id)
        if any((e.get("title") or "").startswith(title) for e in m["embeds"])
    ]


def _wait_titled(emulator: DiscordEmulator, channel_id: int, title: str) -> list[dict]:
    return emulator.wait_for(
        lambda: _titled(emulator, channel_id, title) or None,
        timeout=WITHIN,
        what=f"a message titled {title!r} in channel {channel_id}",
    )


def test_new_markets_are_announced_only_while_the_guild_asks(
    emulator: DiscordEmulator, bot: BotProcess, people: Personas, discord_guild: GuildSetup
) -> None:
    channel = discord_guild.announcement_channel_id
    quiet = open_market(
        discord_guild, people.alice, "Made while announcements are off?", ["A", "B"]
    )
    _configure(discord_guild, announce_new_markets=True)
    loud = open_market(discord_guild, people.bob, "Will the *bake sale* sell out?", ["Yes", "No"])

    [announced] = _wait_titled(emulator, channel, f"New market: #{loud.pk} ")
    text = message_text(announced)
    assert "Will the \\*bake sale\\* sell out?" in text  # member text escaped
    assert "Answers: Yes · No." in text
    assert f"/bet market:{loud.pk}" in text
    assert announced["allowed_mentions"] == {"parse": []}
    # The later market's announcement came, so the earlier event was read too: not announced.
    assert _titled(emulator, channel, f"New market: #{quiet.pk} ") == []


def test_a_market_is_announced_once_when_it_is_about_to_close(
    emulator: DiscordEmulator, bot: BotProcess, people: Personas, discord_guild: GuildSetup
) -> None:
    channel = discord_guild.announcement_channel_id
    _configure(discord_guild, closing_soon_lead_minutes=60)
    market = open_market(
        discord_guild,
        people.alice,
        "Is the raffle drawn tonight?",
        ["Yes", "No"],
        duration=timedelta(hours=3),
    )
    early = market.closes_at - timedelta(minutes=61)
    assert markets_announce_closing_soon(now=early) == []

    due = market.closes_at - timedelta(minutes=59)
    assert markets_announce_closing_soon(now=due) == [market.pk]
    assert markets_announce_closing_soon(now=due + timedelta(minutes=1)) == []  # claimed once

    [notice] = _wait_titled(emulator, channel, f"Closing soon: #{market.pk} ")
    assert f"<t:{int(market.closes_at.timestamp())}:R>" in message_text(notice)

    # A later announcement arrives after it: the consumer is past the event, and posted it once.
    _configure(discord_guild, announce_new_markets=True)
    later = open_market(discord_guild, people.bob, "Anything after it?", ["Yes", "No"])
    _wait_titled(emulator, channel, f"New market: #{later.pk} ")
    assert len(_titled(emulator, channel, f"Closing soon: #{market.pk} ")) == 1


def test_with_threads_on_the_live_message_lives_in_the_markets_thread(
    emulator: DiscordEmulator, bot: BotProcess, people: Personas, discord_guild: GuildSetup
) -> None:
    _configure(discord_guild, market_threads=True, closing_soon_lead_minutes=30)
    threads_before = set(emulator.threads)
    asked = emulator.slash(people.alice, "market create")
    submitted = emulator.submit(
        people.alice,
        asked,
        {
            "question": "Will the new channel\nget 100 posts?",
            "options": "Yes\nNo",
            "duration": "2h",
            "category": "",
        },
    )
    emulator.wait_for_reply(submitted, contains="is open", timeout=45)
    market = emulator.wait_for(
        lambda: (
            Market.objects.filter(discord_thread_id__isnull=False, discord_message_id__isnull=False)
            .filter(question="Will the new channel\nget 100 posts?")
            .first()
        ),
        timeout=45,
        what="the market to record its thread and live message",
    )

    # One public line in the channel, and the thread started from it.
    [line] = [
        emulator.messages[i]
        for i in submitted.followup_ids
        if not int(emulator.messages[i]["flags"]) & EPHEMERAL
    ]
    assert line["channel_id"] == str(discord_guild.general_channel_id)
    assert f"Market #{market.pk}" in line["content"]
    assert set(emulator.threads) - threads_before == {market.discord_thread_id}
    thread = emulator.threads[market.discord_thread_id]
    assert thread["id"] == line["id"] and thread["parent_id"] == line["channel_id"]
    assert thread["name"] == f"#{market.pk} Will the new channel get 100 posts?"

    # The live message is in the thread, with its chart and buttons, and is kept live there.
    assert market.discord_channel_id == market.discord_thread_id
    [card] = emulator.channel_messages(market.discord_thread_id)
    assert int(card["id"]) == market.discord_message_id
    assert "Will the new channel" in message_text(card) and card["components"]
    [chart] = card["attachments"]
    assert chart["filename"] == f"market-{market.pk}.png"
    since = len(emulator.requests)
    bet_place(
        member=member_row(discord_guild, people.bob),
        market_id=market.pk,
        outcome_index=0,
        amount=250,
        idempotency_key=f"e2e:bob:{market.pk}:thread",
        bypass_rate_limit=True,
    )
    path = f"/channels/{market.discord_thread_id}/messages/{card['id']}$"
    emulator.wait_for(
        lambda: emulator.requests_matching("PATCH", path, since=since) or None,
        timeout=WITHIN,
        what="the live message in the thread to be edited after a trade",
    )

    # Showing it again posts a fresh live message in the same thread: no second thread.
    shown = emulator.slash(people.bob, "market show", market=str(market.pk))
    emulator.wait_for(
        lambda: (
            Market.objects.filter(pk=market.pk)
            .exclude(discord_message_id=market.discord_message_id)
            .exists()
        ),
        timeout=45,
        what="the market's live message to move to a fresh post in its thread",
    )
    moved = Market.objects.get(pk=market.pk)
    thread_id = market.discord_thread_id
    assert (moved.discord_thread_id, moved.discord_channel_id) == (thread_id, thread_id)
    assert set(emulator.threads) - threads_before == {thread_id}
    assert len(emulator.channel_messages(thread_id)) == 2
    pointer = next(
        emulator.messages[i]
        for i in shown.followup_ids
        if not int(emulator.messages[i]["flags"]) & EPHEMERAL
    )
    assert f"<#{thread_id}>" in pointer["content"]

    # Its updates are posted in the thread as well as in the announcement channel.
    assert markets_announce_closing_soon(now=market.closes_at - timedelta(minutes=10)) == [
        market.pk
    ]
    _wait_titled(emulator, thread_id, f"Closing soon: #{market.pk} ")
    _wait_titled(emulator, discord_guild.announcement_channel_id, f"Closing soon: #{market.pk} ")


def test_a_market_whose_thread_cannot_be_started_is_posted_in_the_channel(
    emulator: DiscordEmulator, bot: BotProcess, people: Personas, discord_guild: GuildSetup
) -> None:
    _configure(discord_guild, market_threads=True)
    market = open_market(discord_guild, people.alice, "Can the bot start threads here?", ["Y", "N"])
    # The bot lacks Create Public Threads in this channel: Discord answers 403 Missing Permissions.
    emulator.fail_next(
        "POST",
        r"/messages/\d+/threads$",
        403,
        body={"code": 50013, "message": "Missing Permissions"},
    )
    shown = emulator.slash(people.bob, "market show", market=str(market.pk))
    emulator.wait_for(
        lambda: Market.objects.filter(pk=market.pk, discord_message_id__isnull=False).exists(),
        timeout=45,
        what="the market to record its live message",
    )
    posted = Market.objects.get(pk=market.pk)
    assert posted.discord_thread_id is None
    assert posted.discord_channel_id == discord_guild.general_channel_id
    public = [
        emulator.messages[i]
        for i in shown.followup_ids
        if not int(emulator.messages[i]["flags"]) & EPHEMERAL
    ]
    line, card = public
    assert "in its thread" not in line["content"]  # the line no longer points to a thread
    assert int(card["id"]) == posted.discord_message_id and card["components"]
