"""Unwinding a cancelled or abandoned market: every member's net on it is reversed.

Gains are taken back as far as the member's balance holds at that moment;
losses are returned from the escrow plus what was taken back; the house's
liquidity absorbs what cannot be taken back, and past it refunds are cut pro
rata (``plan_unwind``). Whoever cooperates with whom, the house loses at most
the market's liquidity (DESIGN.md, the house-loss bound). Like settlement,
the payments are claimed with a conditional UPDATE on the market row in the
same transaction, so a rerun, a crash or two workers pay once.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import DateTimeField, DurationField, ExpressionWrapper, F, Func, Q, Sum
from django.utils import timezone

from betting.models import Position
from betting.settlement import (
    MARKETS_FINISHED,
    SETTLEMENT_SECONDS,
    SWEEP_BATCH,
    SettlementResult,
    finish_market,
    payee_accounts,
    queue_drip_credits,
)
from markets.models import Market, MarketStatus
from points.drip.client import DripRejected, DripUnavailable
from points.drip.services import drip_balance, drip_debit, drip_queue_credit, is_drip_guild
from points.drip.writes import compensation_key
from points.ledger import Leg
from points.ledger_batch import Posting, ledger_post_batch
from points.models import (
    Account,
    DripTransfer,
    DripTransferStatus,
    LedgerEntry,
    Member,
    TransactionKind,
)
from points.services import house_account
from predictmarket.errors import InsufficientPoints


def _nets(market: Market) -> dict[int, int]:
    """Each member's net on the market so far: points received - points spent, fees included."""
    totals = (
        Position.objects.filter(market=market)
        .values("member_id")
        .annotate(spent=Sum("points_spent"), received=Sum("points_received"))
        .order_by("member_id")
    )
    return {row["member_id"]: row["received"] - row["spent"] for row in totals}


@dataclass(frozen=True)
class Unwind:
    """How a refunded market is unwound: signed amounts per member, and the house's share.

    ``taken_back`` are gains given back (a member who was up); ``refunds`` are
    losses returned (a member who was down), cut pro rata when the escrow plus
    what was taken back cannot pay them all. ``house_share`` is what is left
    for the house: at most the liquidity it put in, at least 0.
    """

    taken_back: dict[int, int]
    refunds: dict[int, int]
    house_share: int
    cut: bool

    @property
    def lines(self) -> dict[int, int]:
        """Each member's signed amount: + got back, - gave back."""
        return {
            **{member: -amount for member, amount in self.taken_back.items() if amount},
            **{member: amount for member, amount in self.refunds.items() if amount},
        }


def plan_unwind(*, nets: dict[int, int], escrow: int, can_give_back: dict[int, int]) -> Unwind:
    """Reverse every member's net, paying refunds from the escrow plus the gains taken back.

    ``can_give_back`` is what each member who is up can give back now (their
    balance at that moment). What cannot be taken back is absorbed by the
    house's liquidity, which is still in the escrow; past that, refunds are cut
    pro rata (rounded down; the dust goes to the house).
    """
    taken_back = {
        member: min(net, max(0, can_give_back.get(member, 0)))
        for member, net in nets.items()
        if net > 0
    }
    owed = {member: -net for member, net in nets.items() if net < 0}
    pool = escrow + sum(taken_back.values())
    total_owed = sum(owed.values())
    cut = total_owed > pool
    if cut:
        refunds = {member: amount * pool // total_owed for member, amount in owed.items()}
    else:
        refunds = owed
    return Unwind(
        taken_back=taken_back,
        refunds=refunds,
        house_share=pool - sum(refunds.values()),
        cut=cut,
    )


def _claim_abandoned(market_id: int, now: datetime) -> bool:
    """Mark an undecided market REFUNDED once its own auto-refund delay after closing passed."""
    return bool(
        Market.objects.filter(
            _auto_refund_due(now), pk=market_id, status__in=[MarketStatus.OPEN, MarketStatus.CLOSED]
        ).update(status=MarketStatus.REFUNDED, resolved_at=now)
    )


def _auto_refund_due(now: datetime) -> Q:
    """The market's own deadline (closes_at + its auto_refund_hours) has passed.

    The first term (the shortest delay allowed is one hour) lets PostgreSQL
    narrow the rows with the index on ``closes_at`` before the exact test.
    """
    return Q(closes_at__lte=now - timedelta(hours=1)) & Q(closes_at__lte=now - _refund_delay())


class _Hours(Func):
    """An integer column read as that many hours, on PostgreSQL and on SQLite.

    ``F(...) * Value(timedelta)`` works only on PostgreSQL: SQLite keeps a
    duration as integer microseconds, and Django refuses ``*`` on it.
    """

    output_field = DurationField()
    template = "(%(expressions)s * INTERVAL '1 hour')"

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, template="(%(expressions)s * 3600000000)", **extra)


