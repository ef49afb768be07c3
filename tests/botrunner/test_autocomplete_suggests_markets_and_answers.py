"""Autocomplete suggests the guild's markets and a market's answers, never failing loudly."""

from __future__ import annotations

from datetime import timedelta

import pytest
from nextcord import InteractionType

from botrunner.autocomplete import (
    OPEN_ONLY,
    suggest_categories,
    suggest_markets,
    suggest_outcomes,
)
from markets.services import market_close, market_create
from tests.botrunner.conftest import member_for, run
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


def _markets(guild, user, questions: list[str]) -> list:
    creator = member_for(user, guild)
    return [
        market_create(
            creator=creator,
            question=question,
            options=["Yes", "No"],
            duration=timedelta(days=1),
            category=category,
            actor="test",
            bypass_rate_limit=True,
        )
        for question, category in ((q, q.split()[-1].strip("?")) for q in questions)
    ]


def test_markets_are_ranked_by_how_well_they_match_then_by_openness(
    guild, discord_guild, bob
) -> None:
    substring, word, closed_prefix, prefix, newest = _markets(
        guild,
        bob,
        ["Is the drain fixed?", "Will it rain?", "Rainy May?", "Rain in June?", "Sun or clouds?"],
    )
    market_close(market_id=closed_prefix.pk, actor="test")
    typing = _typing(bob, discord_guild)
    run(suggest_markets(typing, "  rain ", None))
    assert list(typing.choices.values()) == [
        str(m.pk) for m in (prefix, closed_prefix, word, substring)
    ]
    assert f"#{closed_prefix.pk} (closed) Rainy May?" in typing.choices
    by_number = _typing(bob, discord_guild)
    run(suggest_markets(by_number, str(newest.pk), None))
    assert next(iter(by_number.choices.values())) == str(newest.pk)
    nothing_typed = _typing(bob, discord_guild)
    run(suggest_markets(nothing_typed, "", None))
    assert list(nothing_typed.choices.values())[-1] == str(closed_prefix.pk)  # open ones first


def test_a_long_question_is_cut_to_discords_100_characters(guild, discord_guild, bob) -> None:
    [long_one] = _markets(guild, bob, ["Will\nit " + "really " * 60 + "rain?"])
    typing = _typing(bob, discord_guild)
    run(suggest_markets(typing, "rain", None))
    [name] = typing.choices
    assert len(name) == 100 and name.startswith(f"#{long_one.pk} Will it really")
    assert "\n" not in name


def test_a_huge_number_is_read_as_text(guild, discord_guild, market, bob) -> None:
    typing = _typing(bob, discord_guild)
    run(suggest_markets(typing, "9" * 40, None))
    assert typing.choices == {}


def test_categories_are_suggested_once_each_from_this_guild(
    guild, discord_guild, bob, market
) -> None:
    _markets(guild, bob, ["Derby A Sports?", "Derby B sports?", "Cup E-sports?", "Rain Weather?"])
    typing = _typing(bob, discord_guild)
    run(suggest_categories(typing, "SPORTS"))
    assert list(typing.choices) == ["Sports", "E-sports"]  # starting with it first
    everything = _typing(bob, discord_guild)
    run(suggest_categories(everything, ""))
    assert list(everything.choices) == ["E-sports", "server", "Sports", "Weather"]
    elsewhere = _typing(bob, FakeGuild(id=760_000_000_000_000_999))
    run(suggest_categories(elsewhere, ""))
    assert elsewhere.choices == {}
