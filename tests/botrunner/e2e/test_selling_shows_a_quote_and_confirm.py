"""``/sell`` first shows what the sale would pay; only Confirm sells, once, at no worse a price."""

from __future__ import annotations

from decimal import Decimal

import pytest

from betting.models import Position, Trade, TradeSide
from betting.services import bet_place, sell_quote
from markets.models import Market
from tests.botrunner.e2e.bot_process import BotProcess
from tests.botrunner.e2e.conftest import Personas, member_row, open_market
from tests.botrunner.e2e.flows import EPHEMERAL
from tests.discord_emulator import DiscordEmulator, GuildSetup, message_text

pytestmark = [
    pytest.mark.discord_e2e,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]


def buys(guild: GuildSetup, persona, market: Market, outcome: int, amount: int) -> None:
    bet_place(
        member=member_row(guild, persona),
        market_id=market.pk,
        outcome_index=outcome,
        amount=amount,
        idempotency_key=f"e2e:{persona.username}:{market.pk}:{outcome}:{amount}",
        bypass_rate_limit=True,
    )


def held(guild: GuildSetup, persona, market: Market, label: str) -> Decimal:
    return Position.objects.get(
        member=member_row(guild, persona), outcome__market=market, outcome__label=label
    ).shares


def sells(market: Market) -> list[Trade]:
    return list(Trade.objects.filter(market=market, side=TradeSide.SELL))


def button_labels(message: dict) -> list[str]:
    return [c["label"] for row in message["components"] for c in row["components"]]


def test_sell_shows_what_it_pays_and_confirm_sells_once(
    emulator: DiscordEmulator, bot: BotProcess, people: Personas, discord_guild: GuildSetup
) -> None:
    market = open_market(discord_guild, people.alice, "Final score?", ["2", "1", "3"])
    buys(discord_guild, people.alice, market, 1, 100)  # the answer labelled "1"
    buys(discord_guild, people.alice, market, 0, 60)  # and some of "2", which must stay
    mine = held(discord_guild, people.alice, market, "1")
    expected = sell_quote(
        member=member_row(discord_guild, people.alice),
        market_id=market.pk,
        outcome_index=1,
        shares="all",
    ).points_out

    asked = emulator.slash(people.alice, "sell", market=str(market.pk), outcome="1")
    shown = emulator.wait_for_reply(asked, contains="Confirm your sale")

    assert int(shown["flags"]) & EPHEMERAL
    text = message_text(shown)
    assert "**1**" in text  # the answer the member meant, by its label
    assert f"{expected} points" in text
    assert button_labels(shown) == ["Confirm", "Cancel"]
    assert sells(market) == []  # a quote sells nothing

    first = emulator.click(people.alice, shown, "Confirm")
    second = emulator.click(people.alice, shown, "Confirm")  # a double click
    done = emulator.wait_for_reply(first, contains="Sold")
    emulator.wait_for_reply(second, contains="Sold")

    assert "**1**" in done["content"] and f"{expected} points" in done["content"]
    assert done["components"] == []
    [sale] = sells(market)
    assert (sale.outcome.label, sale.shares, sale.points) == ("1", mine, expected)
    assert held(discord_guild, people.alice, market, "1") == 0
    assert held(discord_guild, people.alice, market, "2") > 0


def test_a_price_that_moved_refuses_the_sale(
    emulator: DiscordEmulator, bot: BotProcess, people: Personas, discord_guild: GuildSetup
) -> None:
    market = open_market(discord_guild, people.alice, "Tram line by 2030?", ["Yes", "No"])
    buys(discord_guild, people.alice, market, 0, 200)
    mine = held(discord_guild, people.alice, market, "Yes")

    asked = emulator.slash(
        people.alice, "sell", market=str(market.pk), outcome="yes", shares=str(mine / 2)
    )
    shown = emulator.wait_for_reply(asked, contains="Confirm your sale")
    buys(discord_guild, people.bob, market, 1, 500)  # "Yes" is worth less now

    refused = emulator.wait_for_reply(
        emulator.click(people.alice, shown, "Confirm"), contains="price moved"
    )

    assert "price moved" in message_text(refused)
    assert sells(market) == []
    assert held(discord_guild, people.alice, market, "Yes") == mine


def test_cancel_sells_nothing(
    emulator: DiscordEmulator, bot: BotProcess, people: Personas, discord_guild: GuildSetup
) -> None:
    market = open_market(discord_guild, people.alice, "Pool open in May?", ["Yes", "No"])
    buys(discord_guild, people.alice, market, 1, 80)

    asked = emulator.slash(people.alice, "sell", market=str(market.pk), outcome="2")
    shown = emulator.wait_for_reply(asked, contains="Confirm your sale")
    cancelled = emulator.wait_for_reply(
        emulator.click(people.alice, shown, "Cancel"), contains="cancelled"
    )

    assert cancelled["components"] == []
    assert sells(market) == []
