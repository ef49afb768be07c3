"""``/history market:`` through the real bot: one member's trades on one market and its result."""

from __future__ import annotations

from typing import Any

import pytest

from betting.services import bet_place
from markets.models import Market
from markets.services import market_close
from tests.botrunner.e2e.bot_process import BotProcess
from tests.botrunner.e2e.conftest import Personas, member_row, open_market
from tests.botrunner.e2e.flows import EPHEMERAL
from tests.discord_emulator import DiscordEmulator, GuildSetup, Persona, message_text
from tests.markets.helpers import make_guild, make_market, make_member

pytestmark = [
    pytest.mark.discord_e2e,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]


def bets(guild: GuildSetup, persona: Persona, market: Market, outcome: int, amount: int) -> None:
    bet_place(
        member=member_row(guild, persona),
        market_id=market.pk,
        outcome_index=outcome,
        amount=amount,
        idempotency_key=f"e2e:history:{persona.user_id}:{market.pk}:{outcome}:{amount}",
        bypass_rate_limit=True,
    )


def history(emulator: DiscordEmulator, persona: Persona, market: str, contains: str) -> Any:
    reply = emulator.wait_for_reply(
        emulator.slash(persona, "history", market=market), contains=contains
    )
    assert int(reply["flags"]) & EPHEMERAL
    return reply


def test_it_shows_the_trades_and_then_the_paid_result(
    emulator: DiscordEmulator, bot: BotProcess, people: Personas, discord_guild: GuildSetup
) -> None:
    market = open_market(discord_guild, people.alice, "Will the fair be on?", ["Yes", "No"])
    bets(discord_guild, people.alice, market, 0, 100)
    bets(discord_guild, people.alice, market, 0, 40)
    bets(discord_guild, people.bob, market, 1, 100)

    picked = emulator.wait_for_callback(
        emulator.autocomplete(people.alice, "history", focused="market", market="fair")
    )
    assert picked.data["choices"][0]["value"] == str(market.pk)

    open_text = message_text(history(emulator, people.alice, str(market.pk), "Result"))
    trades = list(market.trades.filter(member__discord_id=people.alice.user_id).order_by("-id"))
    assert f"Your trades on #{market.pk} Will the fair be on?" in open_text
    for trade in trades:
        assert f"<t:{int(trade.created_at.timestamp())}:f> · Bought **Yes**" in open_text
        assert f"{trade.points:,} points" in open_text
    assert "**Result:** still open." in open_text
    assert "Spent 140 · received 0" in open_text and "Profit so far:" in open_text

    market_close(market_id=market.pk, actor="system:e2e")
    for mod in (people.mod_one, people.mod_two):
        voted = emulator.slash(mod, "resolve", market=str(market.pk), outcome="Yes")
        emulator.wait_for_reply(voted, contains="market")
    emulator.wait_for(
        lambda: Market.objects.filter(pk=market.pk, settled_at__isnull=False).exists(),
        timeout=30,
        what="the settlement",
    )
    position = market.positions.get(member__discord_id=people.alice.user_id)
    profit = position.points_received - position.points_spent

    paid = message_text(history(emulator, people.alice, f"#{market.pk}", "paid"))
    assert "**Result:** paid: the winning answer is **Yes**." in paid
    assert f"received {position.points_received:,}" in paid
    assert f"**Profit: +{profit:,} points**" in paid

    lost = message_text(history(emulator, people.bob, str(market.pk), "Profit"))
    assert "**Profit: -100 points**" in lost


def test_another_servers_market_is_not_found(
    emulator: DiscordEmulator, bot: BotProcess, people: Personas, discord_guild: GuildSetup
) -> None:
    member_row(discord_guild, people.alice)
    elsewhere = make_market(make_member(make_guild(), "stranger"), question="Secret question?")

    reply = history(emulator, people.alice, str(elsewhere.pk), "does not exist")

    assert "Secret question" not in message_text(reply)
    picked = emulator.wait_for_callback(
        emulator.autocomplete(people.alice, "history", focused="market", market="Secret")
    )
    assert picked.data["choices"] == []
