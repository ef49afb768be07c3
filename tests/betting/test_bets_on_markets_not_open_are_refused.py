"""Betting stops when a market closes, is resolved or cancelled, and at closes_at exactly."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from betting.services import bet_quote
from markets.models import Market, MarketStatus
from markets.services import market_cancel, market_close
from points.models import Member
from predictmarket.errors import InvalidState
from tests.betting.helpers import bet, betting_state, sell, shares_held
from tests.markets.helpers import MODERATORS, balance_of, decide, make_market, refused

START = datetime(2030, 7, 1, 18, 0, tzinfo=UTC)


def _closed(market: Market) -> None:
    market_close(market_id=market.pk, actor=MODERATORS[0])


def _resolved(market: Market) -> None:
    decide(market, outcome_index=0)


def _cancelled(market: Market) -> None:
    market_cancel(market_id=market.pk, actor=MODERATORS[0], is_moderator=True)


@pytest.mark.parametrize(
    ("make_it", "status"),
    [
        pytest.param(_closed, MarketStatus.CLOSED, id="closed"),
        pytest.param(_resolved, MarketStatus.RESOLVED, id="resolved"),
        pytest.param(_cancelled, MarketStatus.CANCELLED, id="cancelled"),
    ],
)
def test_it_refuses_a_bet_or_a_sale_on_a_market_that_is_not_open(
    market: Market, bettor: Member, make_it: Callable[[Market], None], status: str
) -> None:
    bet(bettor, market, 0, 100)
    make_it(market)
    market.refresh_from_db()
    assert market.status == status
    before = betting_state()

    with refused(InvalidState):
        bet(bettor, market, 1, 50)
    with refused(InvalidState):
        sell(bettor, market, 0, "all")
    with refused(InvalidState):
        bet_quote(market_id=market.pk, outcome_index=1, amount=50)

    assert betting_state() == before


def test_it_refuses_a_bet_at_closes_at_exactly_before_the_sweep_ran(
    creator: Member, bettor: Member
) -> None:
    with time_machine.travel(START, tick=False) as clock:
        market = make_market(creator, duration=timedelta(hours=1))
        bet(bettor, market, 0, 100)
        held = shares_held(bettor, market, 0)

        clock.move_to(START + timedelta(hours=1))
        before = betting_state()
        with refused(InvalidState):
            bet(bettor, market, 0, 100)
        with refused(InvalidState):
            sell(bettor, market, 0, "all")

        assert betting_state() == before
        assert shares_held(bettor, market, 0) == held
        market.refresh_from_db()
        assert market.status == MarketStatus.OPEN  # nobody has marked it closed yet


def test_it_accepts_a_bet_a_moment_before_closes_at(creator: Member, bettor: Member) -> None:
    with time_machine.travel(START, tick=False) as clock:
        market = make_market(creator, duration=timedelta(hours=1))
        start = balance_of(bettor)

        clock.move_to(START + timedelta(hours=1) - timedelta(microseconds=1))
        bet(bettor, market, 0, 100)

        assert balance_of(bettor) == start - 100
