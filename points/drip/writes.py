"""One write to DRIP, as a small state machine recorded in our database.

DRIP documents no idempotency key, so a write whose outcome we did not record
can never simply be sent again. Each ``DripTransfer`` therefore moves through:

``pending``
    Recorded, not sent. (A debit left here was abandoned before it was sent:
    delivery fails it after the settling delay.)
``sending``
    The intent — attempt, when it was sent — is committed in its own
    transaction before anything is read from DRIP (``claim``); then the balance
    seen before is committed (``record_balance_before``), then the PATCH goes.
    Only the process whose conditional UPDATE claimed the row sends it.
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
person. (A row left sending with no balance recorded never sent its PATCH.)
A debit found applied this way was never used for a bet (a bet is placed only
on a debit whose sender recorded it applied), so its points are queued back.

One member's writes are serialised: no write is claimed while another of the
member's writes is *sending* (``claim`` checks it under the member row's lock).
Without that, our own writes would move the balance under a settling one: a
bet of 100 while a credit of 100 is unsettled makes the credit look unapplied
(paid twice), an equal credit makes an unapplied one look applied (never
paid). ``settle`` still subtracts any of our writes applied since the balance
was read, and refuses to judge while one of them is unsettled.

What remains inherent: DRIP's balance also moves by the member's activity
outside this project, which we cannot serialise. A balance that moved by
anything but our amount is therefore ``ambiguous`` and left for a person; it
is never resent blindly. A write whose activity elsewhere happens to cancel
out (earned exactly 100 while our credit of 100 was lost) cannot be told apart
by reading a balance; reconciliation with DRIP's own history is the only check.
"""

from __future__ import annotations

import enum
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
from predictmarket.audit import audit_record
from predictmarket.errors import InvalidState, NotFound

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


# Past the settling delay (which bounds the debit's own request), how long a bet
# may still hold its applied debit before its trade commits: it only waits for
# the market lock and writes. A web request is killed after 30 s (gunicorn's
# timeout), and a bot interaction has no reason to take minutes; 10 minutes is
# far past both.
UNUSED_DEBIT_MARGIN = timedelta(minutes=10)


def unused_debit_delay() -> timedelta:
    """How long after a bet's debit applied its trade may still be on its way.

    Only a sooner sweep would be a nuisance, never a loss: the sweep and the bet
    take the same lock on the debit row, so a bet slower than this is refused
    ("its points were returned") rather than placed on a returned stake.
    """
    return settling_delay() + UNUSED_DEBIT_MARGIN


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


class Claim(enum.Enum):
    CLAIMED = "claimed"  # this process may now read the balance and send it
    TAKEN = "taken"  # another process moved the row first
    MEMBER_BUSY = "member_busy"  # another of the member's writes is sending: not now


def member_write_in_flight(member_id: int, *, exclude_pk: int | None = None) -> bool:
    """Is one of this member's writes *sending* (sent, or about to be, and not settled)?"""
    rows = DripTransfer.objects.filter(member_id=member_id, status=Status.SENDING)
    if exclude_pk is not None:
        rows = rows.exclude(pk=exclude_pk)
    return rows.exists()


def claim(transfer: DripTransfer, *, from_statuses: Iterable[str]) -> Claim:
    """Commit the intent to send before anything is read from or sent to DRIP.

    One member's writes are serialised: the claim is refused while another of
    the member's writes is *sending*. Settling compares the balance with the
    one read just after the claim, which proves something only if no other
    write of ours can land on that member meanwhile. The member row's lock
    (``FOR NO KEY UPDATE``, as daily claims and freezes take it; an insert
    that references the member only takes KEY SHARE) makes the check and the
    claim one step: two workers claiming for one member queue on it, and the
    second sees the first's *sending* row once it has the lock.
    """
    now = timezone.now()
    rows = DripTransfer.objects.filter(pk=transfer.pk, status__in=list(from_statuses))
    with transaction.atomic(durable=True):
        list(
            Member.objects.select_for_update(of=("self",), no_key=True)
            .filter(pk=transfer.member_id)
            .values_list("pk", flat=True)
        )
        if member_write_in_flight(transfer.member_id, exclude_pk=transfer.pk):
            return Claim.MEMBER_BUSY
        moved = (
            rows.update(
                status=Status.SENDING,
                attempts=F("attempts") + 1,
                # Not read yet: a row left sending with no balance was never sent.
                balance_before=None,
                sent_at=now,
                next_attempt_at=now + settling_delay(),
                last_error="",
                updated_at=now,
            )
            == 1
        )
    if not moved:
        return Claim.TAKEN
    transfer.refresh_from_db(
        fields=["status", "attempts", "balance_before", "sent_at", "next_attempt_at", "last_error"]
    )
    return Claim.CLAIMED


def record_balance_before(transfer: DripTransfer, balance: int) -> bool:
    """Commit the balance read after the claim; True if this process may now send the PATCH.

    ``sent_at`` is stamped again here, just before the PATCH: the settling
    delay counts from when the request left, not from the claim (the balance
    read between them may itself take several attempts).
    """
    now = timezone.now()
    return _move(
        transfer,
        [Status.SENDING],
        same_attempt=True,
        balance_before=balance,
        sent_at=now,
        next_attempt_at=now + settling_delay(),
    )


