"""The week's leaders are posted once when it ends; ``/season start`` through the real bot.

The period-end task runs here with a controlled "now" (the Monday after the
market settled), as beat would run it then; the real bot's outbox consumer
posts the announcement to the guild's announcement channel.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from betting.models import PeriodPost, Season, SeasonStanding
from betting.period_posts import ended_span
from betting.services import bet_place
from betting.settlement import settle_resolved_market
from betting.tasks import post_period_leaders
from points.models import Account, AccountKind
from tests.botrunner.e2e.bot_process import BotProcess
from tests.botrunner.e2e.conftest import Personas, member_row, open_market
from tests.discord_emulator import DiscordEmulator, GuildSetup, Persona, message_text
from tests.markets.helpers import decide

pytestmark = [
    pytest.mark.discord_e2e,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]


def announced(emulator: DiscordEmulator, guild: GuildSetup, contains: str) -> list[str]:
    return [
        text
        for m in emulator.messages.values()
        if m["channel_id"] == str(guild.announcement_channel_id)
        and contains in (text := message_text(m))
    ]


def settled_market(guild: GuildSetup, people: Personas) -> None:
    """alice wins 100 points' worth on Yes, bob loses 100 on No."""
    market = open_market(guild, people.alice, "Will the bake sale sell out?", ["Yes", "No"])
    for persona, outcome in ((people.alice, 0), (people.bob, 1)):
        bet_place(
            member=member_row(guild, persona),
            market_id=market.pk,
            outcome_index=outcome,
            amount=100,
            idempotency_key=f"e2e:{persona.username}:{market.pk}",
            bypass_rate_limit=True,
        )
    decide(market, outcome_index=0)
    settle_resolved_market(market_id=market.pk)  # as the on-commit task or the sweep would


def balance(guild: GuildSetup, persona: Persona) -> int:
    return Account.objects.get(member=member_row(guild, persona)).balance


def test_the_weeks_leaders_are_posted_once_when_the_week_ends(
    emulator: DiscordEmulator, bot: BotProcess, people: Personas, discord_guild: GuildSetup
) -> None:
    settled_market(discord_guild, people)
    # The Monday 00:00 UTC that ends this ISO week, and a minute past it.
    now = ended_span("week", now=timezone.now() + timedelta(days=7)).ends_at
    now += timedelta(minutes=1)

    assert post_period_leaders.apply(kwargs={"now": now.isoformat()}).get() >= 1
    assert post_period_leaders.apply(kwargs={"now": now.isoformat()}).get() == 0  # a second beat

    texts = emulator.wait_for(
        lambda: announced(emulator, discord_guild, "Top traders of week"),
        timeout=30,
        what="the week's leaders in the announcement channel",
    )
    [text] = texts
    assert "alice" in text and "bob — -100 points" in text, text
    assert text.index("alice") < text.index("bob")
    # The bot falls quiet (its other announcements of the market are out) with one post.
    emulator.wait_for(lambda: bot.quiet_for(2), timeout=30, what="the bot to fall quiet")
    assert len(announced(emulator, discord_guild, "Top traders of week")) == 1
    assert PeriodPost.objects.filter(guild_id=discord_guild.guild_id, period="week").count() == 1


def test_a_moderator_starts_seasons_through_the_bot(
    emulator: DiscordEmulator, bot: BotProcess, people: Personas, discord_guild: GuildSetup
) -> None:
    first = emulator.slash(people.mod_one, "season start")
    assert "Season 1 has started" in emulator.wait_for_reply(first, contains="Season")["content"]
    settled_market(discord_guild, people)
    assert (
        balance(discord_guild, people.alice)
        != member_row(discord_guild, people.alice).guild.starting_balance
    )

    refused = emulator.slash(people.bob, "season start", reset=True)
    assert "Only moderators" in emulator.wait_for_reply(refused, contains="moderators")["content"]
    assert Season.objects.filter(guild_id=discord_guild.guild_id).count() == 1

    second = emulator.slash(people.mod_two, "season start", reset=True)
    reply = emulator.wait_for_reply(second, contains="Season 2")["content"]
    assert "balances reset" in reply and "/leaderboard season:1" in reply

    start = member_row(discord_guild, people.alice).guild.starting_balance
    members = Account.objects.filter(guild_id=discord_guild.guild_id, kind=AccountKind.MEMBER)
    assert set(members.values_list("balance", flat=True)) == {start}
    standing = SeasonStanding.objects.get(
        season__number=1, member=member_row(discord_guild, people.alice)
    )
    assert standing.rank == 1 and standing.profit > 0
    [over] = emulator.wait_for(
        lambda: announced(emulator, discord_guild, "Season 1 is over"),
        timeout=30,
        what="the new season's announcement",
    )
    assert "Season 2 has started" in over and "alice" in over and "bob — -100 points" in over

    archived = emulator.slash(people.bob, "leaderboard", season=1)
    text = message_text(emulator.wait_for_reply(archived, contains="final standings"))
    assert text.index("alice") < text.index("bob") and "You: #" in text
