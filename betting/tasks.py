"""Celery tasks of the betting app: thin, take ids, idempotent (they call claim-once services)."""

from __future__ import annotations

import logging

from celery import shared_task

from betting.settlement import markets_due_for_auto_refund, refund_market, settle_resolved_market
from markets.models import Market, MarketStatus

logger = logging.getLogger(__name__)


@shared_task(name="betting.settle_market")
def settle_market(market_id: int) -> bool:
    return settle_resolved_market(market_id=market_id).performed


@shared_task(name="betting.refund_cancelled_market")
def refund_cancelled_market(market_id: int) -> bool:
    return refund_market(market_id=market_id).performed


@shared_task(name="betting.settlement_sweep")
def settlement_sweep() -> int:
    """Settle or refund any decided market whose on-commit task was lost."""
    done = 0
    pending = Market.objects.filter(
        status__in=[MarketStatus.RESOLVED, MarketStatus.CANCELLED], settled_at__isnull=True
    ).values_list("pk", "status")
    for market_id, status in pending[:200]:
        try:
            if status == MarketStatus.RESOLVED:
                done += settle_resolved_market(market_id=market_id).performed
            else:
                done += refund_market(market_id=market_id).performed
        except Exception:
            # One broken market must not block the others; it is retried next sweep.
            logger.exception("settling market %s failed", market_id)
    return done


@shared_task(name="betting.auto_refund_sweep")
def auto_refund_sweep() -> int:
    """Refund markets nobody resolved within the guild's auto-refund delay after closing."""
    done = 0
    for market_id in markets_due_for_auto_refund():
        try:
            done += refund_market(market_id=market_id, automatic=True).performed
        except Exception:
            logger.exception("auto-refunding market %s failed", market_id)
    return done
