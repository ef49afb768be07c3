"""Durations members type when creating a market: 45m, 2h, 3d, 1d12h."""

from __future__ import annotations

from datetime import timedelta

import pytest

from botrunner.parsing import parse_duration
from predictmarket.errors import ValidationFailed


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("45m", timedelta(minutes=45)),
        ("2h", timedelta(hours=2)),
        ("3d", timedelta(days=3)),
        ("1d12h", timedelta(days=1, hours=12)),
        ("1d 6h 30m", timedelta(days=1, hours=6, minutes=30)),
        (" 2H ", timedelta(hours=2)),
        ("1m", timedelta(minutes=1)),
        ("30d", timedelta(days=30)),
        ("90m", timedelta(minutes=90)),
    ],
)
def test_it_reads_days_hours_and_minutes(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0m", "at least 1 minute"),
        ("31d", "at most 30 days"),
        ("29d25h", "at most 30 days"),
        ("abc", "could not read"),
        ("", "could not read"),
        ("   ", "could not read"),
        ("2", "could not read"),
        ("2h30", "could not read"),
        ("-1h", "could not read"),
        ("1.5h", "could not read"),
        ("1w", "could not read"),
    ],
)
def test_it_rejects_what_is_not_a_duration_in_range(text: str, message: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        parse_duration(text)
    assert message in info.value.message
