"""A member places at most 5 trades a minute; a retried request does not use one up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import time_machine

from points.models import Member
from predictmarket.errors import RateLimited
from tests.betting.helpers import bet, betting_state, sell
from tests.markets.helpers import balance_of, make_market, refused

# Early in a minute, so the fixed one-minute window cannot roll over mid-test.
START = datetime(2030, 9, 1, 20, 0, 1, tzinfo=UTC)


def test_it_refuses_a_sixth_trade_in_a_minute_and_charges_nothing(
    creator: Member, bettor: Member, rival: Member
) -> None:
    with time_machine.travel(START, tick=False) as clock:
        market = make_market(creator)
        for number in range(4):
            bet(bettor, market, 0, 10, bypass_rate_limit=False, idempotency_key=f"b{number}")
        sell(bettor, market, 0, "5", bypass_rate_limit=False)  # sales count too
        bet(bettor, market, 0, 10, bypass_rate_limit=False, idempotency_key="b0")  # a retry
        before = betting_state()

        with refused(RateLimited) as info:
            bet(bettor, market, 0, 10, bypass_rate_limit=False)

        assert betting_state() == before
        assert 0 < info.value.retry_after <= 60
        bet(rival, market, 1, 10, bypass_rate_limit=False)  # the limit is per member

        clock.shift(timedelta(minutes=1))
        start = balance_of(bettor)
        bet(bettor, market, 0, 10, bypass_rate_limit=False)
        assert balance_of(bettor) == start - 10
