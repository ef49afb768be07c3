"""A market nobody resolved is refunded by the sweep auto_refund_hours after it closed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from betting.tasks import auto_refund_sweep
from markets.models import MarketStatus
from markets.services import resolution_vote
from points.models import Guild, Member
from predictmarket.models import OutboxEvent
from tests.betting.helpers import bet, betting_state
from tests.markets.helpers import (
    MODERATORS,
    assert_ledger_sound,
    balance_of,
    escrow_of,
    make_guild,
    make_market,
    make_member,
)

START = datetime(2030, 8, 1, 12, 0, tzinfo=UTC)


def test_it_refunds_at_the_deadline_and_not_a_minute_before(
    guild: Guild, creator: Member, bettor: Member
) -> None:
    assert guild.auto_refund_hours == 120
    with time_machine.travel(START, tick=False) as clock:
        market = make_market(creator, duration=timedelta(hours=1))
        start = balance_of(bettor)
        bet(bettor, market, 0, 150)
        deadline = market.closes_at + timedelta(hours=120)

        clock.move_to(deadline - timedelta(minutes=1))
        before = betting_state()
        assert auto_refund_sweep() == 0
        assert betting_state() == before

        clock.move_to(deadline)
        assert auto_refund_sweep() == 1
        assert auto_refund_sweep() == 0  # once

    market.refresh_from_db()
    assert market.status == MarketStatus.REFUNDED
    assert market.settled_at == deadline
    assert balance_of(bettor) == start
    assert escrow_of(market) == 0
    assert OutboxEvent.objects.filter(kind="market.auto_refunded").count() == 1
    assert_ledger_sound()


@pytest.mark.django_db
def test_it_follows_the_guilds_delay_even_for_a_market_with_one_vote() -> None:
    guild = make_guild(auto_refund_hours=2, min_resolution_votes=2)
    creator = make_member(guild)
    with time_machine.travel(START, tick=False) as clock:
        stale = make_market(creator, duration=timedelta(hours=1))
        voted = make_market(creator, duration=timedelta(hours=1))
        bet(creator, voted, 1, 70)
        clock.shift(timedelta(hours=1, minutes=5))
        resolution_vote(market_id=voted.pk, voter=MODERATORS[0], outcome_index=1)

        clock.move_to(START + timedelta(hours=3))  # 2 h after both closed
        # The half-voted market is still undecided, so it is refunded too: a single
        # vote must not keep points locked for ever.
        assert auto_refund_sweep() == 2

    stale.refresh_from_db()
    voted.refresh_from_db()
    assert stale.status == voted.status == MarketStatus.REFUNDED
    assert escrow_of(stale) == escrow_of(voted) == 0
    assert balance_of(creator) == guild.starting_balance
    assert_ledger_sound()
