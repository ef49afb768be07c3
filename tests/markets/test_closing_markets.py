"""Markets close when due (the beat task) or early by a moderator, and only once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import time_machine

from markets.models import MarketStatus
from markets.services import market_close
from markets.tasks import close_due_markets
from points.models import Member
from predictmarket.errors import InvalidState
from predictmarket.models import OutboxEvent
from tests.markets.helpers import MODERATORS, make_market, money_state, refused

START = datetime(2030, 6, 1, 9, 0, tzinfo=UTC)


def test_it_closes_only_the_markets_that_are_due(creator: Member) -> None:
    with time_machine.travel(START, tick=False) as clock:
        due = make_market(creator, duration=timedelta(hours=1))
        later = make_market(creator, duration=timedelta(hours=2))

        clock.move_to(START + timedelta(hours=1))
        assert close_due_markets() == 1
        assert close_due_markets() == 0  # already closed: nothing to do

    due.refresh_from_db()
    later.refresh_from_db()
    assert due.status == MarketStatus.CLOSED
    assert later.status == MarketStatus.OPEN
    assert OutboxEvent.objects.filter(kind="market.closed").count() == 1


def test_it_lets_a_moderator_close_early_once(creator: Member) -> None:
    with time_machine.travel(START, tick=False) as clock:
        market = make_market(creator, duration=timedelta(days=3))
        clock.shift(timedelta(minutes=5))

        closed = market_close(market_id=market.pk, actor=MODERATORS[0])
        assert closed.status == MarketStatus.CLOSED
        assert closed.closes_at == START + timedelta(minutes=5)

        before = money_state()
        with refused(InvalidState):
            market_close(market_id=market.pk, actor=MODERATORS[0])
        assert money_state() == before
