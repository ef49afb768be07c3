from __future__ import annotations

from typing import Any

from django.apps import AppConfig


class BettingConfig(AppConfig):
    name = "betting"
    verbose_name = "Betting"

    def ready(self) -> None:
        from markets.signals import market_decided

        market_decided.connect(_schedule_settlement, dispatch_uid="betting.schedule_settlement")

    def load_demo_data(self) -> str:
        from betting.demo import load_demo_data

        return load_demo_data()


def _schedule_settlement(sender: Any, *, market_id: int, status: str, **kwargs: Any) -> None:
    """Settle or refund as soon as the decision commits; the sweeps catch a lost task."""
    from betting import tasks
    from markets.models import MarketStatus

    task = tasks.settle_market if status == MarketStatus.RESOLVED else tasks.refund_cancelled_market
    task.delay_on_commit(market_id)
