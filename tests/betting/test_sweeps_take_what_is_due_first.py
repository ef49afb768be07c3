"""The sweeps select what is due in SQL, by each market's own deadline, oldest first.

Neither a crowd of markets that are not due yet nor a backlog larger than one
batch may keep a due market waiting for the next sweep.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from betting.tasks import auto_refund_sweep, settlement_sweep
from betting.unwind import markets_due_for_auto_refund
from markets.models import Market, MarketStatus
from points.models import Account, AccountKind, Guild, Member
from tests.markets.helpers import assert_ledger_sound, make_guild, make_market, make_member

pytestmark = pytest.mark.django_db


def _bare_markets(
    guild: Guild, creator: Member, count: int, *, closed_hours_ago: float, **fields: object
) -> list[Market]:
    """Untraded markets made in bulk (no liquidity, so settling them moves no points)."""
    escrows = Account.objects.bulk_create(
        Account(guild=guild, kind=AccountKind.ESCROW, label="bulk") for _ in range(count)
    )
    closes_at = timezone.now() - timedelta(hours=closed_hours_ago)
    return Market.objects.bulk_create(
        Market(
            guild=guild,
            creator=creator,
            question=f"Filler {n}?",
            opens_at=closes_at - timedelta(days=1),
            closes_at=closes_at,
            liquidity=1,
            escrow_account=escrow,
            **fields,
        )
        for n, escrow in enumerate(escrows)
    )


def _closed_hours_ago(market: Market, hours: float, *, now: datetime | None = None) -> None:
    closes_at = (now or timezone.now()) - timedelta(hours=hours)
    Market.objects.filter(pk=market.pk).update(
        opens_at=closes_at - timedelta(days=1), closes_at=closes_at
    )


def test_a_due_market_is_refunded_behind_a_thousand_that_are_not_due() -> None:
    patient = make_guild(auto_refund_hours=120)
    # Closed three hours ago in a guild that waits 120 h: old enough to look like
    # candidates, not due.
    _bare_markets(
        patient, make_member(patient), 1_200, closed_hours_ago=3, status=MarketStatus.CLOSED
    )
    hasty = make_guild(auto_refund_hours=2)
    due = make_market(make_member(hasty, "creator"), duration=timedelta(minutes=5))
    _closed_hours_ago(due, 3)

    assert auto_refund_sweep() == 1

    due.refresh_from_db()
    assert due.status == MarketStatus.REFUNDED and due.settled_at is not None
    assert_ledger_sound()


def test_the_longest_overdue_comes_first_whatever_each_markets_delay() -> None:
    now = timezone.now()
    markets = []
    # Deadlines: 10 h ago, 5 h ago, 1 h ago; the closing times the other way round.
    for hours, closed_ago in ((2, 12), (120, 125), (240, 241)):
        guild = make_guild(auto_refund_hours=hours)
        market = make_market(make_member(guild), duration=timedelta(minutes=5))
        _closed_hours_ago(market, closed_ago, now=now)
        markets.append(market)
    late, later, latest = markets

    assert markets_due_for_auto_refund(now=now) == [late.pk, later.pk, latest.pk]
    assert markets_due_for_auto_refund(now=now, limit=1) == [late.pk]


def test_one_settlement_sweep_clears_a_backlog_larger_than_a_batch() -> None:
    guild = make_guild()
    creator = make_member(guild, "creator")
    now = timezone.now()
    backlog = _bare_markets(
        guild, creator, 450, closed_hours_ago=2, status=MarketStatus.CANCELLED, resolved_at=now
    )

    assert settlement_sweep() == 450

    assert not Market.objects.filter(pk__in=[m.pk for m in backlog], settled_at__isnull=True)
    assert settlement_sweep() == 0
