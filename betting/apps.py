from __future__ import annotations

from typing import Any

from django.apps import AppConfig


class BettingConfig(AppConfig):
    name = "betting"
    verbose_name = "Betting"

    def ready(self) -> None:
        from markets.signals import market_corrected, market_decided

        market_decided.connect(_schedule_settlement, dispatch_uid="betting.schedule_settlement")
        market_corrected.connect(_schedule_correction, dispatch_uid="betting.schedule_correction")

    def load_demo_data(self) -> str:
        from betting.demo import load_demo_data

        return load_demo_data()


def _schedule_settlement(sender: Any, *, market_id: int, status: str, **kwargs: Any) -> None:
    """Settle or refund as soon as the decision commits; the sweeps catch a lost task."""
    from betting import tasks
    from markets.models import MarketStatus

    task = tasks.settle_market if status == MarketStatus.RESOLVED else tasks.refund_cancelled_market
    task.delay_on_commit(market_id)


def _schedule_correction(sender: Any, *, correction_id: int, **kwargs: Any) -> None:
    """Reverse and re-pay a corrected market once the correction commits; the sweep backs it up."""
    from betting import tasks

    tasks.apply_market_correction.delay_on_commit(correction_id)
