"""Celery tasks of the betting app: thin, take ids, idempotent (they call claim-once services)."""

from __future__ import annotations

import logging
from datetime import datetime

from celery import shared_task

from betting.corrections import correction_apply, corrections_due
from betting.period_posts import period_leaders_post_due
from betting.settlement import markets_due_for_settlement, settle_resolved_market
from betting.unwind import markets_due_for_auto_refund, refund_market
from markets.models import MarketStatus

logger = logging.getLogger(__name__)


@shared_task(name="betting.settle_market")
def settle_market(market_id: int) -> bool:
    return settle_resolved_market(market_id=market_id).performed


@shared_task(name="betting.refund_cancelled_market")
def refund_cancelled_market(market_id: int) -> bool:
    return refund_market(market_id=market_id).performed


@shared_task(name="betting.apply_market_correction")
def apply_market_correction(correction_id: int) -> bool:
    return correction_apply(correction_id=correction_id).performed


@shared_task(name="betting.settlement_sweep")
def settlement_sweep() -> int:
    """Settle or refund any decided market whose on-commit task was lost, oldest first.

    Batch after batch until nothing is due; each market is tried once per run
    (one that fails is retried by the next sweep), so it can neither block the
    others nor be retried in a loop. Corrections decided but not applied (a
    lost task, a killed worker) are applied the same way.
    """
    done, tried = 0, set()
    while batch := markets_due_for_settlement(exclude=tried):
        for market_id, status in batch:
            tried.add(market_id)
            try:
                if status == MarketStatus.RESOLVED:
                    done += settle_resolved_market(market_id=market_id).performed
                else:
                    done += refund_market(market_id=market_id).performed
            except Exception:
                # One broken market must not block the others; it is retried next sweep.
                logger.exception("settling market %s failed", market_id)
    tried_corrections: set[int] = set()
    while batch := [c for c in corrections_due() if c not in tried_corrections]:
        for correction_id in batch:
            tried_corrections.add(correction_id)
            try:
                done += correction_apply(correction_id=correction_id).performed
            except Exception:
                logger.exception("applying correction %s failed", correction_id)
    return done


@shared_task(name="betting.auto_refund_sweep")
def auto_refund_sweep() -> int:
    """Refund markets nobody resolved within their own auto-refund delay, oldest first."""
    done, tried = 0, set()
    while batch := markets_due_for_auto_refund(exclude=tried):
        for market_id in batch:
            tried.add(market_id)
            try:
                done += refund_market(market_id=market_id, automatic=True).performed
            except Exception:
                logger.exception("auto-refunding market %s failed", market_id)
    return done


@shared_task(name="betting.post_period_leaders")
def post_period_leaders(now: str | None = None) -> int:
    """Announce each guild's leaders of the ISO week and calendar month just ended (once).

    ``now`` (ISO 8601) stands in for the clock: the period ended by it is posted.
    """
    return period_leaders_post_due(now=datetime.fromisoformat(now) if now else None)
