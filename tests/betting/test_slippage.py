"""A trade carrying its quote's minimum is refused, charging nothing, if the price moved."""

from __future__ import annotations

from betting.services import SlippageExceeded, bet_quote, sell_quote
from markets.models import Market
from points.models import Member
from tests.betting.helpers import bet, betting_state, sell, shares_held
from tests.markets.helpers import balance_of, refused


def test_it_refuses_a_bet_whose_price_moved_below_min_shares(
    market: Market, bettor: Member, rival: Member
) -> None:
    quote = bet_quote(market_id=market.pk, outcome_index=0, amount=200)
    bet(rival, market, 0, 300)  # someone else buys "Yes" first: it is dearer now
    start = balance_of(bettor)
    before = betting_state()

    with refused(SlippageExceeded) as info:
        bet(bettor, market, 0, 200, min_shares=quote.shares)

    assert betting_state() == before
    assert balance_of(bettor) == start
    assert shares_held(bettor, market, 0) == 0
    assert info.value.details["min_shares"] == str(quote.shares)


def test_it_accepts_a_bet_at_its_quoted_min_shares(market: Market, bettor: Member) -> None:
    quote = bet_quote(market_id=market.pk, outcome_index=0, amount=200)
    result = bet(bettor, market, 0, 200, min_shares=quote.shares)
    assert result.shares == quote.shares


def test_it_refuses_a_sale_whose_price_moved_below_min_points(
    market: Market, bettor: Member, rival: Member
) -> None:
    bet(bettor, market, 0, 300)
    quote = sell_quote(member=bettor, market_id=market.pk, outcome_index=0, shares="all")
    bet(rival, market, 1, 400)  # "Yes" is cheaper now: the shares fetch less
    before = betting_state()

    with refused(SlippageExceeded):
        sell(bettor, market, 0, "all", min_points=quote.points_out)

    assert betting_state() == before
