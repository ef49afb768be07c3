"""Guilds, members and the double-entry points ledger.

The ledger
----------
Points are whole numbers. Every movement is a ``LedgerTransaction`` with two or
more ``LedgerEntry`` rows whose signed amounts sum to zero; entries are never
updated or deleted (mistakes are corrected by new transactions). Each guild has
one *house* account (the treasury: it issues points, so it may go negative),
one account per *member* and one *escrow* account per market. An account's
cached ``balance`` is updated in the same database transaction as its entries.

Invariants held by the database, not only by Python:

* member and escrow balances are never negative (CHECK);
* an entry's amount is never zero (CHECK);
* every idempotency key is used once (UNIQUE);
* on PostgreSQL, a deferred constraint trigger rejects at commit any
  transaction whose entries do not sum to zero, and another trigger refuses
  UPDATE or DELETE of entries (migration ``0002_ledger_triggers``).

Only ``points.ledger.ledger_post`` writes these tables.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q

from points.amounts import MAX_AMOUNT
from points.snowflakes import validate_snowflake

# The longest closing-soon lead a guild may set: a week.
CLOSING_SOON_LEAD_MAX_MINUTES = 7 * 24 * 60


def default_starting_balance() -> int:
    return settings.STARTING_BALANCE


def default_daily_amount() -> int:
    return settings.DAILY_POINTS


def default_min_bet() -> int:
    return settings.MIN_BET_AMOUNT


def default_max_bet() -> int:
    return settings.MAX_BET_AMOUNT


def default_liquidity() -> int:
    return settings.DEFAULT_LIQUIDITY


def default_min_resolution_votes() -> int:
    return settings.MIN_RESOLUTION_VOTES


def default_auto_refund_hours() -> int:
    return settings.AUTO_REFUND_HOURS


def default_correction_window_hours() -> int:
    return settings.CORRECTION_WINDOW_HOURS


# Every amount a guild sets is at most MAX_AMOUNT: a starting balance, daily
# amount or liquidity near the BIGINT limit would overflow the house's balance
# on the second member, claim or market (a 500 for the whole guild).
def _at_most_max_amount() -> MaxValueValidator:
    return MaxValueValidator(MAX_AMOUNT, message=f"At most {MAX_AMOUNT:,} points.")


class PointsBackend(models.TextChoices):
    LOCAL = "local", "Local ledger"
    DRIP = "drip", "DRIP (drip.re)"


class ResolverRule(models.TextChoices):
    """Who may resolve a market, besides the moderators (who always may).

    A guild picks one per market kind (``Guild.resolvers_binary`` and
    ``Guild.resolvers_multiple``); the market copies it at creation.
    """

    MODERATORS = "moderators", "Moderators only"
    CREATOR = "creator", "The market's creator"
    ARBITRATOR = "arbitrator", "An arbitrator named at creation"


class Guild(models.Model):
    """A Discord server and its market settings."""

    id = models.BigIntegerField(
        primary_key=True, validators=[validate_snowflake], help_text="Discord guild id"
    )
    name = models.CharField(max_length=100, blank=True)
    moderator_role_id = models.BigIntegerField(
        null=True, blank=True, validators=[validate_snowflake]
    )
    announcement_channel_id = models.BigIntegerField(
        null=True, blank=True, validators=[validate_snowflake]
    )
    starting_balance = models.BigIntegerField(
        default=default_starting_balance, validators=[MinValueValidator(0), _at_most_max_amount()]
    )
    daily_amount = models.BigIntegerField(
        default=default_daily_amount, validators=[MinValueValidator(0), _at_most_max_amount()]
    )
    min_bet = models.BigIntegerField(
        default=default_min_bet, validators=[MinValueValidator(1), _at_most_max_amount()]
    )
    max_bet = models.BigIntegerField(
        default=default_max_bet, validators=[MinValueValidator(1), _at_most_max_amount()]
    )
    default_liquidity = models.BigIntegerField(
        default=default_liquidity, validators=[MinValueValidator(1), _at_most_max_amount()]
    )
    fee_bps = models.PositiveIntegerField(
        "fee (basis points)", default=0, validators=[MaxValueValidator(5000)]
    )
    min_resolution_votes = models.PositiveIntegerField(
        default=default_min_resolution_votes,
        validators=[MinValueValidator(1), MaxValueValidator(25)],
    )
    auto_refund_hours = models.PositiveIntegerField(
        default=default_auto_refund_hours,
        validators=[MinValueValidator(1), MaxValueValidator(24 * 365)],
    )
    # Market kinds: a yes/no market has exactly two answers, a multiple-choice one 3 to 10.
    resolvers_binary = models.CharField(
        "who resolves two-answer markets",
        max_length=16,
        choices=ResolverRule.choices,
        default=ResolverRule.MODERATORS,
    )
    resolvers_multiple = models.CharField(
        "who resolves markets with 3 or more answers",
        max_length=16,
        choices=ResolverRule.choices,
        default=ResolverRule.MODERATORS,
    )
    # How long after a market is decided moderators may still correct its result
    # (vote it to another answer or to cancel); 0 turns corrections off.
    correction_window_hours = models.PositiveIntegerField(
        default=default_correction_window_hours,
        validators=[MaxValueValidator(24 * 365)],
    )
    public_pages = models.BooleanField(default=False)
    # Announcements in the announcement channel (botrunner.announcements): each new
    # market, and each open market once when it is this many minutes from closing
    # (0 = never; at most a week, the longest lead that still reads as "soon").
    announce_new_markets = models.BooleanField(default=False)
    closing_soon_lead_minutes = models.PositiveIntegerField(
        "closing-soon lead (minutes)",
        default=0,
        validators=[
            MaxValueValidator(
                CLOSING_SOON_LEAD_MAX_MINUTES,
                f"At most {CLOSING_SOON_LEAD_MAX_MINUTES:,} minutes (a week); 0 turns it off.",
            )
        ],
    )
    # Each market posted through the bot gets a thread that holds its live message
    # and its updates (closing soon, results, corrections, refunds).
    market_threads = models.BooleanField(default=False)
    transfers_enabled = models.BooleanField(default=True)
    points_backend = models.CharField(
        max_length=16, choices=PointsBackend.choices, default=PointsBackend.LOCAL
    )
    drip_realm_id = models.CharField(
        "DRIP realm id",
        max_length=24,
        blank=True,
        validators=[RegexValidator(r"^[0-9a-f]{24}$", "A DRIP realm id is 24 hex characters.")],
    )
    drip_currency_id = models.CharField("DRIP currency id", max_length=64, blank=True)
    # Fernet-encrypted (points.drip.secrets); never shown back in full.
    drip_api_key_encrypted = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(id__gt=0), name="guild_id_positive"),
            models.CheckConstraint(condition=Q(starting_balance__gte=0), name="guild_start_gte_0"),
            models.CheckConstraint(condition=Q(daily_amount__gte=0), name="guild_daily_gte_0"),
            models.CheckConstraint(
                condition=Q(starting_balance__lte=MAX_AMOUNT)
                & Q(daily_amount__lte=MAX_AMOUNT)
                & Q(min_bet__lte=MAX_AMOUNT)
                & Q(max_bet__lte=MAX_AMOUNT)
                & Q(default_liquidity__lte=MAX_AMOUNT),
                name="guild_amounts_lte_max",
            ),
            models.CheckConstraint(
                condition=Q(min_bet__gte=1) & Q(max_bet__gte=models.F("min_bet")),
                name="guild_bet_limits",
            ),
            models.CheckConstraint(condition=Q(default_liquidity__gte=1), name="guild_liq_gte_1"),
            models.CheckConstraint(
                condition=Q(fee_bps__gte=0) & Q(fee_bps__lte=5000), name="guild_fee_range"
            ),
            models.CheckConstraint(
                condition=Q(min_resolution_votes__gte=1), name="guild_votes_gte_1"
            ),
            models.CheckConstraint(
                condition=Q(auto_refund_hours__gte=1), name="guild_refund_gte_1"
            ),
            models.CheckConstraint(
                condition=Q(closing_soon_lead_minutes__lte=CLOSING_SOON_LEAD_MAX_MINUTES),
                name="guild_closing_soon_lead_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name or str(self.id)


class Member(models.Model):
    """A Discord user in a guild, created on first use."""

    guild = models.ForeignKey(Guild, on_delete=models.PROTECT, related_name="members")
    discord_id = models.BigIntegerField(validators=[validate_snowflake])
    display_name = models.CharField(max_length=100, blank=True)
    is_frozen = models.BooleanField(default=False)
    frozen_reason = models.CharField(max_length=500, blank=True)
    last_daily_at = models.DateTimeField(null=True, blank=True)
    # ``/notify on``: a direct message with the member's result on every market
    # they traded, when it is paid, refunded or corrected. Off until they ask.
    notify_results = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["guild", "discord_id"], name="member_unique_in_guild"),
            models.CheckConstraint(condition=Q(discord_id__gt=0), name="member_id_positive"),
        ]

    def __str__(self) -> str:
        return self.display_name or str(self.discord_id)


class AccountKind(models.TextChoices):
    HOUSE = "house", "House"
    MEMBER = "member", "Member"
    ESCROW = "escrow", "Escrow"
    # DRIP guilds: points that came in from (or went back to) DRIP. Like the
    # house it may go negative: it mirrors balances kept outside this ledger.
    CLEARING = "clearing", "DRIP clearing"


# Accounts that mirror points issued or held elsewhere, so may go negative.
MAY_GO_NEGATIVE = (AccountKind.HOUSE, AccountKind.CLEARING)


class Account(models.Model):
    # Not indexed alone: account_leaderboard_idx leads with it. Every posting
    # rewrites its accounts' rows (balance is indexed, so never in place), and
    # each index on them is one more entry written per leg.
    guild = models.ForeignKey(
        Guild, on_delete=models.PROTECT, related_name="accounts", db_index=False
    )
    kind = models.CharField(max_length=16, choices=AccountKind.choices)
    member = models.OneToOneField(
        Member, null=True, blank=True, on_delete=models.PROTECT, related_name="account"
    )
    label = models.CharField(max_length=100, blank=True)
    balance = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # The house issues points and may go negative; nobody else may.
            models.CheckConstraint(
                condition=Q(kind__in=[AccountKind.HOUSE, AccountKind.CLEARING]) | Q(balance__gte=0),
                name="account_balance_not_negative",
            ),
            models.CheckConstraint(
                condition=(Q(kind=AccountKind.MEMBER) & Q(member__isnull=False))
                | (~Q(kind=AccountKind.MEMBER) & Q(member__isnull=True)),
                name="account_member_iff_member_kind",
            ),
            models.UniqueConstraint(
                fields=["guild"],
                condition=Q(kind=AccountKind.HOUSE),
                name="account_one_house_per_guild",
            ),
            models.UniqueConstraint(
                fields=["guild"],
                condition=Q(kind=AccountKind.CLEARING),
                name="account_one_clearing_per_guild",
            ),
        ]
        indexes = [
            # Leaderboard: members of one guild ordered by balance.
            models.Index(
                fields=["guild", "kind", "-balance", "id"], name="account_leaderboard_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.label or self.pk}"


class TransactionKind(models.TextChoices):
    GRANT = "grant", "Grant"
    DAILY = "daily", "Daily claim"
    BET = "bet", "Bet"
    SELL = "sell", "Sell"
    PAYOUT = "payout", "Payout"
    REFUND = "refund", "Refund"
    SUBSIDY = "subsidy", "Market subsidy"
    FEE = "fee", "Fee"
    ADJUSTMENT = "adjustment", "Adjustment"
    TRANSFER = "transfer", "Transfer"


class LedgerTransaction(models.Model):
    # Not indexed alone: the (guild, created_at) index leads with it.
    guild = models.ForeignKey(
        Guild, on_delete=models.PROTECT, related_name="transactions", db_index=False
    )
    kind = models.CharField(max_length=16, choices=TransactionKind.choices)
    actor = models.CharField(max_length=100)
    memo = models.CharField(max_length=500, blank=True)
    idempotency_key = models.CharField(max_length=200, unique=True)
    # sha256 of kind and entries: a replay with other accounts or amounts is a conflict.
    fingerprint = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["guild", "created_at"])]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind} {self.memo}"


class LedgerEntry(models.Model):
    transaction = models.ForeignKey(
        LedgerTransaction, on_delete=models.PROTECT, related_name="entries"
    )
    # Not indexed alone: entry_account_history_idx leads with it.
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="entries", db_index=False
    )
    amount = models.BigIntegerField()
    balance_after = models.BigIntegerField()

    class Meta:
        verbose_name_plural = "ledger entries"
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="entry_amount_not_zero"),
        ]
        indexes = [models.Index(fields=["account", "-id"], name="entry_account_history_idx")]

    def __str__(self) -> str:
        return f"{self.account_id}: {self.amount:+d}"


class ApiToken(models.Model):
    """A member's personal API key (hashed). See ``points.api_tokens``."""

    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="api_tokens")
    prefix = models.CharField(max_length=16, unique=True)
    key_hash = models.CharField(max_length=64)
    # Shown to staff, and it spares Discord a question for the rate-limit bypass of
    # keys that were issued to plain members. It grants nothing: moderator actions ask
    # Discord every time (``predictmarket.discord_api``).
    issued_by_moderator = models.BooleanField(
        default=False,
        help_text="The member was a moderator when the key was issued. Grants nothing by "
        "itself: every moderator action asks Discord whether they still are one.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["member"],
                condition=Q(revoked_at__isnull=True),
                name="api_token_one_live_per_member",
            )
        ]

    def __str__(self) -> str:
        return f"pm_{self.prefix}_… ({self.member})"


