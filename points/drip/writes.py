"""One write to DRIP, as a small state machine recorded in our database.

DRIP documents no idempotency key, so a write whose outcome we did not record
can never simply be sent again. Each ``DripTransfer`` therefore moves through:

``pending``
    Recorded, not sent. (A debit left here was abandoned before it was sent:
    delivery fails it after the settling delay.)
``sending``
    The intent — attempt, the balance seen before, when it was sent — is
    committed in its own transaction *before* the PATCH (``claim``). Only the
    process whose conditional UPDATE claimed the row sends it.
``applied`` / ``failed`` / back to ``pending``
    The outcome, committed in its own transaction after the PATCH
    (``send``). A credit certainly not applied goes back to pending with a
    backoff; a debit certainly not applied is failed (its request was
    already answered "not placed").
``ambiguous``
    Settled by a person: see below.

A crash, a Celery time limit, an unreadable answer or a database error
between the PATCH and the outcome leaves ``sending``. Delivery settles it
(``settle``) once the settling delay has passed — no request we sent can still
land at DRIP then — by reading the member's balance: moved by exactly the
amount → applied; unchanged → not applied; anything else → ambiguous, for a
person (the member's DRIP balance also changes by their activity elsewhere).
A debit found applied this way was never used for a bet (a bet is placed only
on a debit whose sender recorded it applied), so its points are queued back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from points.drip.client import (
    DripAmbiguous,
    DripClient,
    DripError,
    DripSettings,
)
from points.drip.secrets import decrypt_api_key
from points.models import DripTransfer, DripTransferStatus, Guild, Member, PointsBackend
from predictmarket.errors import InvalidState

logger = logging.getLogger(__name__)

RETRY_BACKOFF_CAP = timedelta(minutes=10)
Status = DripTransferStatus


def drip_client_for(guild: Guild) -> DripClient:
    if guild.points_backend != PointsBackend.DRIP or not guild.drip_api_key_encrypted:
        raise InvalidState("This server is not connected to DRIP.")
    return DripClient(
        DripSettings(
            realm_id=guild.drip_realm_id,
            api_key=decrypt_api_key(guild.drip_api_key_encrypted),
            currency_id=guild.drip_currency_id,
        )
    )


def balance_cache_key(member: Member) -> str:
    return f"drip:balance:{member.guild_id}:{member.discord_id}"


def compensation_key(debit_key: str) -> str:
    """The key of the credit that returns a debit's points ("bet:K" -> "compensate:K")."""
    return f"compensate:{debit_key.split(':', 1)[-1]}"


def settling_delay() -> timedelta:
    """How long after ``sent_at`` a write we sent may still land at DRIP.

    The client may send a write up to ``DRIP_MAX_ATTEMPTS`` times (only when it
    was certainly refused), each attempt lasting up to the timeout and
    separated by waits up to the longest ``Retry-After`` honoured (or the 8 s
    jitter cap); one more timeout covers a request DRIP was still working on
    when we gave up. Before that, an unchanged balance proves nothing.
    """
    attempts = settings.DRIP_MAX_ATTEMPTS
    wait = max(settings.DRIP_MAX_RETRY_AFTER_SECONDS, 8)
    seconds = (attempts + 1) * settings.DRIP_TIMEOUT_SECONDS + (attempts - 1) * wait
    return timedelta(seconds=seconds)


def retry_backoff(attempts: int) -> timedelta:
    return min(timedelta(seconds=15 * 2 ** min(attempts, 10)), RETRY_BACKOFF_CAP)


# ------------------------------------------------------------------------------
# Transitions (each a conditional UPDATE: it applies only from the state we saw)
# ------------------------------------------------------------------------------
def _move(
    transfer: DripTransfer,
    from_statuses: Iterable[str],
    *,
    same_attempt: bool,
    then: Callable[[], object] | None = None,
    **fields: Any,
) -> bool:
    """Move the row to ``fields`` if it is still in one of ``from_statuses``.

    Committed in its own transaction (``durable``: never folded into a caller's,
    which could roll the record back after DRIP applied the write). ``then``
    runs in that transaction when the row moved.
    """
    rows = DripTransfer.objects.filter(pk=transfer.pk, status__in=list(from_statuses))
    if same_attempt:
        # Another process may have settled and re-sent it meanwhile: only our attempt is ours.
        rows = rows.filter(attempts=transfer.attempts)
    fields["updated_at"] = timezone.now()
    if "last_error" in fields:
        fields["last_error"] = str(fields["last_error"])[:500]
    with transaction.atomic(durable=True):
        moved = rows.update(**fields) == 1
        if moved and then is not None:
            then()
    if moved:
        for name, value in fields.items():
            if not isinstance(value, F):
                setattr(transfer, name, value)
        if fields.get("status") == Status.AMBIGUOUS:
            logger.error(
                "DRIP transfer %s is ambiguous: %s", transfer.idempotency_key, transfer.last_error
            )
    return moved


