"""Trading shortcuts and the betting state a refused request must leave untouched."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection

from betting.models import Position, Trade
from betting.services import TradeResult, bet_place, shares_sell
from markets.models import Market
from points.models import Member
from tests.markets.helpers import money_state

_KEYS = itertools.count()


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


@dataclass(frozen=True)
class Ran:
    """What one concurrent call returned or raised."""

    value: Any = None
    error: BaseException | None = None


def run_concurrently(calls: Sequence[Callable[[], Any]], *, workers: int) -> list[Ran]:
    """Run ``calls`` on ``workers`` real threads, released together; results in call order.

    Each thread has its own database connection and closes it after every call,
    handing it back to the pool (PostgreSQL allows the pool 20 connections).
    """
    assert workers <= 16
    start = threading.Event()

    def run(call: Callable[[], Any]) -> Ran:
        try:
            start.wait(timeout=30)
            return Ran(value=call())
        except Exception as error:  # noqa: BLE001 - the test inspects every error
            return Ran(error=error)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(run, call) for call in calls]
        start.set()
        return [future.result(timeout=120) for future in futures]
