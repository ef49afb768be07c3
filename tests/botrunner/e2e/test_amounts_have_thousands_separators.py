"""Every amount the bot writes reads ``1,234,567``: replies, quotes, the live card, boards, results.

Shares keep their decimals (``12,345.67 shares``); only the thousands are grouped.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from betting.selectors import member_portfolio, worth_leaderboard
from betting.services import bet_place
from markets.services import market_close
from points.models import Member
from points.selectors import member_balance
from points.services import points_grant
from tests.botrunner.e2e.bot_process import BotProcess
from tests.botrunner.e2e.conftest import Personas, member_row, open_market
from tests.botrunner.e2e.flows import show_market
from tests.discord_emulator import DiscordEmulator, GuildSetup, message_text

pytestmark = [
    pytest.mark.discord_e2e,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]

RICH = 1_234_567
STAKE = 12_345
# Four or more digits in a row that are not a market id (``#1234``), a Discord
# timestamp (``<t:1700000000:R>``) or a decimal tail: an amount written without separators.
UNGROUPED = re.compile(r"(?<![#:\d.,])\d{4,}(?![\d>])")


def rich_member(guild: GuildSetup, persona) -> Member:
    member = member_row(guild, persona)
    points_grant(
        member=member,
        amount=RICH - member_balance(member),
        reason="e2e: a rich member",
        actor="system:e2e",
        idempotency_key=f"e2e:rich:{persona.user_id}:{member.pk}",
    )
    return member


def big_bet(guild: GuildSetup, persona, market_id: int, outcome: int = 0) -> None:
    bet_place(
        member=member_row(guild, persona),
        market_id=market_id,
        outcome_index=outcome,
        amount=STAKE,
        idempotency_key=f"e2e:big:{persona.user_id}:{market_id}",
        bypass_rate_limit=True,
    )


def ungrouped(text: str) -> list[str]:
    return UNGROUPED.findall(text)


def test_balance_and_quote_group_the_thousands(
    emulator: DiscordEmulator, bot: BotProcess, people: Personas, discord_guild: GuildSetup
) -> None:
    rich_member(discord_guild, people.alice)
    market = open_market(discord_guild, people.bob, "Snow by December?", ["Yes", "No"])

    balance = emulator.wait_for_reply(emulator.slash(people.alice, "balance"), contains="balance")
    asked = emulator.slash(people.alice, "bet", market=str(market.pk), outcome="Yes", amount=2_500)
    quoted = message_text(emulator.wait_for_reply(asked, contains="Confirm your bet"))

    assert "**1,234,567** points" in balance["content"]
    assert "2,500 points" in quoted
    assert re.search(r"\d{1,3}(,\d{3})+\.\d\d\b", quoted), quoted  # the shares, with decimals
    assert ungrouped(quoted) == [], quoted


def test_portfolio_and_position_group_the_thousands(
    emulator: DiscordEmulator, bot: BotProcess, people: Personas, discord_guild: GuildSetup
) -> None:
    alice = rich_member(discord_guild, people.alice)
    market = open_market(discord_guild, people.bob, "A new bridge this decade?", ["Yes", "No"])
    big_bet(discord_guild, people.alice, market.pk)
    [holding] = member_portfolio(alice).holdings
    assert holding.value >= 1000  # the point of the test: an amount with thousands

    portfolio = message_text(
        emulator.wait_for_reply(emulator.slash(people.alice, "portfolio"), contains="portfolio")
    )

    assert f"worth {holding.value:,}" in portfolio, portfolio
    assert f"{holding.shares.quantize(Decimal('0.01')):,} shares" in portfolio
    assert ungrouped(portfolio) == [], portfolio

    posted = show_market(emulator, people.alice, market.pk)
    position = message_text(
        emulator.wait_for_reply(
            emulator.click(people.alice, posted, "My position"), contains="Your position"
        )
    )
    assert f"worth {holding.value:,} points" in position, position
    assert f"spent {STAKE:,}" in position
    assert ungrouped(position) == [], position


def test_the_live_card_and_the_leaderboards_group_the_thousands(
    emulator: DiscordEmulator, bot: BotProcess, people: Personas, discord_guild: GuildSetup
) -> None:
    rich_member(discord_guild, people.alice)
    market = open_market(discord_guild, people.bob, "Marathon record?", ["Yes", "No"])
    big_bet(discord_guild, people.alice, market.pk)

    card = message_text(show_market(emulator, people.bob, market.pk))
    assert f"{STAKE:,} points" in card, card  # the volume
    assert ungrouped(card) == [], card

    by_balance = message_text(
        emulator.wait_for_reply(emulator.slash(people.alice, "leaderboard"), contains="Leader")
    )
    assert f"{RICH - STAKE:,} points" in by_balance, by_balance
    assert ungrouped(by_balance) == [], by_balance

    ranked, _ = worth_leaderboard(discord_guild.guild_id, by="net_worth", limit=10)
    net_worth = next(r.net_worth for r in ranked if r.discord_id == people.alice.user_id)
    by_worth = message_text(
        emulator.wait_for_reply(
            emulator.slash(people.alice, "leaderboard", by="net_worth"), contains="Net worth"
        )
    )
    assert f"{net_worth:,} points" in by_worth, by_worth
    assert ungrouped(by_worth) == [], by_worth


def test_the_result_announcement_groups_the_thousands(
    emulator: DiscordEmulator, bot: BotProcess, people: Personas, discord_guild: GuildSetup
) -> None:
    rich_member(discord_guild, people.alice)
    market = open_market(discord_guild, people.bob, "Harbour festival on?", ["Yes", "No"])
    big_bet(discord_guild, people.alice, market.pk)
    market_close(market_id=market.pk, actor="system:e2e")

    for moderator in (people.mod_one, people.mod_two):
        voted = emulator.slash(moderator, "resolve", market=str(market.pk), outcome="Yes")
        emulator.wait_for_reply(voted, contains="vote")

    channel = str(discord_guild.announcement_channel_id)
    paid = emulator.wait_for(
        lambda: [
            message_text(m)
            for m in emulator.messages.values()
            if m["channel_id"] == channel and f"#{market.pk} " in message_text(m)
            if "Paid out" in message_text(m)
        ],
        timeout=30,
        what="the payout announcement",
    )[0]
    assert re.search(r"\d{1,3}(,\d{3})+ points paid", paid), paid
    assert ungrouped(paid) == [], paid


def test_refusals_group_the_thousands(
    emulator: DiscordEmulator, bot: BotProcess, people: Personas, discord_guild: GuildSetup
) -> None:
    balance = member_balance(member_row(discord_guild, people.bob))
    assert balance >= 1000  # the starting balance: an amount with thousands
    market = open_market(discord_guild, people.alice, "Night trams all year?", ["Yes", "No"])

    too_big = emulator.slash(
        people.bob, "bet", market=str(market.pk), outcome="Yes", amount=2 * 10**6
    )
    refused = emulator.wait_for_reply(too_big, contains="largest bet")["content"]
    assert "The largest bet is 1,000,000 points." in refused, refused

    stake = balance * 3
    asked = emulator.slash(people.bob, "bet", market=str(market.pk), outcome="Yes", amount=stake)
    quote = emulator.wait_for_reply(asked, contains="Confirm your bet")
    short = emulator.wait_for_reply(
        emulator.click(people.bob, quote, "Confirm"), contains="Not enough points"
    )["content"]
    assert f"the balance is {balance:,}, and this needs {stake:,}." in short, short
