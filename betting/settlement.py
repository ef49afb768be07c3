"""Settlement of resolved markets and refunds of cancelled or abandoned ones.

Both are claimed with a conditional UPDATE on the market row, in the same
database transaction as the payments: two workers, a rerun after a crash, or
the sweep racing the on-commit task pay exactly once, and a worker killed
midway rolls back its claim with its payments so the sweep retries it.
Each member's payment is its own ledger transaction with a deterministic
idempotency key (``payout:<market>:<member>``), posted in one batch.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR

from django.db import transaction
from django.db.models import BigIntegerField, F, Sum
from django.db.models.functions import Cast, Floor
from django.utils import timezone
from prometheus_client import Counter, Histogram

from betting.models import Position
from markets.models import Market, MarketStatus
from markets.services import market_event_payload
from points.drip.services import clearing_account, is_drip_guild
from points.ledger import Leg
from points.ledger_batch import Posting, ledger_post_batch
from points.models import Account, DripTransfer, TransactionKind
from points.services import house_account
from predictmarket.audit import audit_record
from predictmarket.outbox import outbox_append

logger = logging.getLogger(__name__)

SETTLEMENT_SECONDS = Histogram(
    "predictmarket_settlement_seconds", "Time to settle or refund one market", ["kind"]
)
MARKETS_FINISHED = Counter(
    "predictmarket_markets_finished_total", "Markets settled or refunded", ["kind"]
)


@dataclass
class SettlementResult:
    market_id: int
    performed: bool  # False when someone else already settled it (or nothing to do)
    kind: str = ""
    paid_total: int = 0
    members_paid: int = 0
    house_share: int = 0
    top: list[dict[str, object]] = field(default_factory=list)


def _escrow_balance(market: Market) -> int:
    return Account.objects.values_list("balance", flat=True).get(pk=market.escrow_account_id)


def _house_leg_postings(
    market: Market, *, escrow_after_payments: int, house_id: int
) -> list[Posting]:
    """Return the escrow's remainder to the house (or take a shortfall from it)."""
    if escrow_after_payments > 0:
        legs = [
            Leg(market.escrow_account_id, -escrow_after_payments),
            Leg(house_id, escrow_after_payments),
        ]
        memo = f"market #{market.pk}: remainder to the house"
    else:
        return []
    return [
        Posting(
            legs=legs,
            kind=TransactionKind.PAYOUT,
            memo=memo,
            idempotency_key=f"settle:{market.pk}:house",
        )
    ]


def settle_resolved_market(*, market_id: int) -> SettlementResult:
    """Pay 1 point per winning share (rounded down per member); the rest to the house."""
    started = time.perf_counter()
    now = timezone.now()
    with transaction.atomic():
        # The claim: only one transaction can move settled_at from NULL.
        claimed = Market.objects.filter(
            pk=market_id, status=MarketStatus.RESOLVED, settled_at__isnull=True
        ).update(settled_at=now)
        if not claimed:
            return SettlementResult(market_id, performed=False)
        market = Market.objects.select_related("guild", "winning_outcome").get(pk=market_id)
        winners = list(
            Position.objects.filter(outcome_id=market.winning_outcome_id, shares__gte=1)
            .select_related("member")
            .order_by("member_id")
        )
        house = house_account(market.guild_id)
        escrow = _escrow_balance(market)
        payouts: dict[int, int] = {}
        account_of = _payee_accounts(market, [p.member_id for p in winners])
        for position in winners:
            payouts[position.member_id] = int(
                position.shares.to_integral_value(rounding=ROUND_FLOOR)
            )
        postings = [
            Posting(
                legs=[Leg(market.escrow_account_id, -amount), Leg(account_of[member_id], amount)],
                kind=TransactionKind.PAYOUT,
                memo=f"market #{market.pk} paid out: {market.winning_outcome.label}"[:500],
                idempotency_key=f"payout:{market.pk}:{member_id}",
            )
            for member_id, amount in payouts.items()
            if amount > 0
        ]
        paid_total = sum(payouts.values())
        postings += _house_leg_postings(
            market, escrow_after_payments=escrow - paid_total, house_id=house.pk
        )
        ledger_post_batch(guild_id=market.guild_id, postings=postings, actor="system:settlement")
        _queue_drip_credits(market, payouts, "payout")
        _record_received(market, outcome_id=market.winning_outcome_id)
        result = _finish(
            market,
            kind="settled",
            payments=payouts,
            winners={p.member_id: p.member for p in winners},
            house_share=escrow - paid_total,
        )
    SETTLEMENT_SECONDS.labels("settle").observe(time.perf_counter() - started)
    MARKETS_FINISHED.labels("settled").inc()
    return result


