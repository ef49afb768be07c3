"""Points kept in DRIP: connecting a guild, balances, debits for bets, queued credits.

Money flow for a DRIP guild
---------------------------
* Members' points live in DRIP. Locally, a guild's *clearing* account stands
  for DRIP: a bet moves points clearing → market escrow; a payout, refund or
  sale moves them escrow → clearing and queues a credit to DRIP.
* A bet's debit is made at DRIP *before* the local bet (and outside the market
  lock). It is recorded first as a pending ``DripTransfer``; if DRIP refuses,
  nothing happens locally and the member is told. If the local bet then fails
  (price moved, market closed, crash), a compensating credit is queued.
* Credits are delivered by ``deliver_pending_transfers`` (a Celery task),
  retried with backoff until they land. See ``points.drip.client`` for which
  failures are retried and which are resolved by reading the balance.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from points.drip.client import (
    DripAmbiguous,
    DripClient,
    DripError,
    DripRejected,
    DripSettings,
    DripUnavailable,
)
from points.drip.secrets import decrypt_api_key, encrypt_api_key
from points.models import (
    Account,
    AccountKind,
    DripTransfer,
    DripTransferStatus,
    Guild,
    Member,
    PointsBackend,
)
from predictmarket.audit import audit_record
from predictmarket.errors import InsufficientPoints, InvalidState, ValidationFailed

logger = logging.getLogger(__name__)

RETRY_BACKOFF_CAP = timedelta(minutes=10)


def is_drip_guild(guild: Guild) -> bool:
    return guild.points_backend == PointsBackend.DRIP


def drip_client_for(guild: Guild) -> DripClient:
    if not is_drip_guild(guild) or not guild.drip_api_key_encrypted:
        raise InvalidState("This server is not connected to DRIP.")
    return DripClient(
        DripSettings(
            realm_id=guild.drip_realm_id,
            api_key=decrypt_api_key(guild.drip_api_key_encrypted),
            currency_id=guild.drip_currency_id,
        )
    )


def clearing_account(guild_id: int) -> Account:
    account, _ = Account.objects.get_or_create(
        guild_id=guild_id, kind=AccountKind.CLEARING, defaults={"label": "DRIP clearing"}
    )
    return account


def guild_connect_drip(
    *, guild_id: int, realm_id: str, api_key: str | None, currency_id: str = "", actor: str
) -> Guild:
    """Switch a guild to DRIP points (admins). ``api_key`` None keeps the stored one."""
    realm_id = (realm_id or "").strip().lower()
    if len(realm_id) != 24 or any(c not in "0123456789abcdef" for c in realm_id):
        raise ValidationFailed("A DRIP realm id is 24 hex characters.", field="drip_realm_id")
    with transaction.atomic():
        guild = Guild.objects.select_for_update().get(pk=guild_id)
        if api_key:
            guild.drip_api_key_encrypted = encrypt_api_key(api_key)
        if not guild.drip_api_key_encrypted:
            raise ValidationFailed("The DRIP API key is required.", field="drip_api_key")
        guild.points_backend = PointsBackend.DRIP
        guild.drip_realm_id = realm_id
        guild.drip_currency_id = (currency_id or "").strip()[:64]
        guild.save()
        clearing_account(guild.pk)
        audit_record(
            actor=actor,
            action="guild.drip_connect",
            guild_id=guild.pk,
            target=guild,
            data={
                "realm_id": realm_id,
                "currency_id": guild.drip_currency_id,
                "api_key_changed": bool(api_key),
            },
        )
    return guild


def guild_use_local_points(*, guild_id: int, actor: str) -> Guild:
    with transaction.atomic():
        guild = Guild.objects.select_for_update().get(pk=guild_id)
        if DripTransfer.objects.filter(guild=guild, status=DripTransferStatus.PENDING).exists():
            raise InvalidState("Credits to DRIP are still being delivered; try again later.")
        guild.points_backend = PointsBackend.LOCAL
        guild.save(update_fields=["points_backend", "updated_at"])
        audit_record(actor=actor, action="guild.drip_disconnect", guild_id=guild.pk, target=guild)
    return guild


# ------------------------------------------------------------------------------
# Balances
# ------------------------------------------------------------------------------
def _balance_key(member: Member) -> str:
    return f"drip:balance:{member.guild_id}:{member.discord_id}"


def drip_balance(member: Member, *, fresh: bool = False) -> int:
    """The member's DRIP balance, cached briefly; ``DripUnavailable`` says DRIP is down."""
    key = _balance_key(member)
    if not fresh:
        cached = cache.get(key)
        if cached is not None:
            return cached
    balance = drip_client_for(member.guild).find_member(member.discord_id).balance
    cache.set(key, balance, timeout=settings.DRIP_BALANCE_CACHE_SECONDS)
    return balance


