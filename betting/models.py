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
    # market and member are not indexed alone: the (market, -id) and
    # (member, -id) indexes lead with them. Each index is one more entry
    # written by every trade, while the market is locked.
    market = models.ForeignKey(
        Market, on_delete=models.PROTECT, related_name="trades", db_index=False
    )
    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="trades", db_index=False
    )
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
    # The market's version this trade made (markets.snapshots): a replay of the
    # request answers with it, as the original did. Null for trades made before.
    market_version = models.BigIntegerField(null=True, blank=True)

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

    # market and member are not indexed alone: (market, outcome, -shares) and
    # position_flows_idx lead with market, position_unique with member. A
    # trade changes shares (indexed), so each index is rewritten by it.
    market = models.ForeignKey(
        Market, on_delete=models.PROTECT, related_name="positions", db_index=False
    )
    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="positions", db_index=False
    )
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


class Season(models.Model):
    """A stretch of a guild's competition, started by a moderator (``betting.seasons``).

    At most one season of a guild is open (``ended_at`` null; a partial UNIQUE
    holds it). Starting the next one ends it and archives its standings
    (``SeasonStanding``) once. With ``reset`` the new season also brought every
    member's balance to the guild's starting balance, one ledger transaction per
    member whose balance changed; nothing undoes it but another season.
    """

    guild = models.ForeignKey("points.Guild", on_delete=models.PROTECT, related_name="seasons")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    started_by = models.CharField(max_length=100)
    reset = models.BooleanField(default=False)
    # Members whose balance the reset changed: one ledger transaction each, keyed
    # ``season:<guild>:<number>:reset:<account>``.
    members_reset = models.PositiveIntegerField(default=0)
    idempotency_key = models.CharField(max_length=200, unique=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["guild", "number"], name="season_number_unique"),
            models.UniqueConstraint(
                fields=["guild"], condition=Q(ended_at__isnull=True), name="season_one_open"
            ),
            models.CheckConstraint(condition=Q(number__gte=1), name="season_number_gte_1"),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=models.F("started_at")),
                name="season_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"season {self.number} of {self.guild_id}"


class SeasonStanding(models.Model):
    """A member's final place in an ended season: written once, when the season ends."""

    season = models.ForeignKey(Season, on_delete=models.PROTECT, related_name="standings")
    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="season_standings")
    rank = models.PositiveIntegerField()
    # Points received - spent on the markets settled during the season (whole points).
    profit = models.BigIntegerField()
    balance = models.BigIntegerField(help_text="The member's balance when the season ended")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["season", "member"], name="season_standing_unique"),
        ]
        indexes = [models.Index(fields=["season", "rank", "member"], name="season_standing_rank")]

    def __str__(self) -> str:
        return f"#{self.rank} {self.member} in {self.season}"


class LeaderboardPeriod(models.TextChoices):
    WEEK = "week", "ISO week"
    MONTH = "month", "Calendar month"


class PeriodPost(models.Model):
    """The claim that a guild's leaders of one ended week or month are announced.

    Inserted before the announcement's outbox event, in its transaction: the
    UNIQUE makes concurrent or repeated beats post once (``betting.period_posts``).
    """

    guild = models.ForeignKey("points.Guild", on_delete=models.PROTECT, related_name="+")
    period = models.CharField(max_length=8, choices=LeaderboardPeriod.choices)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    members_listed = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["guild", "period", "starts_at"], name="period_post_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.period} from {self.starts_at:%Y-%m-%d} in {self.guild_id}"
