"""/balance, /daily, /tip, /leaderboard and /history answer privately with the member's points."""

from __future__ import annotations

import pytest

from botrunner.cogs.points import (
    balance_command,
    daily_command,
    history_command,
    leaderboard_command,
    tip_command,
)
from botrunner.dispatch import dispatch_interaction
from points.models import Guild
from points.services import member_set_frozen, points_transfer
from tests.botrunner.conftest import member_for, persona, run
from tests.botrunner.fakes import component
from tests.botrunner.helpers import balance, state

pytestmark = pytest.mark.django_db(transaction=True)


def test_balance_creates_the_member_with_the_starting_grant(slash, guild, alice) -> None:
    interaction = slash(alice)
    run(balance_command(interaction))
    assert interaction.log[0] == "defer"
    assert interaction.last.ephemeral
    assert f"Your balance: **{guild.starting_balance:,}** points" in interaction.last.text
    assert balance(alice) == guild.starting_balance


def test_daily_credits_once_a_day(slash, guild, alice) -> None:
    member_for(alice, guild)
    start = balance(alice)
    first = slash(alice)
    run(daily_command(first))
    assert balance(alice) == start + guild.daily_amount
    assert f"You claimed **{guild.daily_amount}** points" in first.last.text
    assert "Next claim <t:" in first.last.text
    before = state()
    second = slash(alice)
    run(daily_command(second))
    assert second.last.ephemeral
    assert "You already claimed your daily points" in second.last.text
    assert state() == before


def test_daily_retried_with_the_same_interaction_credits_once(slash, guild, alice) -> None:
    member_for(alice, guild)
    start = balance(alice)
    first = slash(alice)
    run(daily_command(first))
    retry = slash(alice, id=first.id)
    run(daily_command(retry))
    assert balance(alice) == start + guild.daily_amount
    assert "You claimed" in retry.last.text


def test_tip_moves_points_between_members(slash, guild, alice, bob) -> None:
    member_for(alice, guild)
    start = balance(alice)
    interaction = slash(alice)
    run(tip_command(interaction, member=bob, amount=40, note="thanks @everyone"))
    assert balance(alice) == start - 40
    assert balance(bob) == guild.starting_balance + 40  # bob joined on receiving it
    assert interaction.last.ephemeral
    assert "You sent **40** points to bob" in interaction.last.text


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("self", "You cannot send points to yourself"),
        ("too much", "Not enough points"),
        ("disabled", "transfers are turned off"),
        ("frozen", "frozen"),
        ("bot", "Bots do not take part"),
    ],
)
def test_refused_tips_say_why_and_move_nothing(slash, guild, alice, bob, case, message) -> None:
    sender = member_for(alice, guild)
    member_for(bob, guild)
    recipient, amount = bob, 10
    if case == "self":
        recipient = alice
    elif case == "too much":
        amount = 10**9
    elif case == "disabled":
        Guild.objects.filter(pk=guild.pk).update(transfers_enabled=False)
    elif case == "frozen":
        member_set_frozen(member=sender, frozen=True, reason="test", actor="test")
    else:
        recipient = persona("a bot", bot=True)
    before = state()
    interaction = slash(alice)
    run(tip_command(interaction, member=recipient, amount=amount))
    assert interaction.last.ephemeral
    assert message in interaction.last.text
    assert state() == before


@pytest.mark.parametrize("by", ["balance", "net_worth", "profit"])
def test_leaderboard_ranks_members(slash, guild, alice, bob, by) -> None:
    member_for(alice, guild)
    run(tip_command(slash(bob), member=alice, amount=100))
    interaction = slash(alice)
    run(leaderboard_command(interaction, by=by))
    text = interaction.last.text
    assert "Leaderboard" in text
    if by != "profit":
        assert text.index("alice") < text.index("bob")
        assert "You: #1" in text


def test_the_profit_leaderboard_ranks_a_period(slash, guild, alice) -> None:
    member_for(alice, guild)
    interaction = slash(alice)
    run(leaderboard_command(interaction, by="profit", period="week"))
    assert "Leaderboard: Profit, last week" in interaction.last.text
    assert "You: #1 with 0 points" in interaction.last.text


def test_only_the_profit_leaderboard_has_periods(slash, guild, alice) -> None:
    interaction = slash(alice)
    run(leaderboard_command(interaction, by="balance", period="week"))
    assert interaction.last.ephemeral
    assert "Only the profit board has periods" in interaction.last.text


def test_history_lists_movements_and_pages_older_ones(slash, guild, alice, bob) -> None:
    receiver, sender = member_for(alice, guild), member_for(bob, guild)
    for amount in range(1, 12):
        points_transfer(
            sender=sender, recipient=receiver, amount=amount, idempotency_key=f"tip-{amount}"
        )
    interaction = slash(alice)
    run(history_command(interaction))
    first = interaction.last
    assert first.ephemeral
    assert first.text.count("Transfer") == 10
    assert "**+11**" in first.text
    [older] = first.view.children
    page = component(alice, interaction.guild, older.custom_id)
    run(dispatch_interaction(page))
    assert "**+1**" in page.last.text and "Grant" in page.last.text
