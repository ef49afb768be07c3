"""Members sell shares they hold back to the market maker; never more than they hold."""

from __future__ import annotations

from decimal import Decimal

import pytest

from betting.models import Position, Trade, TradeSide
from betting.services import InsufficientShares, sell_quote
from markets.models import Market
from points.models import Member
from predictmarket.errors import ValidationFailed
from tests.betting.helpers import bet, betting_state, sell, shares_held
from tests.markets.helpers import (
    assert_ledger_sound,
    balance_of,
    escrow_of,
    make_market,
    pools_of,
    refused,
)


def test_it_refuses_to_sell_more_shares_than_held(market: Market, bettor: Member) -> None:
    held = bet(bettor, market, 0, 100).shares
    before = betting_state()

    with refused(InsufficientShares):
        sell(bettor, market, 0, held + Decimal("0.000001"))
    with refused(InsufficientShares):
        sell(bettor, market, 1, "1")  # holds none of "No"
    with refused(InsufficientShares):
        sell(bettor, market, 1, "all")

    assert betting_state() == before
    assert shares_held(bettor, market, 0) == held


# "1e100": found by schemathesis, once a 500 (too many digits to round to 6 places).
@pytest.mark.parametrize("shares", ["0", "-3", "lots", "NaN", "Infinity", "1e100", "1e15"])
def test_it_refuses_a_share_count_that_is_not_a_positive_number(
    market: Market, bettor: Member, shares: str
) -> None:
    bet(bettor, market, 0, 100)
    before = betting_state()
    with refused(ValidationFailed):
        sell(bettor, market, 0, shares)
    assert betting_state() == before


def test_it_sells_all_shares(market: Market, bettor: Member) -> None:
    bought = bet(bettor, market, 0, 300)
    balance = balance_of(bettor)
    escrow = escrow_of(market)
    quote = sell_quote(member=bettor, market_id=market.pk, outcome_index=0, shares="all")

    sold = sell(bettor, market, 0, "all")

    assert sold.shares == bought.shares
    assert sold.points == quote.points_out
    assert 0 < sold.points < 300  # the round trip costs a little: rounding favours the pool
    assert shares_held(bettor, market, 0) == 0
    assert balance_of(bettor) == balance + sold.points == sold.balance
    assert escrow_of(market) == escrow - sold.points
    assert pools_of(market) == list(quote.pools_after)
    trade = Trade.objects.get(pk=sold.trade.pk)
    assert (trade.side, trade.points, trade.shares) == (TradeSide.SELL, sold.points, bought.shares)
    position = Position.objects.get(member=bettor, outcome__index=0)
    assert (position.points_spent, position.points_received) == (300, sold.points)
    assert_ledger_sound()


def test_it_sells_part_of_a_position(market: Market, bettor: Member) -> None:
    bought = bet(bettor, market, 1, 200)
    sell(bettor, market, 1, "10.5")
    assert shares_held(bettor, market, 1) == bought.shares - Decimal("10.5")


@pytest.mark.parametrize(
    "amounts",
    [
        pytest.param((1, 13), id="bets-1-and-13"),
        pytest.param((2, 12), id="bets-2-and-12"),
        pytest.param((2, 22), id="bets-2-and-22"),
    ],
)
def test_it_sells_all_of_a_position_built_from_several_bets(
    creator: Member, bettor: Member, amounts: tuple[int, ...]
) -> None:
    """Selling "all" empties the position whatever the bets that built it.

    The position must add up its bets exactly: shares kept as binary floating
    point (SQLite stores DECIMAL columns as REAL) can sum to a hair less than
    the shares the member is shown and sells, and the sale then breaks the
    position's shares >= 0 constraint.
    """
    market = make_market(creator)
    start = balance_of(bettor)
    bought = sum((bet(bettor, market, 0, amount).shares for amount in amounts), Decimal(0))
    assert shares_held(bettor, market, 0) == bought

    sold = sell(bettor, market, 0, "all")

    assert sold.shares == bought
    assert shares_held(bettor, market, 0) == 0
    assert balance_of(bettor) == start - sum(amounts) + sold.points
    assert_ledger_sound()