def release_unsent(transfer: DripTransfer, error: object) -> None:
    """A claimed write that was not sent (the balance read failed, or was too low).

    A debit fails (its request is answered "not placed"); a credit waits to be
    tried again, with backoff.
    """
    if transfer.amount < 0:
        _move(transfer, [Status.SENDING], same_attempt=True, status=Status.FAILED, last_error=error)
    else:
        _move(
            transfer,
            [Status.SENDING],
            same_attempt=True,
            status=Status.PENDING,
            next_attempt_at=timezone.now() + retry_backoff(transfer.attempts),
            last_error=error,
        )


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
            queue_compensation(transfer)

    extra: dict[str, Any] = {}
    if transfer.amount < 0:
        # An applied debit's next turn is the sweep's check that a bet used it
        # (``points.drip.delivery``); one settled late is given back right here.
        extra["next_attempt_at"] = None if late else timezone.now() + unused_debit_delay()
    moved = _move(
        transfer,
        [Status.SENDING],
        same_attempt=True,
        then=then,
        **extra,
        status=Status.APPLIED,
        balance_after=transfer.balance_before + transfer.amount,
        applied_at=timezone.now(),
        last_error="",
    )
    if moved:
        cache.delete(balance_cache_key(transfer.member))


def queue_compensation(debit: DripTransfer) -> None:
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
    before = transfer.balance_before
    if before is None:
        # The balance is recorded before the PATCH: with none, the PATCH never left.
        _record_not_applied(
            transfer, "never sent (stopped before the request)", resend_at=timezone.now()
        )
        return
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
    ours = _our_writes_since(transfer)
    if ours is None:
        _move(
            transfer,
            [Status.SENDING],
            same_attempt=True,
            status=Status.AMBIGUOUS,
            last_error=f"balance went {before} -> {balance} while another of our writes "
            "to this member was unsettled",
        )
        return
    # Our own applied writes since the balance was read are not this write's doing.
    unchanged = before + ours
    expected = unchanged + transfer.amount
    if balance == expected:
        _record_applied(transfer, late=True)
    elif balance == unchanged:
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


def _our_writes_since(transfer: DripTransfer) -> int | None:
    """The sum of our writes to the member applied since ``transfer`` read its balance.

    ``claim`` lets none be sent while this one is sending, so this is 0; it is
    counted anyway, so that a write sent around that rule (by hand, or by a
    process running older code during a deploy) is accounted for rather than
    mistaken for this one. None if one of them is itself unsettled: then the
    balance cannot tell.
    """
    later = DripTransfer.objects.filter(
        member_id=transfer.member_id, sent_at__gt=transfer.sent_at
    ).exclude(pk=transfer.pk)
    if later.filter(status__in=[Status.SENDING, Status.AMBIGUOUS]).exists():
        return None
    return sum(later.filter(status=Status.APPLIED).values_list("amount", flat=True))


# ------------------------------------------------------------------------------
# A person's verdict on an ambiguous write (``manage.py pm_drip_ambiguous``)
# ------------------------------------------------------------------------------
def ambiguous_resolve(
    *, transfer_id: int, guild_id: int, applied: bool, actor: str, note: str = ""
) -> DripTransfer:
    """Record what a person found in DRIP's own history for an *ambiguous* write.

    Applied: as if settling had proven it (``_record_applied``, late), so a
    debit no bet could use has its points queued back. Not applied: as if
    settling had proven that (a credit is sent again now, a debit fails).
    Only an ambiguous write can be resolved; anything else is ``InvalidState``
    and left as it is. The verdict is audited with the move, in one transaction.
    """
    transfer = (
        DripTransfer.objects.select_related("member")
        .filter(pk=transfer_id, guild_id=guild_id)
        .first()
    )
    if transfer is None:
        raise NotFound(f"No DRIP transfer {transfer_id} in this server.", transfer_id=transfer_id)
    if transfer.status != Status.AMBIGUOUS:
        raise InvalidState(
            f"DRIP transfer {transfer_id} is {transfer.get_status_display().lower()}, "
            "not ambiguous: only an ambiguous transfer is resolved by hand."
        )
    verdict = "applied" if applied else "not applied"
    debit = transfer.amount < 0

    def audit() -> None:
        if applied and debit:
            queue_compensation(transfer)  # no bet or unwind counted it: its points go back
        audit_record(
            actor=actor,
            action="drip_transfer.resolve",
            guild_id=transfer.guild_id,
            target=transfer,
            data={
                "idempotency_key": transfer.idempotency_key,
                "amount": transfer.amount,
                "verdict": verdict,
                "note": note[:500],
                "last_error": transfer.last_error,
            },
        )

    error = f"resolved by {actor}: {verdict}" + (f" ({note})" if note else "")
    fields: dict[str, Any]
    if applied:
        # The balance DRIP showed then is not known: reconciliation anchors on
        # an earlier recorded balance and counts this amount on top.
        fields = {"status": Status.APPLIED, "applied_at": timezone.now(), "balance_after": None}
        if debit:
            fields["next_attempt_at"] = None  # given back right here, not by the sweep
    elif debit:
        fields = {"status": Status.FAILED}
    else:
        fields = {"status": Status.PENDING, "next_attempt_at": timezone.now()}
    if not _move(
        transfer, [Status.AMBIGUOUS], same_attempt=True, then=audit, last_error=error, **fields
    ):
        raise InvalidState(f"DRIP transfer {transfer_id} changed meanwhile; look at it again.")
    cache.delete(balance_cache_key(transfer.member))
    return transfer
