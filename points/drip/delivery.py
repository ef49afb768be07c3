"""Delivering queued DRIP credits and settling writes left *sending* (a Celery task).

Each run takes what is due, oldest first: credits to send, writes whose
settling delay has passed (see ``points.drip.writes``), and debits abandoned
before they were sent. A member's credits wait while another of the member's
writes is *sending* (``points.drip.writes.claim``). Each run first queues back
the stakes of bet debits that no trade used (``compensate_unused_bet_debits``).
Every row is handled on its
own: an error in one is logged and pushed back, and the run goes on with the others. Two workers may
run at once: every transition is a conditional UPDATE, so only one of them
sends or settles a row.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from celery.exceptions import SoftTimeLimitExceeded
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from points.drip.client import DripError
from points.drip.writes import (
    Claim,
    claim,
    compensation_key,
    drip_client_for,
    fail_unsent,
    queue_compensation,
    record_balance_before,
    release_unsent,
    retry_backoff,
    retry_later,
    send,
    settle,
    settling_delay,
)
from points.ledger import trade_posting_key
from points.models import DripTransfer, DripTransferStatus, LedgerTransaction
from predictmarket.errors import DomainError

logger = logging.getLogger(__name__)
Status = DripTransferStatus


@dataclass
class DeliveryReport:
    applied: int = 0
    retrying: int = 0
    ambiguous: int = 0
    failed: int = 0
    errors: int = 0
    compensated: int = 0  # stakes taken for bets that were never recorded, queued back


def deliver_pending_transfers(*, limit: int = 100) -> DeliveryReport:
    """Send due credits and settle due *sending* writes, each at most once."""
    report = DeliveryReport()
    # First, so that a stake queued back now is delivered in this same run.
    report.compensated = compensate_unused_bet_debits(limit=limit)
    now = timezone.now()
    # A member's credits wait while another of the member's writes is unsettled
    # (``claim`` refuses them): leaving them out keeps them from filling the batch.
    member_busy = Exists(
        DripTransfer.objects.filter(member_id=OuterRef("member_id"), status=Status.SENDING)
    )
    due = list(
        DripTransfer.objects.filter(
            Q(status=Status.SENDING) | Q(status=Status.PENDING) & ~member_busy,
            next_attempt_at__lte=now,
        )
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    for transfer_id in due:
        try:
            status = _deliver_one(transfer_id)
        except SoftTimeLimitExceeded:
            raise  # the task's time is up: stop here; what was sent stays *sending*
        except Exception:
            # One bad row never stops the others; it waits a while before its next turn,
            # so a row that always fails cannot hold the head of the queue.
            logger.exception("DRIP transfer %s could not be delivered", transfer_id)
            report.errors += 1
            _push_back(transfer_id)
            continue
        if status == Status.APPLIED:
            report.applied += 1
        elif status == Status.AMBIGUOUS:
            report.ambiguous += 1
        elif status == Status.FAILED:
            report.failed += 1
        elif status is not None:
            report.retrying += 1
    return report


def _deliver_one(transfer_id: int) -> str | None:
    """Handle one due row; its status afterwards (None: someone else had it)."""
    rows = DripTransfer.objects.select_related("member", "member__guild")
    transfer = rows.filter(pk=transfer_id).first()
    if transfer is None or transfer.status not in (Status.PENDING, Status.SENDING):
        return None
    if transfer.status == Status.PENDING and transfer.amount < 0:
        # Debits are sent by the request that asked for them; one still pending
        # after the delay was abandoned before it was sent, so it never applied.
        if fail_unsent(transfer, "abandoned before it was sent"):
            return Status.FAILED
        return None
    try:
        client = drip_client_for(transfer.member.guild)
        if transfer.status == Status.SENDING:
            sent_at = transfer.sent_at
            if sent_at is not None and timezone.now() < sent_at + settling_delay():
                return transfer.status  # a request we sent may still land: not yet
            settle(client, transfer)
            return transfer.status
    except (DripError, DomainError) as exc:
        # DRIP unreachable or refusing (a bad key needs an admin: reconciliation
        # and the health check report it meanwhile). Nothing was sent.
        if transfer.status == Status.PENDING:
            retry_later(transfer, exc)
        return transfer.status
    claimed = claim(transfer, from_statuses=[Status.PENDING])
    if claimed is Claim.TAKEN:
        return None  # another worker claimed it first
    if claimed is Claim.MEMBER_BUSY:
        return transfer.status  # another write to this member is unsettled: a later run
    try:
        remote = client.find_member(transfer.member.discord_id)
    except (DripError, DomainError) as exc:
        release_unsent(transfer, exc)  # nothing was sent: pending again, with backoff
        return transfer.status
    if not record_balance_before(transfer, remote.balance):
        return None
    send(client, transfer, remote.drip_id)
    return transfer.status


def compensate_unused_bet_debits(*, limit: int = 100) -> int:
    """Queue back the stakes of applied ``bet:`` debits that no trade used; how many.

    ``bet_place`` queues the stake back itself when its local bet fails, but
    not if the database connection drops or the process is killed after the
    debit was recorded applied: then no trade and no compensation exist, and
    nothing else would ever notice. Each applied bet debit is checked once,
    when its ``next_attempt_at`` (``unused_debit_delay`` after it applied) has
    passed; rows applied before this sweep existed still carry a past one, so
    they are checked too.
    """
    due = list(
        DripTransfer.objects.filter(
            status=Status.APPLIED,
            amount__lt=0,
            idempotency_key__startswith="bet:",
            next_attempt_at__lte=timezone.now(),
        )
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    queued = 0
    for debit_id in due:
        try:
            queued += _compensate_if_unused(debit_id)
        except SoftTimeLimitExceeded:
            raise
        except Exception:
            # Left due: the next run checks it again. Delivery goes on meanwhile.
            logger.exception("DRIP debit %s could not be checked for its bet", debit_id)
    return queued


def _compensate_if_unused(debit_id: int) -> bool:
    with transaction.atomic():
        # The lock ``bet_place`` takes on its debit before recording the trade, and
        # ``_drip_compensate`` before queueing it back: a bet still in flight either
        # committed its trade before we got the lock (and the check below sees it),
        # or finds the compensation afterwards and is refused. Never both.
        debit = (
            DripTransfer.objects.select_for_update()
            .filter(pk=debit_id, status=Status.APPLIED)
            .first()
        )
        if debit is None or debit.next_attempt_at is None:
            return False
        bet_key = debit.idempotency_key.split(":", 1)[1]
        used = LedgerTransaction.objects.filter(
            guild_id=debit.guild_id, idempotency_key=trade_posting_key(bet_key)
        ).exists()
        owed = not used and not (
            DripTransfer.objects.filter(
                idempotency_key=compensation_key(debit.idempotency_key)
            ).exists()
        )
        if owed:
            logger.warning(
                "DRIP debit %s took a stake for a bet that was never recorded; returning it",
                debit.idempotency_key,
            )
            queue_compensation(debit)
        # Checked: a trade or a compensation now exists, and neither goes away.
        DripTransfer.objects.filter(pk=debit.pk).update(
            next_attempt_at=None, updated_at=timezone.now()
        )
    return owed


def _push_back(transfer_id: int) -> None:
    try:
        transfer = DripTransfer.objects.get(pk=transfer_id)
        later = timezone.now() + retry_backoff(transfer.attempts)
        # Never earlier than it was: a sending row must wait out its settling delay.
        if transfer.next_attempt_at is not None:
            later = max(later, transfer.next_attempt_at)
        DripTransfer.objects.filter(
            pk=transfer_id, status__in=[Status.PENDING, Status.SENDING]
        ).update(next_attempt_at=later)
    except Exception:
        logger.exception("DRIP transfer %s could not be pushed back", transfer_id)
