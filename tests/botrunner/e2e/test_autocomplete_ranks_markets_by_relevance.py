"""The market option's autocomplete ranks what was typed: the best match first, open first.

Through the emulator's autocomplete interactions to the real bot process: an
old open market whose question starts with the typed word is suggested first,
ahead of thirty newer markets that match it less well, and never more than
Discord's 25 choices of at most 100 characters each.
"""

from __future__ import annotations

from typing import Any

import pytest

from markets.services import market_close
from tests.botrunner.e2e.bot_process import BotProcess
from tests.botrunner.e2e.conftest import Personas, open_market
from tests.discord_emulator import DiscordEmulator, GuildSetup

pytestmark = [
    pytest.mark.discord_e2e,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]


def suggested(emulator: DiscordEmulator, record: Any) -> list[dict[str, str]]:
    callback = emulator.wait_for_callback(record)
    assert callback.type == 8  # APPLICATION_COMMAND_AUTOCOMPLETE_RESULT
    choices = callback.data["choices"]
    assert len(choices) <= 25
    assert all(1 <= len(c["name"]) <= 100 and len(c["value"]) <= 100 for c in choices)
    return choices


def test_an_old_open_market_that_matches_well_beats_thirty_newer_ones(
    emulator: DiscordEmulator, bot: BotProcess, people: Personas, discord_guild: GuildSetup
) -> None:
    wanted = open_market(discord_guild, people.alice, "Rain on Saturday?", ["Yes", "No"])
    word_prefix = [
        open_market(discord_guild, people.bob, f"Will it rain in town {n}?", ["Yes", "No"])
        for n in range(20)
    ]
    substring = [
        open_market(discord_guild, people.bob, f"Is drain {n} fixed by May?", ["Yes", "No"])
        for n in range(8)
    ]
    closed_prefix = [
        open_market(discord_guild, people.bob, f"Rainfall record {n}?", ["Yes", "No"])
        for n in range(2)
    ]
    for market in closed_prefix:
        market_close(market_id=market.pk, actor="system:e2e")
    long_one = open_market(
        discord_guild, people.bob, "Will it rain " + "and pour " * 50 + "?", ["Yes", "No"]
    )

    betting = suggested(
        emulator,
        emulator.autocomplete(people.alice, "bet", focused="market", market="rain", amount=10),
    )
    assert betting[0]["value"] == str(wanted.pk)
    assert betting[0]["name"] == f"#{wanted.pk} Rain on Saturday?"
    # Then the markets with a word starting "rain" (newest first), then the rest.
    values = [int(c["value"]) for c in betting]
    assert values[1:22] == [long_one.pk, *(m.pk for m in reversed(word_prefix))]
    assert not {m.pk for m in closed_prefix} & set(values)  # /bet offers open markets only

    showing = suggested(
        emulator,
        emulator.autocomplete(people.alice, "market show", focused="market", market="RAIN"),
    )
    values = [int(c["value"]) for c in showing]
    # Question prefix first, open before closed; then word prefixes; then substrings.
    assert values[:3] == [wanted.pk, *(m.pk for m in reversed(closed_prefix))]
    assert "(closed)" in showing[1]["name"]
    assert values[3] == long_one.pk and values[4] == word_prefix[-1].pk
    assert len(values) == 25 and values[24] == substring[-1].pk

    by_number = suggested(
        emulator,
        emulator.autocomplete(
            people.alice, "market show", focused="market", market=f"#{substring[0].pk}"
        ),
    )
    assert by_number[0]["value"] == str(substring[0].pk)  # the exact number, first
