"""Applying a correction: the earlier ending reversed and the new one paid, once.

A corrected market was already paid (settled, or unwound) under its earlier
result. Rather than reversing every payment and paying again, each member's
line is what brings their net on the market (points received - points spent,
payouts and refunds included, as the positions record it) to what the new
ending alone would have given them:

- corrected to an answer: their trades' net plus 1 point per winning share
  (rounded down), exactly what settling it so in the first place would pay;
- corrected to cancel: 0, every trade unwound.

Members above their target give the difference back as far as their balance
holds now; members below it are paid from the house's earlier take on the
market (which goes back into the escrow first) plus what was given back. This
is the unwind's rule (``plan_unwind``): what cannot be taken back is absorbed by
the house only up to what it got from the market, past that the payments are
cut pro rata, and the remainder returns to the house. So the house's net on the
market stays ≥ -liquidity (the house-loss bound) and the escrow ends at 0.
Every movement is a new ledger transaction (``correct:<market>:<n>:…``); nothing
is edited.

The work is claimed by a conditional UPDATE of the correction's ``applied_at``
under the market's lock, in the same transaction as the payments: concurrent
workers, a rerun or the sweep after a killed worker apply it exactly once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR

from django.db import transaction
from django.db.models import F, Q, Sum
from django.utils import timezone

from betting.models import Position, Trade, TradeSide
from betting.settlement import (
    MARKETS_FINISHED,
    SETTLEMENT_SECONDS,
    SWEEP_BATCH,
    SettlementResult,
    finish_market,
)
from betting.unwind import plan_unwind
from markets.models import Market, MarketCorrection, MarketStatus
from markets.services import market_lock
from points.ledger import Leg
from points.ledger_batch import Posting, ledger_post_batch
from points.models import Account, TransactionKind
from points.services import house_account
from predictmarket.errors import InvalidState


@dataclass
class CorrectionResult(SettlementResult):
    # Members whose balance could not give back all they had to (amount not taken back).
    not_taken_back: dict[int, int] = field(default_factory=dict)
    payments_cut: bool = False


def _nets(market: Market) -> dict[int, int]:
    """Each member's net on the market now: received - spent, earlier endings included."""
    rows = (
        Position.objects.filter(market=market)
        .values("member_id")
        .annotate(spent=Sum("points_spent"), received=Sum("points_received"))
    )
    return {row["member_id"]: row["received"] - row["spent"] for row in rows}


def _targets(market: Market, correction: MarketCorrection, members: list[int]) -> dict[int, int]:
    """Each member's net on the market had the new ending been the only one."""
    if correction.to_status != MarketStatus.RESOLVED:
        return dict.fromkeys(members, 0)
    rows = (
        Trade.objects.filter(market=market)
        .values("member_id")
        .annotate(
            bought=Sum("points", filter=Q(side=TradeSide.BUY), default=0),
            sold=Sum("points", filter=Q(side=TradeSide.SELL), default=0),
        )
    )
    targets = dict.fromkeys(members, 0)
    for row in rows:
        targets[row["member_id"]] = row["sold"] - row["bought"]
    winning = Position.objects.filter(
        market=market, outcome_id=correction.to_outcome_id, shares__gte=1
    ).values_list("member_id", "shares")
    for member_id, shares in winning:
        targets[member_id] = targets.get(member_id, 0) + int(
            shares.to_integral_value(rounding=ROUND_FLOOR)
        )
    return targets