def _payee_accounts(market: Market, member_ids: list[int]) -> dict[int, int]:
    """Where each member's payment goes: their account, or DRIP's clearing account."""
    if is_drip_guild(market.guild):
        clearing = clearing_account(market.guild_id).pk
        return dict.fromkeys(member_ids, clearing)
    return dict(Account.objects.filter(member_id__in=member_ids).values_list("member_id", "pk"))


def _queue_drip_credits(market: Market, payments: dict[int, int], purpose: str) -> None:
    """DRIP guilds: the payments go on to DRIP, delivered by a task until they land.

    Queued in the settlement's own transaction, so a payout is never recorded
    without its credit (the peers' bug: payouts skipped on an API error while
    the market was marked resolved).
    """
    if not is_drip_guild(market.guild):
        return
    DripTransfer.objects.bulk_create(
        [
            DripTransfer(
                guild_id=market.guild_id,
                member_id=member_id,
                amount=amount,
                purpose=purpose,
                idempotency_key=f"{purpose}:{market.pk}:{member_id}",
                next_attempt_at=timezone.now(),
            )
            for member_id, amount in payments.items()
            if amount > 0
        ],
        batch_size=5000,
    )


def _record_received(market: Market, *, outcome_id: int) -> None:
    """Count payouts (floor of the winning shares) as points received, for profit figures."""
    Position.objects.filter(market=market, outcome_id=outcome_id, shares__gte=1).update(
        points_received=F("points_received") + Cast(Floor("shares"), BigIntegerField())
    )


def _refund_amounts(market: Market) -> dict[int, int]:
    totals = (
        Position.objects.filter(market=market)
        .values("member_id")
        .annotate(spent=Sum("points_spent"), received=Sum("points_received"))
        .order_by("member_id")
    )
    return {row["member_id"]: max(0, row["spent"] - row["received"]) for row in totals}


