"""An answer typed instead of picked means what the member reads: its label, or its number from 1.

Members see answers numbered from 1 and labelled; they never see the 0-based
index the services use. So ``/bet outcome:2`` on "Red / Green / Blue" is Green,
and on "1 / 2 / 3" typing ``1`` is the answer labelled "1" (a label wins over
a number). Autocomplete's own values keep meaning the answer they were shown for.
"""

from __future__ import annotations

import pytest

from betting.models import Trade
from markets.models import Market
from markets.services import market_close
from tests.botrunner.e2e.bot_process import BotProcess
from tests.botrunner.e2e.conftest import Personas, open_market
from tests.botrunner.e2e.flows import embed_description, quote
from tests.discord_emulator import DiscordEmulator, GuildSetup, message_text

pytestmark = [
    pytest.mark.discord_e2e,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]


def bet_and_confirm(
    emulator: DiscordEmulator, people: Personas, market: Market, typed: str
) -> tuple[str, Trade]:
    shown = quote(emulator, people.alice, market.pk, typed, 50)
    description = embed_description(shown)
    done = emulator.wait_for_reply(
        emulator.click(people.alice, shown, "Confirm"), contains="Bought"
    )
    trade = Trade.objects.get(market=market)
    assert trade.outcome.label in done["content"]
    return description, trade


def test_a_typed_number_is_the_answer_numbered_so_from_1(
    emulator: DiscordEmulator, bot: BotProcess, people: Personas, discord_guild: GuildSetup
) -> None:
    market = open_market(
        discord_guild, people.alice, "Which colour wins?", ["Red", "Green", "Blue"]
    )

    description, trade = bet_and_confirm(emulator, people, market, "2")

    assert description.startswith("**Green**")
    assert trade.outcome.label == "Green"


def test_an_answer_labelled_with_a_number_wins_over_the_number(
    emulator: DiscordEmulator, bot: BotProcess, people: Personas, discord_guild: GuildSetup
) -> None:
    # Typing 1 could mean the answer labelled "1" (third), the first answer ("2"),
    # or index 1 ("3"): only the label is what the member means.
    market = open_market(discord_guild, people.alice, "How many goals?", ["2", "3", "1"])

    description, trade = bet_and_confirm(emulator, people, market, " 1 ")

    assert description.startswith("**1**")
    assert trade.outcome.label == "1"


def test_a_label_is_read_whatever_its_case(
    emulator: DiscordEmulator, bot: BotProcess, people: Personas, discord_guild: GuildSetup
) -> None:
    market = open_market(discord_guild, people.alice, "Which fruit?", ["Apple", "Pear"])

    description, trade = bet_and_confirm(emulator, people, market, "  pEAR ")

    assert description.startswith("**Pear**")  # the quote names the answer it will buy
    assert trade.outcome.label == "Pear"


def test_an_answer_picked_from_autocomplete_is_the_one_shown(
    emulator: DiscordEmulator, bot: BotProcess, people: Personas, discord_guild: GuildSetup
) -> None:
    market = open_market(discord_guild, people.alice, "Which day?", ["3", "2", "1"])
    typing = emulator.autocomplete(
        people.alice, "bet", focused="outcome", market=str(market.pk), outcome="", amount=50
    )
    choices = emulator.wait_for_callback(typing).data["choices"]
    picked = next(c["value"] for c in choices if c["name"].startswith("1 "))

    description, trade = bet_and_confirm(emulator, people, market, picked)

    assert description.startswith("**1**")
    assert trade.outcome.label == "1"


def test_a_number_past_the_answers_names_them_in_members_terms(
    emulator: DiscordEmulator, bot: BotProcess, people: Personas, discord_guild: GuildSetup
) -> None:
    market = open_market(discord_guild, people.alice, "Best season?", ["Spring", "Summer", "Fall"])

    asked = emulator.slash(people.alice, "bet", market=str(market.pk), outcome="5", amount=50)
    refused = emulator.wait_for_reply(asked, contains="no answer")

    assert refused["content"].endswith(
        "This market has no answer 5: choose 1 to 3, or type the answer."
    )
    assert refused["components"] == []  # no quote, nothing to confirm
    zero = emulator.slash(people.alice, "bet", market=str(market.pk), outcome="0", amount=50)
    assert "choose 1 to 3" in message_text(emulator.wait_for_reply(zero, contains="no answer"))
    assert not Trade.objects.filter(market=market).exists()


def test_a_moderator_typing_a_number_votes_for_that_answer(
    emulator: DiscordEmulator, bot: BotProcess, people: Personas, discord_guild: GuildSetup
) -> None:
    market = open_market(discord_guild, people.alice, "Who finishes first?", ["Ann", "Ben", "Cy"])
    market_close(market_id=market.pk, actor="system:e2e")

    voted = emulator.slash(people.mod_one, "resolve", market=str(market.pk), outcome="3")
    reply = emulator.wait_for_reply(voted, contains="vote")

    assert "Your vote for **Cy**" in reply["content"], reply["content"]
