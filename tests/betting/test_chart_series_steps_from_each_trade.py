"""``chart_series``: each line steps at every trade and runs on to the chart's right edge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from betting.charts_svg import chart_series
from markets.selectors import PriceHistoryPoint

OPENED = datetime(2026, 1, 1, tzinfo=UTC)


def _point(seconds: int, *probabilities: str) -> PriceHistoryPoint:
    return PriceHistoryPoint(
        at=OPENED + timedelta(seconds=seconds), probabilities=[Decimal(p) for p in probabilities]
    )


def test_each_line_holds_its_price_until_the_next_trade_then_runs_to_now() -> None:
    history = [_point(0, "0.5", "0.5"), _point(30, "0.75", "0.25"), _point(60, "0.6", "0.4")]

    yes, no = chart_series(
        ["Yes", "No"], history, until=OPENED + timedelta(seconds=120), width=600, height=200
    )

    # x: seconds / 120 * 600; y: 200 - p * 200; a hold point before each new price.
    assert yes.points == "0.0,100.0 150.0,100.0 150.0,50.0 300.0,50.0 300.0,80.0 600.0,80.0"
    assert no.points == "0.0,100.0 150.0,100.0 150.0,150.0 300.0,150.0 300.0,120.0 600.0,120.0"
    assert (yes.label, yes.last, no.label, no.last) == ("Yes", Decimal("0.6"), "No", Decimal("0.4"))
    assert yes.dash != no.dash and yes.colour != no.colour  # never colour alone


def test_a_chart_past_its_close_is_scaled_to_its_last_trade() -> None:
    history = [_point(0, "0.5", "0.5"), _point(100, "0.25", "0.75")]

    [line, _] = chart_series(["A", "B"], history, until=OPENED, width=100, height=100)

    assert line.points == "0.0,50.0 100.0,50.0 100.0,75.0 100.0,75.0"


def test_no_history_draws_nothing() -> None:
    assert chart_series(["A", "B"], [], until=OPENED) == []