def refund_market(
    *, market_id: int, automatic: bool = False, now: datetime | None = None
) -> SettlementResult:
    """Give each member back max(0, spent - received); the escrow settles with the house.

    ``automatic`` refunds an open or closed market still undecided
    ``auto_refund_hours`` after it closed; otherwise a CANCELLED market is refunded.
    """
    started = time.perf_counter()
    now = now or timezone.now()
    with transaction.atomic():
        if automatic:
            market = Market.objects.select_related("guild").filter(pk=market_id).first()
            if market is None:
                return SettlementResult(market_id, performed=False)
            deadline = now - timedelta(hours=market.guild.auto_refund_hours)
            claimed = Market.objects.filter(
                pk=market_id,
                status__in=[MarketStatus.OPEN, MarketStatus.CLOSED],
                closes_at__lte=deadline,
            ).update(status=MarketStatus.REFUNDED, resolved_at=now, settled_at=now)
        else:
            claimed = Market.objects.filter(
                pk=market_id, status=MarketStatus.CANCELLED, settled_at__isnull=True
            ).update(settled_at=now)
        if not claimed:
            return SettlementResult(market_id, performed=False)
        market = Market.objects.select_related("guild").get(pk=market_id)
        refunds = _refund_amounts(market)
        house = house_account(market.guild_id)
        escrow = _escrow_balance(market)
        total = sum(refunds.values())
        postings: list[Posting] = []
        if total > escrow:
            # Sells at a profit took more out than the collateral left: the house covers it.
            postings.append(
                Posting(
                    legs=[
                        Leg(house.pk, -(total - escrow)),
                        Leg(market.escrow_account_id, total - escrow),
                    ],
                    kind=TransactionKind.REFUND,
                    memo=f"market #{market.pk}: house covers the refund shortfall",
                    idempotency_key=f"refund:{market.pk}:house-cover",
                )
            )
        account_of = _payee_accounts(market, list(refunds))
        postings += [
            Posting(
                legs=[Leg(market.escrow_account_id, -amount), Leg(account_of[member_id], amount)],
                kind=TransactionKind.REFUND,
                memo=f"market #{market.pk} refunded",
                idempotency_key=f"refund:{market.pk}:{member_id}",
            )
            for member_id, amount in refunds.items()
            if amount > 0
        ]
        remainder = escrow - total
        if remainder > 0:
            postings.append(
                Posting(
                    legs=[Leg(market.escrow_account_id, -remainder), Leg(house.pk, remainder)],
                    kind=TransactionKind.REFUND,
                    memo=f"market #{market.pk}: remainder to the house",
                    idempotency_key=f"refund:{market.pk}:house",
                )
            )
        ledger_post_batch(guild_id=market.guild_id, postings=postings, actor="system:refund")
        _queue_drip_credits(market, refunds, "refund")
        for member_id, amount in refunds.items():
            if amount:
                _mark_refunded(market, member_id, amount)
        members = {
            p.member_id: p.member
            for p in Position.objects.filter(market=market).select_related("member")
        }
        result = _finish(
            market,
            kind="auto_refunded" if automatic else "refunded",
            payments=refunds,
            winners=members,
            house_share=remainder,
        )
    SETTLEMENT_SECONDS.labels("refund").observe(time.perf_counter() - started)
    MARKETS_FINISHED.labels("refunded").inc()
    return result


def _mark_refunded(market: Market, member_id: int, amount: int) -> None:
    """Add the refund to the member's first position, so received == spent afterwards."""
    first = (
        Position.objects.filter(market=market, member_id=member_id)
        .order_by("pk")
        .values_list("pk", flat=True)
        .first()
    )
    Position.objects.filter(pk=first).update(points_received=F("points_received") + amount)


def _finish(
    market: Market,
    *,
    kind: str,
    payments: dict[int, int],
    winners: dict[int, object],
    house_share: int,
) -> SettlementResult:
    ranked = sorted(
        ((amount, member_id) for member_id, amount in payments.items() if amount), reverse=True
    )
    top = [
        {
            "member_id": member_id,
            "discord_id": str(getattr(winners.get(member_id), "discord_id", "")),
            "display_name": getattr(winners.get(member_id), "display_name", ""),
            "amount": amount,
        }
        for amount, member_id in ranked[:10]
    ]
    paid_total = sum(payments.values())
    members_paid = sum(1 for amount in payments.values() if amount)
    data = {"paid_total": paid_total, "members_paid": members_paid, "house_share": house_share}
    audit_record(
        actor="system", action=f"market.{kind}", guild_id=market.guild_id, target=market, data=data
    )
    outbox_append(
        kind=f"market.{kind}",
        guild_id=market.guild_id,
        aggregate_type="market",
        aggregate_id=market.pk,
        payload=market_event_payload(
            market,
            winning_outcome=market.winning_outcome.label if market.winning_outcome_id else None,
            top=top,
            **data,
        ),
    )
    logger.info("market %s %s", market.pk, kind, extra=data)
    return SettlementResult(
        market.pk,
        performed=True,
        kind=kind,
        paid_total=paid_total,
        members_paid=members_paid,
        house_share=house_share,
        top=top,
    )


def markets_due_for_auto_refund(*, now: datetime | None = None) -> list[int]:
    """Undecided markets whose guild's auto-refund delay after closing has passed."""
    now = now or timezone.now()
    candidates = Market.objects.filter(
        status__in=[MarketStatus.OPEN, MarketStatus.CLOSED], closes_at__lte=now - timedelta(hours=1)
    ).select_related("guild")
    return [
        market.pk
        for market in candidates.only("pk", "closes_at", "guild__auto_refund_hours")[:1000]
        if market.closes_at <= now - timedelta(hours=market.guild.auto_refund_hours)
    ]