# ------------------------------------------------------------------------------
# Debits (synchronous, for bets)
# ------------------------------------------------------------------------------
def drip_debit(*, member: Member, amount: int, key: str, purpose: str = "bet") -> DripTransfer:
    """Take ``amount`` from the member at DRIP now, or raise and change nothing.

    Idempotent by ``key``: an already-applied debit is returned as is. The
    transfer row stays locked during the DRIP calls, so a double click (two
    requests with one key) waits for the first and then sees it applied,
    instead of debiting twice.
    """
    DripTransfer.objects.get_or_create(
        idempotency_key=key,
        defaults={
            "guild_id": member.guild_id,
            "member": member,
            "amount": -amount,
            "purpose": purpose,
        },
    )
    if DripTransfer.objects.filter(idempotency_key=f"compensate:{key.split(':', 1)[-1]}").exists():
        # This request already failed after its debit and was refunded: a replay
        # answers as the original did, it does not bet again on the old debit.
        raise InvalidState(
            "This request failed earlier and its points were returned; please place the bet again."
        )
    with transaction.atomic():
        transfer = DripTransfer.objects.select_for_update().get(idempotency_key=key)
        # Errors are returned, not raised, so the transfer's recorded state commits.
        error = _debit_locked(transfer, member, amount)
    if error is not None:
        raise error
    cache.delete(_balance_key(member))
    return transfer


def _debit_locked(transfer: DripTransfer, member: Member, amount: int) -> Exception | None:
    if transfer.status == DripTransferStatus.APPLIED:
        return None
    if transfer.status == DripTransferStatus.AMBIGUOUS:
        return DripUnavailable("Your last payment to this bet is still being checked with DRIP.")
    try:
        client = drip_client_for(member.guild)
        remote = client.find_member(member.discord_id)
    except (DripError, InvalidState, ValidationFailed) as exc:
        _mark(transfer, DripTransferStatus.FAILED, exc)
        return exc
    if remote.balance < amount:
        _mark(transfer, DripTransferStatus.FAILED, "not enough points at DRIP")
        return InsufficientPoints(
            f"Not enough points: your balance is {remote.balance}, and this needs {amount}.",
            balance=remote.balance,
            needed=amount,
        )
    transfer.balance_before = remote.balance
    transfer.attempts += 1
    transfer.save(update_fields=["balance_before", "attempts", "updated_at"])
    try:
        client.adjust_balance(remote.drip_id, -amount)
    except DripAmbiguous as exc:
        _resolve_ambiguous(client, transfer, member, exc)
        if transfer.status != DripTransferStatus.APPLIED:
            return DripUnavailable(
                "DRIP did not confirm the payment; nothing was bet. "
                + (
                    "Please try again."
                    if transfer.status == DripTransferStatus.FAILED
                    else "We are checking it and will refund it if it went through."
                )
            )
    except DripError as exc:
        _mark(transfer, DripTransferStatus.FAILED, exc)
        return exc
    else:
        _mark_applied(transfer, transfer.balance_before - amount)
    return None


def _resolve_ambiguous(
    client: DripClient, transfer: DripTransfer, member: Member, exc: DripError
) -> None:
    """The write's answer was lost: read the balance to learn whether it applied.

    Certain only if nothing else changed the member's DRIP balance meanwhile;
    anything else is marked AMBIGUOUS for a person to check (never retried blind).
    """
    try:
        now = client.find_member(member.discord_id).balance
    except DripError:
        _mark(transfer, DripTransferStatus.AMBIGUOUS, exc)
        return
    expected = transfer.balance_before + transfer.amount
    if now == expected:
        _mark_applied(transfer, now)
    elif now == transfer.balance_before:
        _mark(
            transfer,
            DripTransferStatus.FAILED if transfer.amount < 0 else DripTransferStatus.PENDING,
            exc,
        )
    else:
        _mark(
            transfer,
            DripTransferStatus.AMBIGUOUS,
            f"{exc}; balance went {transfer.balance_before} -> {now}, expected {expected}",
        )