def correction_apply(*, correction_id: int, actor: str = "system") -> CorrectionResult:
    """Reverse the corrected market's earlier ending and pay the new one, exactly once."""
    started = time.perf_counter()
    correction = MarketCorrection.objects.filter(pk=correction_id).first()
    if correction is None:
        return CorrectionResult(0, performed=False)
    with transaction.atomic():
        # The market row first (the project's lock order), then the claim: only
        # one transaction can move applied_at from NULL.
        market = market_lock(correction.market_id)
        claimed = MarketCorrection.objects.filter(pk=correction_id, applied_at__isnull=True).update(
            applied_at=timezone.now()
        )
        if not claimed:
            return CorrectionResult(market.pk, performed=False)
        correction.refresh_from_db()
        nets = _nets(market)
        targets = _targets(market, correction, list(nets))
        house = house_account(market.guild_id)
        # What the house took from the market's earlier ending: the escrow is
        # empty after it, so members' nets and this add up to the liquidity.
        house_take = market.liquidity - sum(nets.values())
        accounts = dict(
            Account.objects.filter(member_id__in=list(nets)).values_list("member_id", "pk")
        )
        # Lock every account the correction touches, in primary-key order: a
        # gain is taken back from the balance as it is now, and no tip can move
        # it away in between.
        balances = dict(
            Account.objects.select_for_update()
            .filter(pk__in={*accounts.values(), market.escrow_account_id, house.pk})
            .order_by("pk")
            .values_list("pk", "balance")
        )
        escrow = market.escrow_account_id
        if balances[escrow] != 0 or house_take < 0:
            # Never expected (a correction is decided only once the market is paid);
            # refusing rolls the claim back, and the sweep reports it again.
            raise InvalidState(
                f"Market #{market.pk} is not settled as a correction expects "
                f"(escrow {balances[escrow]}, house's take {house_take})."
            )
        plan = plan_unwind(
            nets={member: nets[member] - targets.get(member, 0) for member in nets},
            escrow=house_take,
            can_give_back={member: balances[accounts[member]] for member in nets},
        )
        key = f"correct:{market.pk}:{correction.number}"
        memo = f"market #{market.pk} corrected to " + MarketCorrection.ending_label(
            correction.to_status, correction.to_outcome
        )
        postings = []
        if house_take > 0:
            postings.append(
                Posting(
                    legs=[Leg(house.pk, -house_take), Leg(escrow, house_take)],
                    kind=TransactionKind.REFUND,
                    memo=f"{memo}: the house's earlier share back to the market"[:500],
                    idempotency_key=f"{key}:house-back",
                )
            )
        postings += [
            Posting(
                legs=[Leg(accounts[member], -amount), Leg(escrow, amount)],
                kind=TransactionKind.REFUND,
                memo=f"{memo}: given back"[:500],
                idempotency_key=f"{key}:{member}",
            )
            for member, amount in plan.taken_back.items()
            if amount > 0
        ]
        postings += [
            Posting(
                legs=[Leg(escrow, -amount), Leg(accounts[member], amount)],
                kind=TransactionKind.PAYOUT,
                memo=(f"{memo}: paid" + (" (cut pro rata)" if plan.cut else ""))[:500],
                idempotency_key=f"{key}:{member}",
            )
            for member, amount in plan.refunds.items()
            if amount > 0
        ]
        if plan.house_share > 0:
            postings.append(
                Posting(
                    legs=[Leg(escrow, -plan.house_share), Leg(house.pk, plan.house_share)],
                    kind=TransactionKind.PAYOUT,
                    memo=f"{memo}: remainder to the house"[:500],
                    idempotency_key=f"{key}:house",
                )
            )
        ledger_post_batch(guild_id=market.guild_id, postings=postings, actor="system:correction")
        _record_lines(market, plan.lines)
        members = {
            p.member_id: p.member
            for p in Position.objects.filter(market=market).select_related("member")
        }
        shortfall = {
            member: nets[member] - targets.get(member, 0) - plan.taken_back.get(member, 0)
            for member in nets
            if nets[member] - targets.get(member, 0) > plan.taken_back.get(member, 0)
        }
        result = finish_market(
            market,
            kind="correction_settled",
            payments=plan.lines,
            winners=members,
            house_share=plan.house_share,
            extra={
                "correction": correction.number,
                "from": MarketCorrection.ending_label(
                    correction.from_status, correction.from_outcome
                ),
                "to": MarketCorrection.ending_label(correction.to_status, correction.to_outcome),
                "taken_back_total": sum(plan.taken_back.values()),
                "not_taken_back": sum(shortfall.values()),
                "payments_cut": plan.cut,
            },
            actor=actor,
        )
    SETTLEMENT_SECONDS.labels("correct").observe(time.perf_counter() - started)
    MARKETS_FINISHED.labels("corrected").inc()
    return CorrectionResult(**vars(result), not_taken_back=shortfall, payments_cut=plan.cut)


def _record_lines(market: Market, lines: dict[int, int]) -> None:
    """Keep each member's received and spent on the market equal to what moved.

    A payment counts as points received, a gain given back as points spent, on
    the member's first position (as the unwind records its lines), so the next
    correction, the portfolio and the profit figures read the market's real net.
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


def corrections_due(*, limit: int = SWEEP_BATCH) -> list[int]:
    """Corrections decided but not applied yet (a lost task, a killed worker), oldest first."""
    pending = MarketCorrection.objects.filter(applied_at__isnull=True).order_by("decided_at", "pk")
    return list(pending.values_list("pk", flat=True)[:limit])