class DripTransferStatus(models.TextChoices):
    """The states of one write to DRIP (see ``points.drip.services``).

    pending -> sending (intent committed, then the PATCH) -> applied | failed |
    pending again (credits proven not applied) | ambiguous (for a person).
    """

    PENDING = "pending", "Pending (not sent)"
    SENDING = "sending", "Sending (outcome not recorded yet)"
    APPLIED = "applied", "Applied at DRIP"
    FAILED = "failed", "Failed (not applied)"
    AMBIGUOUS = "ambiguous", "Unknown: needs review"


# Transfers that may still change a member's DRIP balance.
DRIP_UNDELIVERED = (
    DripTransferStatus.PENDING,
    DripTransferStatus.SENDING,
    DripTransferStatus.AMBIGUOUS,
)


class DripTransfer(models.Model):
    """One change to a member's DRIP balance that this project asked for.

    DRIP takes no idempotency key, so this row is the write's state machine:
    the intent (status *sending*, attempt, the balance seen before, when it
    was sent) is committed before the HTTP call, the outcome after it. A
    crash in between leaves *sending*, which delivery settles by reading the
    balance once no request can still land. Debits for bets are made
    synchronously; credits (payouts, refunds, sales, compensations) are
    delivered by a Celery task. See ``points.drip.services``.
    """

    guild = models.ForeignKey(Guild, on_delete=models.PROTECT, related_name="drip_transfers")
    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="drip_transfers")
    amount = models.BigIntegerField(help_text="Positive: credit to DRIP; negative: debit")
    purpose = models.CharField(max_length=32)
    # What the points pay for (e.g. "market:12:outcome:0"): a reused idempotency
    # key is the same request only if member, amount, purpose and subject agree.
    subject = models.CharField(max_length=100, blank=True)
    idempotency_key = models.CharField(max_length=200, unique=True)
    status = models.CharField(
        max_length=16, choices=DripTransferStatus.choices, default=DripTransferStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    balance_before = models.BigIntegerField(null=True, blank=True)
    balance_after = models.BigIntegerField(null=True, blank=True)
    # Pending: when to send (credits) or to give up on a debit never sent;
    # sending: when the outcome may be read from the balance (the settling delay);
    # an applied bet debit: when to check that a trade used it (null once checked).
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "next_attempt_at"])]
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="drip_transfer_amount_not_zero"),
        ]

    def __str__(self) -> str:
        return f"{self.purpose} {self.amount:+d} for {self.member} ({self.status})"
