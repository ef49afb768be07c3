"""Two workers settling (or refunding) the same market at once pay every member once.

Real threads on PostgreSQL: the claim is a conditional UPDATE on the market
row, so the second worker waits for the first to commit and then finds nothing
to claim.
"""

from __future__ import annotations

import functools
from decimal import ROUND_FLOOR

import pytest

from betting.models import Position
from betting.settlement import SettlementResult, settle_resolved_market
from betting.unwind import refund_market
from markets.models import Market
from points.models import Guild, LedgerTransaction, Member, TransactionKind
from tests.betting.helpers import bet, run_concurrently
from tests.markets.helpers import (
    assert_ledger_sound,
    balance_of,
    decide,
    escrow_of,
    make_guild,
    make_market,
    make_member,
)

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("tasks_go_to_the_broker"),
]

ROUNDS = 3


def _traded_market(guild: Guild, members: list[Member], round_number: int) -> Market:
    market = make_market(members[0], options=["Home", "Draw", "Away"])
    for n, member in enumerate(members):
        bet(member, market, (n + round_number) % 3, 40 + 7 * n)
    return market


def _performed(results: list[SettlementResult]) -> list[bool]:
    return sorted(result.performed for result in results)


def test_two_workers_settling_at_once_pay_each_winner_once() -> None:
    guild = make_guild(min_resolution_votes=1)
    members = [make_member(guild, f"fan{n}") for n in range(9)]
    for round_number in range(ROUNDS):
        market = _traded_market(guild, members, round_number)
        decide(market, outcome_index=0)
        balances = {m.pk: balance_of(m) for m in members}
        owed = {
            p.member_id: int(p.shares.to_integral_value(rounding=ROUND_FLOOR))
            for p in Position.objects.filter(market=market, outcome__index=0)
        }
        assert owed

        settle = functools.partial(settle_resolved_market, market_id=market.pk)
        outcomes = run_concurrently([settle, settle], workers=2)

        assert [o.error for o in outcomes] == [None, None]
        assert _performed([o.value for o in outcomes]) == [False, True]
        for member in members:
            assert balance_of(member) == balances[member.pk] + owed.get(member.pk, 0)
        for member_id in owed:
            key = f"payout:{market.pk}:{member_id}"
            assert LedgerTransaction.objects.filter(idempotency_key=key).count() == 1
        payouts = LedgerTransaction.objects.filter(
            kind=TransactionKind.PAYOUT, idempotency_key__contains=f":{market.pk}:"
        )
        assert payouts.count() == len(owed) + 1  # one per winner, one remainder to the house
        assert escrow_of(market) == 0
    assert_ledger_sound()


def test_two_workers_refunding_at_once_refund_each_member_once() -> None:
    guild = make_guild(min_resolution_votes=1)
    members = [make_member(guild, f"fan{n}") for n in range(9)]
    for round_number in range(ROUNDS):
        market = _traded_market(guild, members, round_number)
        balances = {m.pk: balance_of(m) for m in members}
        spent = {m.pk: 40 + 7 * n for n, m in enumerate(members)}
        decide(market, cancel=True)

        refund = functools.partial(refund_market, market_id=market.pk)
        outcomes = run_concurrently([refund, refund], workers=2)

        assert [o.error for o in outcomes] == [None, None]
        assert _performed([o.value for o in outcomes]) == [False, True]
        for member in members:
            assert balance_of(member) == balances[member.pk] + spent[member.pk]
            key = f"refund:{market.pk}:{member.pk}"
            assert LedgerTransaction.objects.filter(idempotency_key=key).count() == 1
        assert escrow_of(market) == 0
    assert_ledger_sound()