def _refund_delay() -> _Hours:
    return _Hours(F("auto_refund_hours"))


def refund_market(
    *,
    market_id: int,
    automatic: bool = False,
    now: datetime | None = None,
    actor: str = "system",
) -> SettlementResult:
    """Unwind a cancelled market, or (``automatic``) one left undecided too long.

    Every member's net on the market is reversed: gains are taken back as far
    as the member's balance holds at this moment, losses are returned from the
    escrow plus what was taken back (see ``plan_unwind``). ``automatic`` first
    marks REFUNDED an open or closed market whose own ``auto_refund_hours``
    after closing have passed; a market already REFUNDED or CANCELLED and not
    yet paid is unwound either way. ``actor`` is who the audit log says unwound
    it (the system, or an operator through ``manage.py pm_refund``).
    """
    started = time.perf_counter()
    now = now or timezone.now()
    if automatic:
        # Its own commit: in a DRIP guild the gains are taken back at DRIP, over
        # HTTP, before the payments; nobody may vote on the market meanwhile.
        _claim_abandoned(market_id, now)
    market = (
        Market.objects.select_related("guild")
        .filter(
            pk=market_id,
            status__in=[MarketStatus.CANCELLED, MarketStatus.REFUNDED],
            settled_at__isnull=True,
        )
        .first()
    )
    if market is None:
        _return_uncounted_take_backs(market_id)
        return SettlementResult(market_id, performed=False)
    drip = is_drip_guild(market.guild)
    if drip:
        _take_back_at_drip(market)
    result = _unwind_claimed(market, now=now, drip=drip, actor=actor)
    if result is None:
        # Another worker unwound it meanwhile; a take-back this one made is not in it.
        _return_uncounted_take_backs(market_id)
        return SettlementResult(market_id, performed=False)
    SETTLEMENT_SECONDS.labels("refund").observe(time.perf_counter() - started)
    MARKETS_FINISHED.labels("refunded").inc()
    return result


