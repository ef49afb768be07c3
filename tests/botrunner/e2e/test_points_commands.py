"""``/daily``, ``/tip``, ``/portfolio``, ``/leaderboard``, ``/history`` through the real bot.

Each reply is read as the member sees it and checked against the database:
the points a claim or a tip moved, the holdings and their value, the ranks,
and the ledger entries the history lists.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from betting.selectors import member_portfolio
from betting.services import bet_place
from points.models import Account, LedgerEntry, LedgerTransaction, Member, TransactionKind
from points.selectors import member_history
from tests.botrunner.e2e.bot_process import BotProcess
from tests.botrunner.e2e.conftest import Personas, member_row, open_market
from tests.botrunner.e2e.flows import EPHEMERAL, embed_description
from tests.discord_emulator import DiscordEmulator, GuildSetup, Persona, message_text

pytestmark = [
    pytest.mark.discord_e2e,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]


def balance(guild: GuildSetup, persona: Persona) -> int:
    return Account.objects.get(member=member_row(guild, persona)).balance


def bets(guild: GuildSetup, persona: Persona, market_id: int, outcome: int, amount: int) -> None:
    bet_place(
        member=member_row(guild, persona),
        market_id=market_id,
        outcome_index=outcome,
        amount=amount,
        idempotency_key=f"e2e:{persona.username}:{market_id}:{outcome}:{amount}",
        bypass_rate_limit=True,
    )


def test_daily_credits_once_and_a_second_claim_is_refused_with_the_next_time(
    emulator: DiscordEmulator, bot: BotProcess, people: Personas, discord_guild: GuildSetup
) -> None:
    before = balance(discord_guild, people.alice)
    daily_amount = member_row(discord_guild, people.alice).guild.daily_amount
    assert daily_amount > 0

    claimed = emulator.wait_for_reply(emulator.slash(people.alice, "daily"), contains="claimed")

    assert int(claimed["flags"]) & EPHEMERAL
    assert balance(discord_guild, people.alice) == before + daily_amount
    assert f"**{daily_amount:,}** points" in claimed["content"]
    assert f"Balance: {before + daily_amount:,} points" in claimed["content"]
    member = member_row(discord_guild, people.alice)
    next_claim = member.last_daily_at + timedelta(hours=24)
    assert f"<t:{int(next_claim.timestamp())}:R>" in claimed["content"]

    refused = emulator.wait_for_reply(
        emulator.slash(people.alice, "daily"), contains="already claimed"
    )

    assert int(refused["flags"]) & EPHEMERAL
    # The next time, written out or as a Discord timestamp.
    assert (
        f"{next_claim:%Y-%m-%d %H:%M}" in refused["content"]
        or f"<t:{int(next_claim.timestamp())}" in refused["content"]
    ), refused["content"]
    assert balance(discord_guild, people.alice) == before + daily_amount
    claims = LedgerTransaction.objects.filter(
        kind=TransactionKind.DAILY, entries__account__member=member
    )
    assert claims.count() == 1


def test_tip_moves_points_between_the_two_members(
    emulator: DiscordEmulator, bot: BotProcess, people: Personas, discord_guild: GuildSetup
) -> None:
    alice_before = balance(discord_guild, people.alice)
    bob_before = balance(discord_guild, people.bob)

    sent = emulator.wait_for_reply(
        emulator.slash(people.alice, "tip", member=people.bob, amount=150, note="for the cake"),
        contains="You sent",
    )

    assert int(sent["flags"]) & EPHEMERAL
    assert "**150** points to bob" in sent["content"]
    assert f"Your balance: {alice_before - 150:,} points" in sent["content"]
    assert balance(discord_guild, people.alice) == alice_before - 150
    assert balance(discord_guild, people.bob) == bob_before + 150
    [transfer] = LedgerTransaction.objects.filter(kind=TransactionKind.TRANSFER)
    assert transfer.memo == "for the cake"


def test_a_tip_above_the_balance_is_refused_and_moves_nothing(
    emulator: DiscordEmulator, bot: BotProcess, people: Personas, discord_guild: GuildSetup
) -> None:
    alice_before = balance(discord_guild, people.alice)
    bob_before = balance(discord_guild, people.bob)

    refused = emulator.wait_for_reply(
        emulator.slash(people.alice, "tip", member=people.bob, amount=alice_before + 1),
        contains="⚠️",
    )

    assert int(refused["flags"]) & EPHEMERAL
    assert balance(discord_guild, people.alice) == alice_before
    assert balance(discord_guild, people.bob) == bob_before
    assert not LedgerTransaction.objects.filter(kind=TransactionKind.TRANSFER).exists()


def test_portfolio_lists_the_members_holdings_at_their_value(
    emulator: DiscordEmulator, bot: BotProcess, people: Personas, discord_guild: GuildSetup
) -> None:
    first = open_market(discord_guild, people.bob, "Harbour festival in July?", ["Yes", "No"])
    second = open_market(discord_guild, people.bob, "Which stall sells out?", ["Fish", "Cake"])
    bets(discord_guild, people.alice, first.pk, 0, 100)
    bets(discord_guild, people.alice, second.pk, 1, 40)
    bets(discord_guild, people.bob, first.pk, 1, 300)  # moves the value of Alice's "Yes"

    shown = emulator.wait_for_reply(
        emulator.slash(people.alice, "portfolio"), contains="Your portfolio"
    )

    assert int(shown["flags"]) & EPHEMERAL
    portfolio = member_portfolio(member_row(discord_guild, people.alice))
    assert len(portfolio.holdings) == 2
    description = embed_description(shown)
    for holding in portfolio.holdings:
        assert (
            f"**#{holding.market_id}** {holding.question} — {holding.outcome_label}: "
            f"{holding.shares.quantize(Decimal('0.01')):,} shares, "
            f"worth {holding.value}"
        ) in description
    fields = {f["name"]: f["value"] for f in shown["embeds"][0]["fields"]}
    assert fields["Value now"] == f"{portfolio.value} points"
    assert fields["Profit so far"] == f"{portfolio.profit:+} points"
    assert "Fish" not in description  # only what she holds


def test_leaderboard_ranks_the_members_by_balance(
    emulator: DiscordEmulator, bot: BotProcess, people: Personas, discord_guild: GuildSetup
) -> None:
    for persona in (people.alice, people.bob, people.mod_one):
        member_row(discord_guild, persona)
    emulator.wait_for_reply(
        emulator.slash(people.alice, "tip", member=people.bob, amount=70), contains="You sent"
    )

    board = emulator.wait_for_reply(
        emulator.slash(people.alice, "leaderboard"), contains="Leaderboard"
    )

    members = list(Member.objects.filter(guild_id=discord_guild.guild_id).select_related("account"))
    balances = {m.pk: m.account.balance for m in members}

    def rank(member: Member) -> int:
        return 1 + sum(1 for other in balances.values() if other > balances[member.pk])

    lines = embed_description(board).splitlines()
    expected = {
        f"**{rank(m)}.** {m.display_name or '—'} — {balances[m.pk]:,} points" for m in members
    }
    assert set(lines) == expected
    shown_balances = [int(line.rsplit("— ", 1)[1].split()[0].replace(",", "")) for line in lines]
    assert shown_balances == sorted(shown_balances, reverse=True)
    assert lines[0].endswith(f"— {balance(discord_guild, people.bob):,} points")  # bob got the tip
    alice = member_row(discord_guild, people.alice)
    assert board["embeds"][0]["footer"]["text"] == (
        f"You: #{rank(alice)} with {balances[alice.pk]:,} points"
    )


def test_history_lists_the_members_trades(
    emulator: DiscordEmulator, bot: BotProcess, people: Personas, discord_guild: GuildSetup
) -> None:
    market = open_market(discord_guild, people.bob, "New mural by autumn?", ["Yes", "No"])
    bets(discord_guild, people.alice, market.pk, 0, 90)
    bets(discord_guild, people.alice, market.pk, 1, 35)

    shown = emulator.wait_for_reply(
        emulator.slash(people.alice, "history"), contains="Your points history"
    )

    assert int(shown["flags"]) & EPHEMERAL
    lines = embed_description(shown).splitlines()
    entries = member_history(member_row(discord_guild, people.alice), limit=10).entries
    assert (
        len(lines)
        == len(entries)
        == LedgerEntry.objects.filter(account__member__discord_id=people.alice.user_id).count()
    )
    for line, entry in zip(lines, entries, strict=True):  # newest first, as stored
        assert f"**{entry.amount:+,}** → {entry.balance_after:,}" in line
        assert entry.transaction.get_kind_display() in line
    assert f"**{-35:+,}**" in lines[0] and f"market #{market.pk}: No" in lines[0]
    assert f"**{-90:+,}**" in lines[1] and f"market #{market.pk}: Yes" in lines[1]
    assert "Nothing yet" not in message_text(shown)
