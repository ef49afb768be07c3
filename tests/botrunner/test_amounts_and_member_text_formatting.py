"""``botrunner.text``: amounts with thousands grouped; member text that cannot become a block."""

from __future__ import annotations

from decimal import Decimal

import pytest

from botrunner.text import escape_line_starts, points, safe, shares


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (7, "7"),
        (1_234_567, "1,234,567"),
        (-12_000, "-12,000"),
        (Decimal("13195.97"), "13,195.97"),
        (Decimal("1000.00"), "1,000.00"),
    ],
)
def test_points_group_the_thousands_and_keep_decimals(value, shown) -> None:
    assert points(value) == shown


def test_a_signed_amount_shows_its_sign() -> None:
    assert points(Decimal("850.97"), sign=True) == "+850.97"
    assert points(-1_500, sign=True) == "-1,500"


def test_shares_keep_two_decimals() -> None:
    assert shares(Decimal("13270.0712")) == "13,270.07"
    assert shares(Decimal("0.5")) == "0.50"


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ("# Big news", r"\# Big news"),
        ("## Two", r"\## Two"),
        ("### Three", r"\### Three"),
        ("-# small print", r"\-# small print"),
        ("> quoted", r"\> quoted"),
        (">>> quoted block", r"\>>> quoted block"),
        ("- item", r"\- item"),
        ("* item", r"\* item"),
        ("+ item", r"\+ item"),
        ("1. first", r"1\. first"),
        ("12. twelfth", r"12\. twelfth"),
        ("  # indented", r"\# indented"),
    ],
)
def test_a_leading_block_marker_is_escaped(typed, shown) -> None:
    assert safe(typed) == shown


@pytest.mark.parametrize(
    "typed", ["#hashtag", "#### four is not a heading", "1.5 goals", "-1 points", "a # b", "a - b"]
)
def test_text_that_is_no_block_is_left_alone(typed) -> None:
    assert safe(typed) == typed


def test_every_line_of_a_longer_text_is_covered() -> None:
    assert (
        escape_line_starts("ok\n# heading\n- item\n2. two") == "ok\n\\# heading\n\\- item\n2\\. two"
    )


def test_a_line_break_cannot_open_a_new_block() -> None:
    assert safe("fine\r\n# not a heading\n> nor a quote") == "fine # not a heading > nor a quote"
