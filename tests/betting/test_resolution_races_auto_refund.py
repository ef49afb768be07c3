"""The deciding vote and the auto-refund racing on one stale market: exactly one of them wins.

Real threads on PostgreSQL. The market closed longer ago than the guild's
auto-refund delay and has one vote; one thread casts the deciding vote (its
settlement runs on commit, eagerly here) while another auto-refunds it. The
market must end RESOLVED or REFUNDED, never both, and the money must move once.
"""

from __future__ import annotations

import functools
from datetime import timedelta
from decimal import ROUND_FLOOR

import pytest
import time_machine
from django.utils import timezone
from pytest_django import Settings

from betting.models import Position
from betting.tasks import settlement_sweep
from betting.unwind import refund_market
from markets.models import Market, MarketStatus
from markets.services import resolution_vote
from points.models import LedgerTransaction, Member, TransactionKind
from predictmarket.errors import InvalidState
from tests.betting.helpers import bet, run_concurrently
from tests.markets.helpers import (
    MODERATORS,
    assert_ledger_sound,
    balance_of,
    escrow_of,
    make_guild,
    make_market,
    make_member,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROUNDS = 10


def _stale_market(creator: Member, members: list[Member]) -> Market:
    """A market that closed three hours ago (the guild refunds after one)."""
    with time_machine.travel(timezone.now() - timedelta(hours=3), tick=False):
        market = make_market(creator, duration=timedelta(minutes=5))
        for n, member in enumerate(members):
            bet(member, market, n % 2, 60 + 10 * n)
    resolution_vote(market_id=market.pk, voter=MODERATORS[0], outcome_index=0)
    return market


def _payouts(market: Market) -> int:
    return LedgerTransaction.objects.filter(
        kind=TransactionKind.PAYOUT, idempotency_key__startswith=f"payout:{market.pk}:"
    ).count()


def _refunds(market: Market, members: list[Member]) -> int:
    keys = [f"refund:{market.pk}:{member.pk}" for member in members]
    return LedgerTransaction.objects.filter(
        kind=TransactionKind.REFUND, idempotency_key__in=keys
    ).count()


def test_the_deciding_vote_and_the_auto_refund_never_both_happen(settings: Settings) -> None:
    settings.CELERY_TASK_ALWAYS_EAGER = True  # settlement runs on commit in the voting thread
    settings.CELERY_TASK_EAGER_PROPAGATES = True
    # Enough for ten rounds of stakes even if one member loses every round.
    guild = make_guild(auto_refund_hours=1, min_resolution_votes=2, starting_balance=10_000)
    creator = make_member(guild, "creator")
    members = [make_member(guild, f"punter{n}") for n in range(6)]
    seen = set()

    for round_number in range(ROUNDS):
        market = _stale_market(creator, members)
        balances = {m.pk: balance_of(m) for m in members}
        spent = {m.pk: 60 + 10 * n for n, m in enumerate(members)}
        winnings = {
            p.member_id: int(p.shares.to_integral_value(rounding=ROUND_FLOOR))
            for p in Position.objects.filter(market=market, outcome__index=0)
        }

        calls = [
            functools.partial(
                resolution_vote, market_id=market.pk, voter=MODERATORS[1], outcome_index=0
            ),
            functools.partial(refund_market, market_id=market.pk, automatic=True),
        ]
        # Alternate which one is submitted first, so both get a chance to win.
        if round_number % 2:
            refund, vote = run_concurrently(calls[::-1], workers=2)
        else:
            vote, refund = run_concurrently(calls, workers=2)

        market.refresh_from_db()
        seen.add(market.status)
        assert market.settled_at is not None
        if market.status == MarketStatus.RESOLVED:
            assert vote.error is None and vote.value.decided
            assert refund.error is None and refund.value.performed is False
            assert _payouts(market) == len(winnings) and _refunds(market, members) == 0
            for member in members:
                assert balance_of(member) == balances[member.pk] + winnings.get(member.pk, 0)
        else:
            assert market.status == MarketStatus.REFUNDED
            assert isinstance(vote.error, InvalidState), vote
            assert refund.error is None and refund.value.performed is True
            assert _payouts(market) == 0 and _refunds(market, members) == len(members)
            for member in members:
                assert balance_of(member) == balances[member.pk] + spent[member.pk]
        assert escrow_of(market) == 0
        assert settlement_sweep() == 0  # nothing was left half done

    assert seen <= {MarketStatus.RESOLVED, MarketStatus.REFUNDED}
    print(f"outcomes seen over {ROUNDS} rounds: {sorted(seen)}")
    assert_ledger_sound()