def _unwind_claimed(
    market: Market, *, now: datetime, drip: bool, actor: str
) -> SettlementResult | None:
    """Claim the unwind and post it, in one transaction; None if someone else claimed it."""
    market_id = market.pk
    with transaction.atomic():
        # The claim: only one transaction can move settled_at from NULL.
        claimed = Market.objects.filter(
            pk=market_id,
            status__in=[MarketStatus.CANCELLED, MarketStatus.REFUNDED],
            settled_at__isnull=True,
        ).update(settled_at=now)
        if not claimed:
            return None
        market.refresh_from_db()
        nets = _nets(market)
        house = house_account(market.guild_id)
        account_of = payee_accounts(market, list(nets))
        # Lock every account the unwind touches, in primary-key order (the market
        # row is already locked by the claim): a gain is taken back from the
        # balance as it is now, and no tip can move it away in between.
        balances = dict(
            Account.objects.select_for_update()
            .filter(pk__in={*account_of.values(), market.escrow_account_id, house.pk})
            .order_by("pk")
            .values_list("pk", "balance")
        )
        if drip:
            can_give_back = _taken_back_at_drip(market)
        else:
            can_give_back = {member: balances[account_of[member]] for member in nets}
        plan = plan_unwind(
            nets=nets,
            escrow=balances[market.escrow_account_id],
            can_give_back=can_give_back,
        )
        escrow = market.escrow_account_id
        postings = [
            Posting(
                legs=[Leg(account_of[member], -amount), Leg(escrow, amount)],
                kind=TransactionKind.REFUND,
                memo=f"market #{market.pk} unwound: gain given back",
                idempotency_key=f"refund:{market.pk}:{member}",
            )
            for member, amount in plan.taken_back.items()
            if amount > 0
        ]
        postings += [
            Posting(
                legs=[Leg(escrow, -amount), Leg(account_of[member], amount)],
                kind=TransactionKind.REFUND,
                memo=f"market #{market.pk} unwound: loss returned"
                + (" (cut pro rata)" if plan.cut else ""),
                idempotency_key=f"refund:{market.pk}:{member}",
            )
            for member, amount in plan.refunds.items()
            if amount > 0
        ]
        if plan.house_share > 0:
            postings.append(
                Posting(
                    legs=[Leg(escrow, -plan.house_share), Leg(house.pk, plan.house_share)],
                    kind=TransactionKind.REFUND,
                    memo=f"market #{market.pk}: remainder to the house",
                    idempotency_key=f"refund:{market.pk}:house",
                )
            )
        ledger_post_batch(guild_id=market.guild_id, postings=postings, actor="system:refund")
        queue_drip_credits(market, plan.refunds, "refund")
        _record_unwind(market, plan.lines)
        members = {
            p.member_id: p.member
            for p in Position.objects.filter(market=market).select_related("member")
        }
        result = finish_market(
            market,
            kind="auto_refunded" if market.status == MarketStatus.REFUNDED else "refunded",
            payments=plan.lines,
            winners=members,
            house_share=plan.house_share,
            extra={
                "taken_back_total": sum(plan.taken_back.values()),
                "refunds_cut": plan.cut,
            },
            actor=actor,
        )
    return result


def _unwind_debit_prefix(market: Market, member_id: int) -> str:
    """Take-back debits of one member on one market: ``unwind:<market>:<member>:<attempt>``."""
    return f"unwind:{market.pk}:{member_id}:"


# How long an unwind waits for a gainer's credits to reach DRIP: deliveries are
# retried with backoff for minutes; one still undelivered after this is stuck,
# reported as such, and no longer a reason to keep the losers waiting.
PROCEEDS_WAIT = timedelta(hours=1)


def _take_back_at_drip(market: Market) -> None:
    """DRIP guilds: take each gain back at DRIP, before the local unwind, as far as it goes.

    Each debit is an external write (``drip_debit``: the intent is recorded
    before the call, and a debit not yet known is retried as it was). A refused
    debit (the member spent some of it at DRIP meanwhile) is asked again, next
    time, for what the balance holds then: as far as the balance holds, never
    all or nothing. When DRIP
    cannot be reached, or a debit's outcome is still being checked, the error
    propagates and the sweep tries again later: a brief outage never turns
    into refunds cut for lack of take-backs, and no take-back is counted before
    it is known.
    """
    gainers = {member: net for member, net in _nets(market).items() if net > 0}
    if DripTransfer.objects.filter(
        member_id__in=list(gainers),
        amount__gt=0,
        status__in=[DripTransferStatus.PENDING, DripTransferStatus.SENDING],
        # Only credits still on their way: one that DRIP keeps refusing (the member
        # left the realm) must not hold everyone's refund up for ever.
        created_at__gte=timezone.now() - PROCEEDS_WAIT,
    ).exists():
        # A gain still on its way to DRIP (a sale's proceeds not delivered yet) is
        # not in the balance a take-back can debit: wait for it, or the member
        # would keep it while the losers' refunds are cut.
        raise DripUnavailable(
            "Points owed to members who are up on this market are still being delivered "
            "to DRIP; the market is unwound once they have landed."
        )
    members = Member.objects.select_related("guild").in_bulk(list(gainers))
    for member_id, gain in gainers.items():
        if Market.objects.filter(pk=market.pk, settled_at__isnull=False).exists():
            return  # another worker has unwound it: take nothing more back
        prefix = _unwind_debit_prefix(market, member_id)
        attempts = list(
            DripTransfer.objects.filter(idempotency_key__startswith=prefix).order_by("created_at")
        )
        if any(t.status == DripTransferStatus.APPLIED for t in attempts):
            continue
        last = attempts[-1] if attempts else None
        try:
            if last is not None and last.status != DripTransferStatus.FAILED:
                # Not sent yet, or its outcome still unknown: that same debit, never a new one.
                key, amount = last.idempotency_key, -last.amount
            else:
                # First try, or the last was refused (the balance moved): ask again for
                # what the balance holds now, under a new key.
                key = f"{prefix}{len(attempts) + 1}"
                amount = min(gain, drip_balance(members[member_id], fresh=True))
            if amount > 0:
                drip_debit(member=members[member_id], amount=amount, key=key, purpose="unwind")
        except (InsufficientPoints, DripRejected):
            # Spent since, or no longer at DRIP at all (left the realm): nothing more can
            # be taken back this time, and that must not hold up everyone else's refund.
            continue


