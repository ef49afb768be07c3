"""A Confirm refused because the price moved shows a fresh quote with its own Confirm.

The stale quote's Confirm cannot succeed any more (the price is past its
floor), so leaving it would only invite a second refusal: the refusal replaces
it with the quote for the same amount and answer at today's price, and that
Confirm places the trade, once, at no worse than it says.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from betting.models import Trade, TradeSide
from betting.services import bet_place, bet_quote, sell_quote
from markets.models import Market
from tests.botrunner.e2e.bot_process import BotProcess
from tests.botrunner.e2e.conftest import Personas, member_row, open_market
from tests.botrunner.e2e.flows import quote
from tests.discord_emulator import DiscordEmulator, GuildSetup, Persona, message_text
from tests.discord_emulator.interactions import find_component

pytestmark = [
    pytest.mark.discord_e2e,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]


def buys(guild: GuildSetup, persona: Persona, market: Market, outcome: int, amount: int) -> None:
    bet_place(
        member=member_row(guild, persona),
        market_id=market.pk,
        outcome_index=outcome,
        amount=amount,
        idempotency_key=f"e2e:{persona.username}:{market.pk}:{outcome}:{amount}",
        bypass_rate_limit=True,
    )


def confirm_fields(message: dict) -> list[str]:
    """What the Confirm button carries after its action: market, answer, amount, floor, key."""
    return find_component(message, label="Confirm")["custom_id"].split(":")[2:]


def trades(market: Market, persona: Persona, side: str) -> list[Trade]:
    return list(Trade.objects.filter(market=market, member__discord_id=persona.user_id, side=side))


def test_a_refused_bet_offers_a_fresh_quote_that_confirm_places(
    emulator: DiscordEmulator, bot: BotProcess, people: Personas, discord_guild: GuildSetup
) -> None:
    market = open_market(discord_guild, people.alice, "Trams by 2031?", ["Yes", "No"])
    shown = quote(emulator, people.alice, market.pk, "Yes", 100)
    stale_shares = Decimal(confirm_fields(shown)[3])
    buys(discord_guild, people.bob, market, 0, 500)  # "Yes" costs more now
    fresh = bet_quote(market_id=market.pk, outcome_index=0, amount=100)
    assert fresh.shares < stale_shares

    refused = emulator.wait_for_reply(
        emulator.click(people.alice, shown, "Confirm"), contains="price moved"
    )

    text = message_text(refused)
    assert "Confirm your bet" in text and "**Yes**" in text and "100 points" in text
    market_id, index, amount, floor, _ = confirm_fields(refused)
    assert (int(market_id), int(index), int(amount)) == (market.pk, 0, 100)
    assert Decimal(floor) == fresh.shares
    assert trades(market, people.alice, TradeSide.BUY) == []  # the refusal charged nothing

    first = emulator.click(people.alice, refused, "Confirm")
    again = emulator.click(people.alice, refused, "Confirm")  # a double click
    done = emulator.wait_for_reply(first, contains="Bought")
    emulator.wait_for_reply(again, contains="Bought")

    assert done["components"] == []
    [trade] = trades(market, people.alice, TradeSide.BUY)
    assert trade.points == 100 and trade.outcome.index == 0
    assert trade.shares >= fresh.shares


def test_a_refused_sale_offers_a_fresh_quote_that_confirm_sells(
    emulator: DiscordEmulator, bot: BotProcess, people: Personas, discord_guild: GuildSetup
) -> None:
    market = open_market(discord_guild, people.alice, "Library open Sundays?", ["Yes", "No"])
    buys(discord_guild, people.alice, market, 0, 200)
    alice = member_row(discord_guild, people.alice)
    half = trades(market, people.alice, TradeSide.BUY)[0].shares / 2

    asked = emulator.slash(
        people.alice, "sell", market=str(market.pk), outcome="Yes", shares=str(half)
    )
    shown = emulator.wait_for_reply(asked, contains="Confirm your sale")
    stale_points = int(confirm_fields(shown)[3])
    buys(discord_guild, people.bob, market, 1, 500)  # "Yes" is worth less now
    fresh = sell_quote(member=alice, market_id=market.pk, outcome_index=0, shares=half)
    assert fresh.points_out < stale_points

    refused = emulator.wait_for_reply(
        emulator.click(people.alice, shown, "Confirm"), contains="price moved"
    )

    assert "Confirm your sale" in message_text(refused)
    market_id, index, amount, floor, _ = confirm_fields(refused)
    assert (int(market_id), int(index), Decimal(amount)) == (market.pk, 0, half)
    assert int(floor) == fresh.points_out
    assert trades(market, people.alice, TradeSide.SELL) == []

    done = emulator.wait_for_reply(
        emulator.click(people.alice, refused, "Confirm"), contains="Sold"
    )

    assert done["components"] == []
    [sale] = trades(market, people.alice, TradeSide.SELL)
    assert sale.shares == half and sale.points >= fresh.points_out
