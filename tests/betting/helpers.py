"""Trading shortcuts and the betting state a refused request must leave untouched."""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

from betting.models import Position, Trade
from betting.services import TradeResult, bet_place, shares_sell
from markets.models import Market
from markets.snapshots import is_snapshot_refresh
from points.models import Member

# One implementation of "run on real threads" for every suite.
from tests.concurrency import Outcome as Ran
from tests.concurrency import run_concurrently
from tests.markets.helpers import money_state

__all__ = ["Ran", "run_concurrently"]

_KEYS = itertools.count()


def tasks_enqueued(callbacks: list[Any]) -> list[Any]:
    """The on-commit callbacks other than the market snapshots' refreshes (every change has one)."""
    return [c for c in callbacks if not is_snapshot_refresh(c)]


def new_key() -> str:
    return f"test-trade-{next(_KEYS)}"


def bet(
    member: Member, market: Market, outcome_index: int, amount: object, **kwargs: Any
) -> TradeResult:
    """A bet as a moderator-free member makes it, without the per-minute limit."""
    kwargs.setdefault("idempotency_key", new_key())
    kwargs.setdefault("bypass_rate_limit", True)
    return bet_place(
        member=member, market_id=market.pk, outcome_index=outcome_index, amount=amount, **kwargs
    )


def sell(
    member: Member, market: Market, outcome_index: int, shares: object, **kwargs: Any
) -> TradeResult:
    kwargs.setdefault("idempotency_key", new_key())
    kwargs.setdefault("bypass_rate_limit", True)
    return shares_sell(
        member=member, market_id=market.pk, outcome_index=outcome_index, shares=shares, **kwargs
    )


def shares_held(member: Member, market: Market, outcome_index: int) -> Decimal:
    position = Position.objects.filter(
        member=member, market=market, outcome__index=outcome_index
    ).first()
    return position.shares if position else Decimal(0)


def betting_state() -> dict[str, Any]:
    """``money_state`` plus trades and positions."""
    return {
        **money_state(),
        "trades": Trade.objects.count(),
        "positions": sorted(
            Position.objects.values_list("pk", "shares", "points_spent", "points_received")
        ),
    }