def _mark(transfer: DripTransfer, status: str, error: object) -> None:
    transfer.status = status
    transfer.last_error = str(error)[:500]
    transfer.save(update_fields=["status", "last_error", "updated_at"])
    if status == DripTransferStatus.AMBIGUOUS:
        logger.error("DRIP transfer %s is ambiguous: %s", transfer.idempotency_key, error)


def _mark_applied(transfer: DripTransfer, balance_after: int | None) -> None:
    transfer.status = DripTransferStatus.APPLIED
    transfer.balance_after = balance_after
    transfer.applied_at = timezone.now()
    transfer.last_error = ""
    transfer.save(
        update_fields=["status", "balance_after", "applied_at", "last_error", "updated_at"]
    )


# ------------------------------------------------------------------------------
# Credits (queued, delivered by a task)
# ------------------------------------------------------------------------------
def drip_queue_credit(
    *, member: Member | int, guild_id: int, amount: int, purpose: str, key: str
) -> DripTransfer | None:
    """Queue a credit in the caller's transaction (it commits with the local change)."""
    if amount <= 0:
        return None
    member_id = member.pk if isinstance(member, Member) else member
    transfer, _ = DripTransfer.objects.get_or_create(
        idempotency_key=key,
        defaults={
            "guild_id": guild_id,
            "member_id": member_id,
            "amount": amount,
            "purpose": purpose,
            "next_attempt_at": timezone.now(),
        },
    )
    return transfer


@dataclass
class DeliveryReport:
    applied: int = 0
    retrying: int = 0
    ambiguous: int = 0


def deliver_pending_transfers(*, limit: int = 100) -> DeliveryReport:
    """Deliver due credits, each once: the row is locked while its call is made."""
    report = DeliveryReport()
    now = timezone.now()
    due = DripTransfer.objects.filter(
        status=DripTransferStatus.PENDING, amount__gt=0, next_attempt_at__lte=now
    ).values_list("pk", flat=True)[:limit]
    for transfer_id in list(due):
        with transaction.atomic():
            # SKIP LOCKED: another worker is delivering this one right now.
            transfer = (
                DripTransfer.objects.select_for_update(skip_locked=True)
                .select_related("member", "member__guild")
                .filter(pk=transfer_id, status=DripTransferStatus.PENDING)
                .first()
            )
            if transfer is None:
                continue
            _deliver_one(transfer)
            if transfer.status == DripTransferStatus.APPLIED:
                report.applied += 1
            elif transfer.status == DripTransferStatus.AMBIGUOUS:
                report.ambiguous += 1
            else:
                report.retrying += 1
    return report


def _deliver_one(transfer: DripTransfer) -> None:
    member = transfer.member
    transfer.attempts += 1
    try:
        client = drip_client_for(member.guild)
        remote = client.find_member(member.discord_id)
        transfer.balance_before = remote.balance
        transfer.save(update_fields=["attempts", "balance_before", "updated_at"])
        client.adjust_balance(remote.drip_id, transfer.amount)
    except DripAmbiguous as exc:
        _resolve_ambiguous(client, transfer, member, exc)
    except (DripUnavailable, DripRejected, InvalidState, ValidationFailed) as exc:
        # Not applied: try again later (a refusal such as a bad key needs an admin,
        # and is reported by reconciliation and the health check meanwhile).
        _mark(transfer, DripTransferStatus.PENDING, exc)
    else:
        _mark_applied(transfer, transfer.balance_before + transfer.amount)
        cache.delete(_balance_key(member))
    if transfer.status == DripTransferStatus.PENDING:
        delay = min(timedelta(seconds=15 * 2 ** min(transfer.attempts, 10)), RETRY_BACKOFF_CAP)
        transfer.next_attempt_at = timezone.now() + delay
        transfer.save(update_fields=["attempts", "next_attempt_at", "updated_at"])
