"""Hundreds of concurrent bets and sales on one market keep money, pools and positions exact.

Real threads on PostgreSQL. Afterwards the ledger must reconcile, the escrow
must hold the liquidity plus every accepted buy minus every accepted sale, and
replaying the recorded trades in id order through the market maker must give
the same shares, the same points and the same final pools: the market lock
really did serialise the trades.
"""

from __future__ import annotations

import functools
import random
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from betting.models import Position, Trade, TradeSide
from betting.services import InsufficientShares, SlippageExceeded, bet_quote
from markets import amm
from points.models import Account, AccountKind
from predictmarket.errors import InsufficientPoints, ValidationFailed
from tests.betting.helpers import bet, run_concurrently, sell
from tests.markets.helpers import (
    assert_ledger_sound,
    balance_of,
    escrow_of,
    guild_total,
    make_guild,
    make_market,
    make_member,
    pools_of,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

MEMBERS = 50
OPERATIONS = 200
WORKERS = 12  # the pool has 20 connections: the threads plus the test's own fit
OPTIONS = ["North", "East", "South"]
# Refusals a member can meet in a crowd: out of points, out of shares, a stale
# quote, a sale too small to return a point. Anything else is a bug.
EXPECTED_REFUSALS = (InsufficientPoints, InsufficientShares, SlippageExceeded, ValidationFailed)


def test_it_keeps_money_pools_and_positions_exact_under_a_storm_of_trades() -> None:
    guild = make_guild()
    market = make_market(make_member(guild, "creator"), options=OPTIONS)
    members = [make_member(guild, f"storm{n}") for n in range(MEMBERS)]
    for n, member in enumerate(members):
        bet(member, market, n % 3, 100)  # everyone holds something the storm can sell
    stale_quotes = [bet_quote(market_id=market.pk, outcome_index=i, amount=150) for i in range(3)]
    trades_before = Trade.objects.count()

    rng = random.Random(20300815)
    calls: list[Callable[[], Any]] = []
    for n in range(OPERATIONS):
        member, outcome, roll = rng.choice(members), rng.randrange(3), rng.random()
        key = f"storm-{n}"
        if roll < 0.5:
            calls.append(
                functools.partial(
                    bet, member, market, outcome, rng.randint(1, 450), idempotency_key=key
                )
            )
        elif roll < 0.6:
            calls.append(
                functools.partial(
                    bet,
                    member,
                    market,
                    outcome,
                    150,
                    idempotency_key=key,
                    min_shares=stale_quotes[outcome].shares,
                )
            )
        elif roll < 0.8:
            calls.append(
                functools.partial(sell, member, market, outcome, "all", idempotency_key=key)
            )
        else:
            shares = rng.choice(["0.5", "5", "25", "80"])
            calls.append(
                functools.partial(sell, member, market, outcome, shares, idempotency_key=key)
            )

    outcomes = run_concurrently(calls, workers=WORKERS)

    unexpected = [
        o.error for o in outcomes if o.error and not isinstance(o.error, EXPECTED_REFUSALS)
    ]
    assert unexpected == []  # no deadlock, OperationalError or IntegrityError escaped
    accepted = [o.value for o in outcomes if o.error is None]
    refused = [o.error for o in outcomes if o.error is not None]
    assert len(accepted) + len(refused) == OPERATIONS
    assert accepted and refused  # the storm is meant to have both
    assert not any(result.replayed for result in accepted)
    assert Trade.objects.count() == trades_before + len(accepted)

    trades = list(Trade.objects.filter(market=market).select_related("outcome").order_by("id"))
    bought = sum(t.points for t in trades if t.side == TradeSide.BUY)
    sold = sum(t.points for t in trades if t.side == TradeSide.SELL)
    assert escrow_of(market) == market.liquidity + bought - sold

    # Replaying the trades in commit order through the pure market maker.
    pools = amm.initial_pools(len(OPTIONS), market.liquidity)
    for trade in trades:
        if trade.side == TradeSide.BUY:
            quote = amm.buy(pools, trade.outcome.index, trade.points, market.fee_bps)
            assert quote.shares == trade.shares, trade
        else:
            quote = amm.sell(pools, trade.outcome.index, trade.shares, market.fee_bps)
            assert quote.points_out == trade.points, trade
        pools = quote.pools_after
    assert pools_of(market) == list(pools)

    # Every member's balance and every position follow from their own trades.
    net_points: dict[int, int] = defaultdict(int)
    net_shares: dict[tuple[int, int], Decimal] = defaultdict(Decimal)
    for trade in trades:
        sign = 1 if trade.side == TradeSide.BUY else -1
        net_points[trade.member_id] -= sign * trade.points
        net_shares[(trade.member_id, trade.outcome.index)] += sign * trade.shares
    for member in members:
        assert balance_of(member) == guild.starting_balance + net_points[member.pk]
    held = {
        (p.member_id, p.outcome.index): p.shares
        for p in Position.objects.filter(market=market).select_related("outcome")
    }
    assert held == dict(net_shares)

    assert not Account.objects.filter(kind=AccountKind.MEMBER, balance__lt=0).exists()
    assert guild_total(guild.pk) == 0
    assert_ledger_sound()
