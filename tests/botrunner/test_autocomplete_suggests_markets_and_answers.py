"""Autocomplete suggests the guild's markets and a market's answers, never failing loudly."""

from __future__ import annotations

import pytest
from nextcord import InteractionType

from botrunner.autocomplete import OPEN_ONLY, suggest_markets, suggest_outcomes
from markets.services import market_close
from tests.botrunner.conftest import run
from tests.botrunner.fakes import FakeGuild, FakeInteraction

pytestmark = pytest.mark.django_db(transaction=True)


def _typing(user, guild) -> FakeInteraction:
    return FakeInteraction(
        user=user, guild=guild, type=InteractionType.application_command_autocomplete
    )


def test_markets_are_suggested_by_words_or_number(discord_guild, market, bob) -> None:
    by_words = _typing(bob, discord_guild)
    run(suggest_markets(by_words, "1,000 members", None))
    assert by_words.choices == {f"#{market.pk} {market.question}": str(market.pk)}
    by_number = _typing(bob, discord_guild)
    run(suggest_markets(by_number, f"#{market.pk}", None))
    assert list(by_number.choices.values()) == [str(market.pk)]


def test_closed_markets_are_not_suggested_for_betting(discord_guild, market, bob) -> None:
    market_close(market_id=market.pk, actor="test")
    interaction = _typing(bob, discord_guild)
    run(suggest_markets(interaction, "", OPEN_ONLY))
    assert interaction.choices == {}


def test_another_guilds_markets_are_not_suggested(market, bob) -> None:
    elsewhere = _typing(bob, FakeGuild(id=760_000_000_000_000_999))
    run(suggest_markets(elsewhere, "", None))
    assert elsewhere.choices == {}


def test_answers_come_with_their_probability(discord_guild, market, bob) -> None:
    interaction = _typing(bob, discord_guild)
    run(suggest_outcomes(interaction, "", str(market.pk)))
    assert interaction.choices == {"Yes (50.0%)": "pm-answer:0", "No (50.0%)": "pm-answer:1"}
    resolving = _typing(bob, discord_guild)
    run(suggest_outcomes(resolving, "n", str(market.pk), with_cancel=True))
    assert resolving.choices == {
        "No (50.0%)": "pm-answer:1",
        "Cancel the market (unwind all trades)": "cancel",
    }


def test_an_unreadable_market_suggests_nothing(discord_guild, market, bob) -> None:
    interaction = _typing(bob, discord_guild)
    run(suggest_outcomes(interaction, "", "not a market"))
    assert interaction.choices == {}
