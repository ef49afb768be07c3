"""Settling or refunding one market by hand (``manage.py pm_settle`` / ``pm_refund``).

The same claim-once services as the task and the sweep, so a market an
operator settles while a worker does is still paid once; only the actor in the
audit log differs. A market in a state the action does not fit is refused
with ``InvalidState`` and left as it was.
"""

from __future__ import annotations

from betting.settlement import SettlementResult, settle_resolved_market
from betting.unwind import refund_market
from markets.models import Market, MarketStatus
from markets.services import market_cancel, market_get
from predictmarket.errors import InvalidState


def _status(market: Market) -> str:
    return market.get_status_display().lower()


def market_settle_by_operator(*, market_id: int, guild_id: int, actor: str) -> SettlementResult:
    """Settle a resolved market now; ``performed`` is False if it was already settled."""
    market = market_get(market_id, guild_id=guild_id)
    if market.status != MarketStatus.RESOLVED:
        hint = " (refund it with pm_refund)" if market.status != MarketStatus.OPEN else ""
        raise InvalidState(
            f"Market #{market.pk} is {_status(market)}: only a resolved market is settled{hint}."
        )
    return settle_resolved_market(market_id=market.pk, actor=actor)


def market_refund_by_operator(
    *, market_id: int, guild_id: int, actor: str, cancel: bool = False
) -> SettlementResult:
    """Unwind a cancelled or auto-refunded market now (``cancel``: an undecided one first).

    ``performed`` is False if it was already unwound (by a worker, or an earlier run).
    """
    market = market_get(market_id, guild_id=guild_id)
    if market.status == MarketStatus.RESOLVED:
        raise InvalidState(
            f"Market #{market.pk} is resolved with a winner: settle it with pm_settle; "
            "a resolved market is not refunded."
        )
    if market.status in (MarketStatus.OPEN, MarketStatus.CLOSED):
        if not cancel:
            raise InvalidState(
                f"Market #{market.pk} is {_status(market)}: pass --cancel to cancel it "
                "and unwind every trade on it."
            )
        market_cancel(market_id=market.pk, actor=actor, is_moderator=True, guild_id=guild_id)
    return refund_market(market_id=market.pk, actor=actor)