def _return_uncounted_take_backs(market_id: int) -> None:
    """Give back DRIP take-backs that the committed unwind did not count.

    A worker that was still taking gains back while another one claimed and
    posted the unwind may have debited a member afterwards; that debit is in no
    refund, so it is credited back to the member (once: the compensation key).
    """
    market = Market.objects.select_related("guild").filter(pk=market_id).first()
    if market is None or market.settled_at is None or not is_drip_guild(market.guild):
        return
    counted = set(
        LedgerEntry.objects.filter(
            account_id=market.escrow_account_id,
            amount__gt=0,
            transaction__idempotency_key__startswith=f"refund:{market.pk}:",
        ).values_list("transaction__idempotency_key", flat=True)
    )
    applied = DripTransfer.objects.filter(
        idempotency_key__startswith=f"unwind:{market.pk}:", status=DripTransferStatus.APPLIED
    )
    for debit in applied:
        if f"refund:{market.pk}:{debit.member_id}" in counted:
            continue
        with transaction.atomic():
            drip_queue_credit(
                member=debit.member_id,
                guild_id=market.guild_id,
                amount=-debit.amount,
                purpose="unwind_compensation",
                key=compensation_key(debit.idempotency_key),
            )


def _taken_back_at_drip(market: Market) -> dict[int, int]:
    """What each member gave back at DRIP for this market: applied debits not returned since.

    A debit whose outcome was learnt only after its request had given up is
    returned to the member by a compensating credit, so it is not counted.
    """
    applied = DripTransfer.objects.filter(
        idempotency_key__startswith=f"unwind:{market.pk}:", status=DripTransferStatus.APPLIED
    ).values_list("idempotency_key", "member_id", "amount")
    returned = set(
        DripTransfer.objects.filter(
            idempotency_key__in=[compensation_key(key) for key, _, _ in applied]
        ).values_list("idempotency_key", flat=True)
    )
    return {
        member_id: -amount
        for key, member_id, amount in applied
        if compensation_key(key) not in returned
    }


def _record_unwind(market: Market, lines: dict[int, int]) -> None:
    """Bring each member's received and spent on the market level: a net of 0 when whole.

    A refund counts as points received; a gain given back as points spent. It
    lands on the member's first position, which carries the market totals.
    """
    for member_id, amount in lines.items():
        first = (
            Position.objects.filter(market=market, member_id=member_id)
            .order_by("pk")
            .values_list("pk", flat=True)
            .first()
        )
        column = "points_received" if amount > 0 else "points_spent"
        Position.objects.filter(pk=first).update(**{column: F(column) + abs(amount)})


def markets_due_for_auto_refund(
    *, now: datetime | None = None, limit: int = SWEEP_BATCH, exclude: Collection[int] = ()
) -> list[int]:
    """Undecided markets past their own auto-refund deadline, the longest overdue first.

    The deadline is computed in SQL from each market's own ``auto_refund_hours``,
    so a batch holds only markets that are due, and none waits behind others.
    """
    now = now or timezone.now()
    due = (
        Market.objects.filter(
            _auto_refund_due(now), status__in=[MarketStatus.OPEN, MarketStatus.CLOSED]
        )
        .exclude(pk__in=list(exclude))
        .annotate(
            deadline=ExpressionWrapper(
                F("closes_at") + _refund_delay(), output_field=DateTimeField()
            )
        )
        .order_by("deadline", "pk")
        .values_list("pk", flat=True)
    )
    return list(due[:limit])
