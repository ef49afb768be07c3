"""Every rule for a new market's input refuses bad input and writes nothing; limits included."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from markets.services import market_create
from points.models import Member
from predictmarket.errors import ValidationFailed
from tests.markets.helpers import money_state, refused

VALID: dict[str, Any] = {
    "question": "Will the game jam have more than 20 entries?",
    "options": ["Yes", "No"],
    "duration": timedelta(days=2),
    "category": "events",
}


def _create(creator: Member, **changes: Any) -> Any:
    return market_create(
        creator=creator, actor=f"discord:{creator.discord_id}", **{**VALID, **changes}
    )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        pytest.param({"question": ""}, "question", id="question-empty"),
        pytest.param({"question": "   \n "}, "question", id="question-only-spaces"),
        pytest.param({"question": "q" * 501}, "question", id="question-501-chars"),
        pytest.param({"options": ["Yes"]}, "options", id="one-option"),
        pytest.param({"options": []}, "options", id="no-options"),
        pytest.param({"options": [f"option {n}" for n in range(11)]}, "options", id="11-options"),
        pytest.param({"options": ["Yes", "  "]}, "options", id="blank-option"),
        pytest.param({"options": ["Yes", " yES "]}, "options", id="duplicate-option-case-trim"),
        pytest.param({"options": ["Yes", "o" * 101]}, "options", id="option-101-chars"),
        pytest.param({"options": "Yes,No"}, "options", id="options-a-string"),
        pytest.param({"duration": timedelta(seconds=59)}, "duration", id="duration-59s"),
        pytest.param(
            {"duration": timedelta(days=30, seconds=1)}, "duration", id="duration-30d-plus-1s"
        ),
        pytest.param({"duration": timedelta(0)}, "duration", id="duration-zero"),
        pytest.param({"category": "c" * 51}, "category", id="category-51-chars"),
    ],
)
def test_it_refuses_invalid_market_input_and_writes_nothing(
    creator: Member, changes: dict[str, Any], field: str
) -> None:
    before = money_state()
    with refused(ValidationFailed) as info:
        _create(creator, **changes)
    assert info.value.details.get("field") == field
    assert money_state() == before


def test_it_accepts_input_exactly_at_every_limit(creator: Member) -> None:
    at_limits = [
        {"question": "q" * 500},
        {"options": [f"option {n}" for n in range(10)]},
        {"options": ["Yes", "o" * 100]},
        {"options": ["  Yes  ", "No"]},
        {"duration": timedelta(minutes=1)},
        {"duration": timedelta(days=30)},
        {"category": "c" * 50},
    ]
    for changes in at_limits:
        market = _create(creator, **changes)
        assert market.outcomes.count() == len(changes.get("options", VALID["options"]))
    labels = [
        list(m.outcomes.values_list("label", flat=True)) for m in creator.created_markets.all()
    ]
    assert ["Yes", "No"] in labels  # trimmed before it was stored
