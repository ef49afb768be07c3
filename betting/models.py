"""Trades and positions: what members bought and sold, and what they hold."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import Q

from markets.models import SHARES_DECIMAL_PLACES, SHARES_MAX_DIGITS, Market, Outcome
from points.models import LedgerTransaction, Member


class TradeSide(models.TextChoices):
    BUY = "buy", "Buy"
    SELL = "sell", "Sell"


def _shares_field(**kwargs: object) -> models.DecimalField:
    return models.DecimalField(
        max_digits=SHARES_MAX_DIGITS, decimal_places=SHARES_DECIMAL_PLACES, **kwargs
    )


class Trade(models.Model):
    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="trades")
    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="trades")
    outcome = models.ForeignKey(Outcome, on_delete=models.PROTECT, related_name="trades")
    side = models.CharField(max_length=4, choices=TradeSide.choices)
    points = models.BigIntegerField(help_text="Paid by a buyer, or received by a seller")
    shares = _shares_field()
    average_price = models.DecimalField(max_digits=20, decimal_places=8)
    fee = models.DecimalField(max_digits=24, decimal_places=6, default=Decimal(0))
    probabilities_before = models.JSONField()
    probabilities_after = models.JSONField()
    idempotency_key = models.CharField(max_length=200, unique=True)
    ledger_transaction = models.OneToOneField(
        LedgerTransaction, null=True, blank=True, on_delete=models.PROTECT, related_name="trade"
    )
    created_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["market", "-id"]),
            models.Index(fields=["member", "-id"]),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(points__gte=0), name="trade_points_gte_0"),
            models.CheckConstraint(condition=Q(shares__gt=0), name="trade_shares_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.side} {self.shares} of {self.outcome_id} for {self.points}"


class Position(models.Model):
    """A member's holding of one outcome, and what they spent on and got from it."""

    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="positions")
    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="positions")
    outcome = models.ForeignKey(Outcome, on_delete=models.PROTECT, related_name="positions")
    shares = _shares_field(default=Decimal(0))
    points_spent = models.BigIntegerField(default=0)
    points_received = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["member", "outcome"], name="position_unique"),
            models.CheckConstraint(condition=Q(shares__gte=0), name="position_shares_gte_0"),
            models.CheckConstraint(
                condition=Q(points_spent__gte=0) & Q(points_received__gte=0),
                name="position_points_gte_0",
            ),
        ]
        indexes = [
            models.Index(fields=["market", "outcome", "-shares"]),
            # Period leaderboards (betting.leaderboards): the points per member of the
            # markets settled in a period, read from the index alone.
            models.Index(
                fields=["market"],
                include=["member", "points_spent", "points_received"],
                name="position_flows_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member} holds {self.shares} of {self.outcome}"