def claim(transfer: DripTransfer, *, balance_before: int, from_statuses: Iterable[str]) -> bool:
    """Commit the intent before the HTTP call; True if this process may now send it."""
    now = timezone.now()
    claimed = _move(
        transfer,
        from_statuses,
        same_attempt=False,
        status=Status.SENDING,
        attempts=F("attempts") + 1,
        balance_before=balance_before,
        sent_at=now,
        next_attempt_at=now + settling_delay(),
        last_error="",
    )
    if claimed:
        transfer.refresh_from_db(fields=["attempts"])
    return claimed


def fail_unsent(transfer: DripTransfer, error: object) -> bool:
    """A debit that was never sent (the balance read failed, was too low, or was abandoned)."""
    return _move(
        transfer,
        [Status.PENDING, Status.FAILED],
        same_attempt=False,
        status=Status.FAILED,
        last_error=error,
    )


def retry_later(transfer: DripTransfer, error: object) -> None:
    """A credit not sent this time (DRIP unreachable or refusing): pending, with backoff."""
    _move(
        transfer,
        [Status.PENDING],
        same_attempt=False,
        next_attempt_at=timezone.now() + retry_backoff(transfer.attempts),
        last_error=error,
    )


def _record_applied(transfer: DripTransfer, *, late: bool) -> None:
    assert transfer.balance_before is not None
    then = None
    if late and transfer.amount < 0:
        # Settled after its request had failed: no bet uses it, so the points go back.
        def then() -> None:
            _queue_compensation(transfer)

    moved = _move(
        transfer,
        [Status.SENDING],
        same_attempt=True,
        then=then,
        status=Status.APPLIED,
        balance_after=transfer.balance_before + transfer.amount,
        applied_at=timezone.now(),
        last_error="",
    )
    if moved:
        cache.delete(balance_cache_key(transfer.member))


def _queue_compensation(debit: DripTransfer) -> None:
    DripTransfer.objects.get_or_create(
        idempotency_key=compensation_key(debit.idempotency_key),
        defaults={
            "guild_id": debit.guild_id,
            "member_id": debit.member_id,
            "amount": -debit.amount,
            "purpose": f"{debit.purpose}_compensation"[:32],
            "subject": debit.subject,
            "next_attempt_at": timezone.now(),
        },
    )


def _record_not_applied(transfer: DripTransfer, error: object, *, resend_at: datetime) -> None:
    """Certainly not applied: a debit fails (its request said so); a credit waits to be resent."""
    if transfer.amount < 0:
        _move(transfer, [Status.SENDING], same_attempt=True, status=Status.FAILED, last_error=error)
    else:
        _move(
            transfer,
            [Status.SENDING],
            same_attempt=True,
            status=Status.PENDING,
            next_attempt_at=resend_at,
            last_error=error,
        )


# ------------------------------------------------------------------------------
# Sending a claimed write, and settling one left sending
# ------------------------------------------------------------------------------
def send(client: DripClient, transfer: DripTransfer, drip_id: str) -> DripError | None:
    """Make the claimed write and record its outcome; the error to report, or None if applied.

    Any other exception (a crash, a time limit, a database error while
    recording) propagates and leaves the row *sending*, for ``settle``.
    """
    try:
        client.adjust_balance(drip_id, transfer.amount)
    except DripAmbiguous as exc:
        return _check_now(client, transfer, exc)
    except DripError as exc:
        # No connection, 429, a 4xx, the breaker open: DRIP did not apply it.
        _record_not_applied(
            transfer, exc, resend_at=timezone.now() + retry_backoff(transfer.attempts)
        )
        return exc
    _record_applied(transfer, late=False)
    return None


def _check_now(client: DripClient, transfer: DripTransfer, exc: DripError) -> DripError | None:
    """The answer was lost. A read now can prove the write applied (that cannot be undone),
    never that it did not: it may still land until the settling delay has passed."""
    try:
        balance: int | None = client.find_member(transfer.member.discord_id).balance
    except DripError:
        balance = None
    assert transfer.balance_before is not None
    if balance == transfer.balance_before + transfer.amount:
        _record_applied(transfer, late=False)
        return None
    _move(
        transfer,
        [Status.SENDING],
        same_attempt=True,
        last_error=f"{exc} Outcome unknown; settled by reading the balance later.",
    )
    return exc


def settle(client: DripClient, transfer: DripTransfer) -> None:
    """Settle a write left *sending*, after the settling delay, by reading the balance."""
    try:
        balance = client.find_member(transfer.member.discord_id).balance
    except DripError as exc:
        _move(
            transfer,
            [Status.SENDING],
            same_attempt=True,
            next_attempt_at=timezone.now() + retry_backoff(transfer.attempts),
            last_error=f"could not read the balance to settle it: {exc}",
        )
        return
    before = transfer.balance_before
    expected = None if before is None else before + transfer.amount
    if balance == expected:
        _record_applied(transfer, late=True)
    elif balance == before:
        _record_not_applied(
            transfer, "not applied (balance unchanged after the delay)", resend_at=timezone.now()
        )
    else:
        _move(
            transfer,
            [Status.SENDING],
            same_attempt=True,
            status=Status.AMBIGUOUS,
            last_error=f"balance went {before} -> {balance}, expected {expected}",
        )
