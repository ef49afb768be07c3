"""What a member types for an answer: its label, or its number counted from 1, never an index."""

from __future__ import annotations

from datetime import timedelta

import pytest

from botrunner.reads import outcome_index, picked_value
from markets.models import Market
from markets.services import market_create
from points.models import Guild
from predictmarket.errors import NotFound, ValidationFailed
from tests.botrunner.conftest import member_for

pytestmark = pytest.mark.django_db(transaction=True)


def _market(guild: Guild, alice, options: list[str]) -> Market:
    return market_create(
        creator=member_for(alice, guild),
        question="Which one?",
        options=options,
        duration=timedelta(days=1),
        actor="test",
        bypass_rate_limit=True,
    )


def _read(market: Market, typed: str) -> str:
    index = outcome_index(guild_id=market.guild_id, market_id=market.pk, typed=typed)
    return market.outcomes.get(index=index).label


@pytest.mark.parametrize(
    ("typed", "label"),
    [("1", "Red"), ("2", "Green"), (" 3 ", "Blue"), ("green", "Green"), ("  BLUE ", "Blue")],
)
def test_numbers_count_from_1_and_labels_ignore_case(guild, alice, typed, label) -> None:
    assert _read(_market(guild, alice, ["Red", "Green", "Blue"]), typed) == label


def test_an_exact_label_wins_over_a_number(guild, alice) -> None:
    market = _market(guild, alice, ["2", "3", "1"])
    assert [_read(market, typed) for typed in ("1", "2", "3")] == ["1", "2", "3"]


def test_an_autocomplete_value_is_the_answer_it_was_shown_for(guild, alice) -> None:
    market = _market(guild, alice, ["3", "2", "1"])
    assert [_read(market, picked_value(i)) for i in range(3)] == ["3", "2", "1"]


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("0", "This market has no answer 0: choose 1 to 3, or type the answer."),
        ("4", "This market has no answer 4: choose 1 to 3, or type the answer."),
        ("Purple", "This market has no answer “Purple”: choose 1 to 3, or type the answer."),
        ("pm-answer:7", "no answer “pm-answer:7”: choose 1 to 3"),
        ("", "choose 1 to 3, or type the answer."),
    ],
)
def test_an_unknown_answer_is_refused_in_members_terms(guild, alice, typed, message) -> None:
    market = _market(guild, alice, ["Red", "Green", "Blue"])
    with pytest.raises(ValidationFailed) as refused:
        outcome_index(guild_id=market.guild_id, market_id=market.pk, typed=typed)
    assert message in refused.value.message


def test_a_market_of_another_server_is_not_found(guild, alice) -> None:
    market = _market(guild, alice, ["Yes", "No"])
    with pytest.raises(NotFound):
        outcome_index(guild_id=guild.pk + 1, market_id=market.pk, typed="1")
