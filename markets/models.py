"""Markets, their outcomes and pools, resolution votes, and price history.

A market's collateral sits in its own escrow account in the points ledger; the
outcome pools are the market maker's state (see ``markets/amm.py``). Pools are
only changed while the market row is locked (``select_for_update``), which
serialises every trade on one market.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

from points.models import Account, Guild, Member, ResolverRule

# Pools and shares live on the AMM's 6-decimal grid (markets.amm.SHARE_QUANTUM).
SHARES_MAX_DIGITS = 36
SHARES_DECIMAL_PLACES = 6


class MarketStatus(models.TextChoices):
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"
    RESOLVED = "resolved", "Resolved"
    CANCELLED = "cancelled", "Cancelled"
    REFUNDED = "refunded", "Refunded (automatic)"


class Market(models.Model):
    guild = models.ForeignKey(Guild, on_delete=models.PROTECT, related_name="markets")
    creator = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="created_markets")
    question = models.CharField(max_length=500)
    description = models.TextField(blank=True, max_length=2000)
    category = models.CharField(max_length=50, blank=True, db_index=True)
    status = models.CharField(
        max_length=16, choices=MarketStatus.choices, default=MarketStatus.OPEN, db_index=True
    )
    opens_at = models.DateTimeField()
    closes_at = models.DateTimeField(db_index=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    # Set when the payouts or refunds were made; the claim that makes settling run once.
    settled_at = models.DateTimeField(null=True, blank=True)
    # The rules the market was created under, copied from the guild then: changing a
    # guild setting affects new markets only (members bet knowing these).
    liquidity = models.BigIntegerField()
    fee_bps = models.PositiveIntegerField(default=0)
    min_resolution_votes = models.PositiveIntegerField(
        default=2, help_text="Agreeing moderator votes that decide this market"
    )
    auto_refund_hours = models.PositiveIntegerField(
        default=120, help_text="Hours after closing before this market is refunded if undecided"
    )
    # Who may resolve besides the moderators: copied from the guild's rule for the
    # market's kind at creation; ``arbitrator`` is the member named then.
    resolver_rule = models.CharField(
        max_length=16, choices=ResolverRule.choices, default=ResolverRule.MODERATORS
    )
    arbitrator = models.ForeignKey(
        Member,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="arbitrated_markets",
    )
    correction_window_hours = models.PositiveIntegerField(
        default=7 * 24,
        help_text="Hours after the decision during which moderators may correct it (0 = never)",
    )
    # Corrections decided so far: votes of round N (N >= 1) decide the N-th correction.
    correction_count = models.PositiveIntegerField(default=0)
    winning_outcome = models.ForeignKey(
        "Outcome", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    escrow_account = models.OneToOneField(Account, on_delete=models.PROTECT, related_name="market")
    volume = models.BigIntegerField(default=0, help_text="Points paid into the market by buyers")
    # Bumped in the same transaction as every trade and lifecycle change: cached
    # snapshots are keyed by it (markets.snapshots), and a trader's response
    # carries it so a following read can ask to be at least that fresh.
    version = models.BigIntegerField(default=0, editable=False)
    discord_channel_id = models.BigIntegerField(null=True, blank=True)
    discord_message_id = models.BigIntegerField(null=True, blank=True)
    # The market's Discord thread (its guild's market_threads setting): the live
    # message and the market's updates are posted there. Set once: a market never
    # gets a second thread.
    discord_thread_id = models.BigIntegerField(null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    # When the closing-soon announcement was claimed (markets_announce_closing_soon).
    closing_soon_announced_at = models.DateTimeField(null=True, blank=True)
    # The Discord interaction id (or API Idempotency-Key) that created it.
    idempotency_key = models.CharField(max_length=200, unique=True, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        # /market list reads one status of one guild at a time, in one of these orders
        # (forwards or backwards), so every page is an index range scan. Not by volume:
        # every trade changes it, and an indexed column makes the market row's update
        # (under the market lock) a non-HOT one that writes an entry into each of the
        # table's indexes; sorting one guild's markets of one status by volume is cheap.
        indexes = [
            models.Index(fields=["guild", "status", "closes_at", "id"], name="market_list_closing"),
            models.Index(fields=["guild", "status", "created_at", "id"], name="market_list_newest"),
            models.Index(fields=["guild", "category"], name="market_guild_category"),
            # Profit over a period: the markets of a guild settled since a moment.
            models.Index(fields=["guild", "settled_at"], name="market_guild_settled"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(liquidity__gte=1), name="market_liquidity_gte_1"),
            models.CheckConstraint(
                condition=Q(closes_at__gt=models.F("opens_at")), name="market_closes_after_opens"
            ),
            models.CheckConstraint(condition=Q(volume__gte=0), name="market_volume_gte_0"),
            models.CheckConstraint(
                condition=Q(min_resolution_votes__gte=1), name="market_votes_gte_1"
            ),
            models.CheckConstraint(
                condition=Q(auto_refund_hours__gte=1), name="market_refund_hours_gte_1"
            ),
            models.CheckConstraint(
                condition=~Q(status=MarketStatus.RESOLVED) | Q(winning_outcome__isnull=False),
                name="market_resolved_has_winner",
            ),
            # An arbitrator exactly when the rule names one.
            models.CheckConstraint(
                condition=Q(resolver_rule=ResolverRule.ARBITRATOR, arbitrator__isnull=False)
                | (~Q(resolver_rule=ResolverRule.ARBITRATOR) & Q(arbitrator__isnull=True)),
                name="market_arbitrator_iff_rule",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.question[:60]}"

    @property
    def is_final(self) -> bool:
        return self.status in {MarketStatus.RESOLVED, MarketStatus.CANCELLED, MarketStatus.REFUNDED}


class Outcome(models.Model):
    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="outcomes")
    index = models.PositiveSmallIntegerField()
    label = models.CharField(max_length=100)
    pool = models.DecimalField(max_digits=SHARES_MAX_DIGITS, decimal_places=SHARES_DECIMAL_PLACES)

    class Meta:
        ordering = ["market", "index"]
        constraints = [
            models.UniqueConstraint(fields=["market", "index"], name="outcome_unique_index"),
            models.CheckConstraint(condition=Q(pool__gt=Decimal(0)), name="outcome_pool_positive"),
        ]

    def __str__(self) -> str:
        return self.label


class ResolutionVote(models.Model):
    """One person's current vote on a market: an outcome, or cancel (outcome null).

    ``voter`` is the person, not the channel the vote came through (see
    ``markets.voters``); the unique constraint makes it one vote per person.
    """

    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="votes")
    # 0 for the votes on the first decision, N for the votes on the N-th correction:
    # earlier rounds' votes are kept as the record of who decided.
    round = models.PositiveIntegerField(default=0)
    voter = models.CharField(
        max_length=100,
        help_text="The person: discord:<user id> (from Discord, an API key, or a staff user "
        "linked to that Discord user), or user:<id> (a staff user not linked to Discord)",
    )
    outcome = models.ForeignKey(Outcome, null=True, blank=True, on_delete=models.PROTECT)
    # The staff user who cast it in the admin, whichever identity it was cast as:
    # if their Discord link changes, their earlier vote is replaced, not kept.
    cast_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["market", "round", "voter"], name="vote_one_per_person_per_round"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.voter}: {self.outcome or 'cancel'}"


class DescriptionVersion(models.Model):
    """One version of a market's description; every clarification adds one, none is changed.

    The first edit also stores the description the market was created with as
    version 1, so a market never edited has no rows and reads its description
    from ``Market.description`` (which always holds the latest version).
    """

    market = models.ForeignKey(
        Market, on_delete=models.PROTECT, related_name="description_versions"
    )
    number = models.PositiveIntegerField()
    text = models.TextField(blank=True, max_length=2000)
    edited_by = models.CharField(
        max_length=100, help_text="Who wrote this version (the audit log's actor)"
    )
    edited_by_name = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["market", "number"]
        constraints = [
            models.UniqueConstraint(fields=["market", "number"], name="description_version_unique"),
            models.CheckConstraint(condition=Q(number__gte=1), name="description_version_gte_1"),
        ]

    def __str__(self) -> str:
        return f"#{self.market_id} v{self.number}"


class MarketCorrection(models.Model):
    """A decided market's result changed by a correction vote: from one ending to another.

    Rows are appended, never edited (apart from ``applied_at``, the claim that
    makes the reversal and the new settlement run once); together they are the
    market's history: "resolved Yes, corrected to No by …".
    """

    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="corrections")
    number = models.PositiveIntegerField(help_text="1 for the market's first correction")
    from_status = models.CharField(max_length=16, choices=MarketStatus.choices)
    from_outcome = models.ForeignKey(
        Outcome, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    to_status = models.CharField(max_length=16, choices=MarketStatus.choices)
    to_outcome = models.ForeignKey(
        Outcome, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_by = models.CharField(max_length=100, help_text="The actor whose vote decided it")
    voters = models.JSONField(default=list, help_text="The people whose votes decided it")
    decided_at = models.DateTimeField()
    # Set when the earlier ending was reversed and the new one paid, in one transaction.
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["market", "number"]
        constraints = [
            models.UniqueConstraint(fields=["market", "number"], name="correction_unique_number"),
            models.CheckConstraint(condition=Q(number__gte=1), name="correction_number_gte_1"),
            models.CheckConstraint(
                condition=~Q(to_status=MarketStatus.RESOLVED) | Q(to_outcome__isnull=False),
                name="correction_resolved_has_winner",
            ),
        ]
        indexes = [
            models.Index(
                fields=["decided_at"],
                name="correction_unapplied",
                condition=Q(applied_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return f"market #{self.market_id} correction {self.number}"

    @staticmethod
    def ending_label(status: str, outcome: Outcome | None) -> str:
        """How one ending reads in the history: ``resolved Yes``, ``cancelled``."""
        if status == MarketStatus.RESOLVED and outcome is not None:
            return f"resolved {outcome.label}"
        return MarketStatus(status).label.lower()
