"""Answers typed one per line in the market creation form."""

from __future__ import annotations

import pytest

from botrunner.parsing import parse_options
from predictmarket.errors import ValidationFailed


def test_it_reads_one_answer_per_line_and_drops_blank_lines() -> None:
    assert parse_options("Yes\n\n  No  \n\n") == ["Yes", "No"]
    assert parse_options("Red\r\nGreen\r\nBlue") == ["Red", "Green", "Blue"]


def test_it_accepts_ten_answers() -> None:
    text = "\n".join(f"option {n}" for n in range(10))
    assert len(parse_options(text)) == 10


def test_it_rejects_duplicates_ignoring_case() -> None:
    with pytest.raises(ValidationFailed) as info:
        parse_options("Yes\nNo\nyes")
    assert "Answer 3 ('yes') repeats answer 1" in info.value.message


def test_it_rejects_more_than_ten_answers() -> None:
    with pytest.raises(ValidationFailed) as info:
        parse_options("\n".join(f"option {n}" for n in range(11)))
    assert "at most 10 answers (got 11)" in info.value.message


@pytest.mark.parametrize("text", ["", "Only one", "\n\nYes\n\n"])
def test_it_rejects_fewer_than_two_answers(text: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        parse_options(text)
    assert "at least 2 answers" in info.value.message


def test_it_rejects_an_answer_longer_than_100_characters() -> None:
    with pytest.raises(ValidationFailed) as info:
        parse_options("Yes\n" + "x" * 101)
    assert "Answer 2 is 101 characters long" in info.value.message
