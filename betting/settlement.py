"""Settlement of resolved markets, and what settling and unwinding share.

Refunds of cancelled or abandoned markets (the unwind) are in
``betting.unwind``. Both are claimed with a conditional UPDATE on the market row, in the same
database transaction as the payments: two workers, a rerun after a crash, or
the sweep racing the on-commit task pay exactly once, and a worker killed
midway rolls back its claim with its payments so the sweep retries it.
Each member's payment is its own ledger transaction with a deterministic
idempotency key (``payout:<market>:<member>``), posted in one batch.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR

from django.db import transaction
from django.db.models import (
    BigIntegerField,
    F,
    QuerySet,
    Sum,
)
from django.db.models.functions import Cast, Floor
from django.utils import timezone
from prometheus_client import Counter, Histogram

from betting.models import Position
from markets.models import Market, MarketStatus
from markets.selectors import public_market_url
from markets.services import market_event_payload
from markets.snapshots import market_changed
from points.drip.services import (
    clearing_account,
    is_drip_guild,
)
from points.ledger import Leg
from points.ledger_batch import Posting, ledger_post_batch
from points.models import (
    Account,
    DripTransfer,
    TransactionKind,
)
from points.services import house_account
from predictmarket.audit import audit_record
from predictmarket.outbox import outbox_append, outbox_append_many

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
    # Every member's signed amount (+ paid or got back, - gave back), largest first.
    lines: list[dict[str, object]] = field(default_factory=list)


@dataclass(frozen=True)
class _Payee:
    """Who a payment went to, as ``finish_market`` names them in its lines."""

    discord_id: int
    display_name: str


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


def settle_resolved_market(*, market_id: int, actor: str = "system") -> SettlementResult:
    """Pay 1 point per winning share (rounded down per member); the rest to the house.

    ``actor`` is who the audit log says settled it: the system (the on-commit
    task, the sweep) or an operator (``manage.py pm_settle``).
    """
    started = time.perf_counter()
    now = timezone.now()
    with transaction.atomic():
        # The claim: only one transaction can move settled_at from NULL.
        claimed = Market.objects.filter(
            pk=market_id, status=MarketStatus.RESOLVED, settled_at__isnull=True
        ).update(settled_at=now, version=F("version") + 1)
        if not claimed:
            return SettlementResult(market_id, performed=False)
        market = Market.objects.select_related("guild", "winning_outcome").get(pk=market_id)
        market_changed(market)
        # Plain rows, not model instances: with 10,000 winners, building the
        # Position and Member objects took longer than the database's work.
        winners = list(
            Position.objects.filter(outcome_id=market.winning_outcome_id, shares__gte=1)
            .order_by("member_id")
            .values_list("member_id", "shares", "member__discord_id", "member__display_name")
        )
        house = house_account(market.guild_id)
        escrow = _escrow_balance(market)
        payouts = {
            member_id: int(shares.to_integral_value(rounding=ROUND_FLOOR))
            for member_id, shares, _, _ in winners
        }
        account_of = payee_accounts(market, list(payouts))
        memo = f"market #{market.pk} paid out: {market.winning_outcome.label}"[:500]
        postings = [
            Posting(
                legs=[Leg(market.escrow_account_id, -amount), Leg(account_of[member_id], amount)],
                kind=TransactionKind.PAYOUT,
                memo=memo,
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
        queue_drip_credits(market, payouts, "payout")
        _record_received(market, outcome_id=market.winning_outcome_id)
        result = finish_market(
            market,
            kind="settled",
            payments=payouts,
            winners={
                member_id: _Payee(discord_id=discord_id, display_name=display_name)
                for member_id, _, discord_id, display_name in winners
            },
            house_share=escrow - paid_total,
            actor=actor,
        )
    SETTLEMENT_SECONDS.labels("settle").observe(time.perf_counter() - started)
    MARKETS_FINISHED.labels("settled").inc()
    return result


def payee_accounts(market: Market, member_ids: list[int]) -> dict[int, int]:
    """Where each member's payment goes: their account, or DRIP's clearing account.

    ``member_ids`` are members with a position on the market (whoever is paid,
    refunded or taken back from traded on it).
    """
    if is_drip_guild(market.guild):
        clearing = clearing_account(market.guild_id).pk
        return dict.fromkeys(member_ids, clearing)
    # The members are read by a subquery, not bound one parameter each: a
    # settlement has up to every trader of the market (10,000 and more).
    wanted = set(member_ids)
    traders = Position.objects.filter(market=market).values("member_id")
    accounts = Account.objects.filter(guild_id=market.guild_id, member_id__in=traders)
    return {
        member_id: pk
        for member_id, pk in accounts.values_list("member_id", "pk")
        if member_id in wanted
    }


def queue_drip_credits(market: Market, payments: dict[int, int], purpose: str) -> None:
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


def finish_market(
    market: Market,
    *,
    kind: str,
    payments: dict[int, int],
    winners: dict[int, object],
    house_share: int,
    extra: dict[str, object] | None = None,
    actor: str = "system",
) -> SettlementResult:
    ranked = sorted(
        ((abs(amount), amount, member_id) for member_id, amount in payments.items() if amount),
        reverse=True,
    )
    lines = [
        {
            "member_id": member_id,
            "discord_id": str(getattr(winners.get(member_id), "discord_id", "")),
            "display_name": getattr(winners.get(member_id), "display_name", ""),
            "amount": amount,
        }
        for _, amount, member_id in ranked
    ]
    top = lines[:10]
    paid_total = sum(amount for amount in payments.values() if amount > 0)
    members_paid = sum(1 for amount in payments.values() if amount > 0)
    data = {
        "paid_total": paid_total,
        "members_paid": members_paid,
        "house_share": house_share,
        **(extra or {}),
    }
    audit_record(
        actor=actor, action=f"market.{kind}", guild_id=market.guild_id, target=market, data=data
    )
    winning_outcome = market.winning_outcome.label if market.winning_outcome_id else None
    url = public_market_url(market)
    outbox_append(
        kind=f"market.{kind}",
        guild_id=market.guild_id,
        aggregate_type="market",
        aggregate_id=market.pk,
        payload=market_event_payload(
            market,
            winning_outcome=winning_outcome,
            top=top,
            # The payload stays bounded (top 10); the count and link let the
            # announcement say how many more there are and where to see them all.
            holders=len(lines),
            url=url,
            **data,
        ),
    )
    _queue_result_messages(
        market,
        kind=kind,
        payments=payments,
        common={
            "guild_name": market.guild.name,
            "winning_outcome": winning_outcome,
            "url": url,
            **(extra or {}),
        },
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
        lines=lines,
    )


RESULT_MESSAGE = "member.result"


def _queue_result_messages(
    market: Market, *, kind: str, payments: dict[int, int], common: dict[str, object]
) -> int:
    """One outbox event per opted-in member who traded on the market: their result DM.

    Every such member, not only the announcement's top 10: each event is one
    member's own small payload, so the count is bounded by the members who
    opted in (``/notify on``), and none is too big however many held. Written in
    the settlement's transaction, which only the claim's winner runs, so each
    member gets one event per settlement; the bot records each delivered DM by
    event id, so a re-read event is not sent twice.

    ``net`` is the member's whole result on the market so far (received - spent,
    every earlier payment, refund and correction included); ``amount`` is what
    this settlement moved for them.
    """
    traders = (
        Position.objects.filter(market=market, member__notify_results=True)
        .values("member_id", "member__discord_id", "member__display_name")
        .annotate(received=Sum("points_received"), spent=Sum("points_spent"))
        .order_by("member_id")
    )
    events = [
        (
            market.pk,
            # The member's own fields last, as a dict: a key of ``common`` with the
            # same name is overridden, never a TypeError inside the settlement.
            market_event_payload(
                market,
                **{
                    **common,
                    "kind": kind,
                    "member_id": row["member_id"],
                    "discord_id": str(row["member__discord_id"]),
                    "display_name": row["member__display_name"],
                    "amount": payments.get(row["member_id"], 0),
                    "net": row["received"] - row["spent"],
                },
            ),
        )
        for row in traders
    ]
    if events:
        outbox_append_many(
            kind=RESULT_MESSAGE, guild_id=market.guild_id, aggregate_type="market", events=events
        )
    return len(events)


SWEEP_BATCH = 200


def unsettled_decided_markets() -> QuerySet[Market]:
    """Markets resolved, cancelled or refunded whose payouts are not done yet (every guild)."""
    return Market.objects.filter(
        status__in=[MarketStatus.RESOLVED, MarketStatus.CANCELLED, MarketStatus.REFUNDED],
        settled_at__isnull=True,
    )


def markets_due_for_settlement(
    *, limit: int = SWEEP_BATCH, exclude: Collection[int] = ()
) -> list[tuple[int, str]]:
    """Decided markets not yet paid (a lost on-commit task), the longest waiting first."""
    pending = (
        unsettled_decided_markets()
        .exclude(pk__in=list(exclude))
        .order_by("resolved_at", "pk")
        .values_list("pk", "status")
    )
    return list(pending[:limit])
