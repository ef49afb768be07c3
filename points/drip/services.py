"""Points kept in DRIP: connecting a guild, balances, debits for bets, queued credits.

Money flow for a DRIP guild
---------------------------
* Members' points live in DRIP. Locally, a guild's *clearing* account stands
  for DRIP: a bet moves points clearing → market escrow; a payout, refund or
  sale moves them escrow → clearing and queues a credit to DRIP.
* A bet's debit is made at DRIP *before* the local bet (and outside the market
  lock). If DRIP refuses, nothing happens locally and the member is told. If
  the local bet then fails (price moved, market closed, crash), a
  compensating credit is queued.
* Every write to DRIP is a state machine recorded in ``DripTransfer``
  (``points.drip.writes``): the intent is committed before the HTTP call and
  the outcome after, so nothing is ever sent twice blindly. Credits, and
  writes left *sending* by a crash, are handled by ``deliver_pending_transfers``
  (``points.drip.delivery``, a Celery task).
* A guild switches backend only when nothing is in flight: no market unsettled,
  no transfer undelivered (``guild_connect_drip``, ``guild_use_local_points``).
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from points.drip.client import DripAmbiguous, DripUnavailable
from points.drip.delivery import DeliveryReport, deliver_pending_transfers
from points.drip.secrets import encrypt_api_key
from points.drip.writes import (
    Claim,
    balance_cache_key,
    claim,
    compensation_key,
    drip_client_for,
    fail_unsent,
    record_balance_before,
    release_unsent,
    send,
    settling_delay,
)
from points.models import (
    DRIP_UNDELIVERED,
    Account,
    AccountKind,
    DripTransfer,
    DripTransferStatus,
    Guild,
    Member,
    PointsBackend,
)
from predictmarket.audit import audit_record
from predictmarket.errors import (
    DomainError,
    IdempotencyConflict,
    InsufficientPoints,
    InvalidState,
    ValidationFailed,
)

logger = logging.getLogger(__name__)


def is_drip_guild(guild: Guild) -> bool:
    return guild.points_backend == PointsBackend.DRIP


def clearing_account(guild_id: int) -> Account:
    account, _ = Account.objects.get_or_create(
        guild_id=guild_id, kind=AccountKind.CLEARING, defaults={"label": "DRIP clearing"}
    )
    return account


def guild_connect_drip(
    *, guild_id: int, realm_id: str, api_key: str | None, currency_id: str = "", actor: str
) -> Guild:
    """Switch a guild to DRIP points (admins). ``api_key`` None keeps the stored one.

    Refused while stakes or transfers are in flight (``_refuse_switch_in_flight``),
    unless only the API key changes: that moves no points anywhere.
    """
    realm_id = (realm_id or "").strip().lower()
    if len(realm_id) != 24 or any(c not in "0123456789abcdef" for c in realm_id):
        raise ValidationFailed("A DRIP realm id is 24 hex characters.", field="drip_realm_id")
    currency_id = (currency_id or "").strip()[:64]
    with transaction.atomic():
        guild = Guild.objects.select_for_update().get(pk=guild_id)
        same_place = (
            is_drip_guild(guild)
            and guild.drip_realm_id == realm_id
            and guild.drip_currency_id == currency_id
        )
        if not same_place:
            _refuse_switch_in_flight(guild)
        if api_key:
            guild.drip_api_key_encrypted = encrypt_api_key(api_key)
        if not guild.drip_api_key_encrypted:
            raise ValidationFailed("The DRIP API key is required.", field="drip_api_key")
        guild.points_backend = PointsBackend.DRIP
        guild.drip_realm_id = realm_id
        guild.drip_currency_id = currency_id
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
    """Switch a guild back to local points (admins); refused while anything is in flight."""
    with transaction.atomic():
        guild = Guild.objects.select_for_update().get(pk=guild_id)
        if not is_drip_guild(guild):
            return guild
        _refuse_switch_in_flight(guild)
        guild.points_backend = PointsBackend.LOCAL
        guild.save(update_fields=["points_backend", "updated_at"])
        audit_record(actor=actor, action="guild.drip_disconnect", guild_id=guild.pk, target=guild)
    return guild


SHOWN_MARKET_IDS = 10


def _refuse_switch_in_flight(guild: Guild) -> None:
    """A stake comes back the way it was paid: no switch while one is in flight.

    A market not settled or refunded (open, closed, or decided with
    ``settled_at`` still empty) would pay local stakes back as DRIP credits, or
    the reverse; a transfer not delivered (pending, sending, ambiguous) would
    be stranded. The guild row is locked by the caller.
    """
    # Through each escrow's market (the reverse one-to-one), so points imports no markets code.
    unsettled = list(
        Account.objects.filter(
            guild_id=guild.pk,
            kind=AccountKind.ESCROW,
            market__isnull=False,
            market__settled_at__isnull=True,
        )
        .order_by("market__id")
        .values_list("market__id", flat=True)
    )
    undelivered = DripTransfer.objects.filter(
        guild_id=guild.pk, status__in=DRIP_UNDELIVERED
    ).count()
    reasons = []
    if unsettled:
        shown = ", ".join(f"#{pk}" for pk in unsettled[:SHOWN_MARKET_IDS])
        hidden = len(unsettled) - SHOWN_MARKET_IDS
        more = f" and {hidden} more" if hidden > 0 else ""
        reasons.append(
            f"{len(unsettled)} {'market is' if len(unsettled) == 1 else 'markets are'} "
            f"not settled yet: {shown}{more}"
        )
    if undelivered:
        reasons.append(
            f"{undelivered} DRIP {'transfer is' if undelivered == 1 else 'transfers are'} "
            "not delivered yet"
        )
    if reasons:
        raise InvalidState(
            "The points backend cannot change now: "
            + "; ".join(reasons)
            + ". Stakes must be paid back in the points they were paid with; try again once "
            "these are settled.",
            unsettled_markets=unsettled[:SHOWN_MARKET_IDS],
            undelivered_transfers=undelivered,
        )


# ------------------------------------------------------------------------------
# Balances
# ------------------------------------------------------------------------------
def drip_balance(member: Member, *, fresh: bool = False) -> int:
    """The member's DRIP balance, cached briefly; ``DripUnavailable`` says DRIP is down."""
    key = balance_cache_key(member)
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
def drip_debit(
    *, member: Member, amount: int, key: str, purpose: str = "bet", subject: str = ""
) -> DripTransfer:
    """Take ``amount`` from the member at DRIP now, or raise and change nothing there.

    Call it outside any transaction: the intent and the outcome are each
    committed on their own (``points.drip.writes``). Idempotent by ``key``: a
    replay of the same request (member, amount, purpose and ``subject``, e.g.
    the market and option) returns the applied debit; the key reused for
    another request is an ``IdempotencyConflict``. Two requests with one key
    (a double click): one sends, the other waits briefly for its outcome.
    """
    if _member_busy(member, key=key):
        # Checked before the row exists, so a refusal leaves nothing behind;
        # ``claim`` checks it again under the member's lock.
        raise DripUnavailable(MEMBER_BUSY_MESSAGE)
    transfer, created = DripTransfer.objects.get_or_create(
        idempotency_key=key,
        defaults={
            "guild_id": member.guild_id,
            "member": member,
            "amount": -amount,
            "purpose": purpose,
            "subject": subject,
            # If this request dies before sending, delivery fails the debit after this.
            "next_attempt_at": timezone.now() + settling_delay(),
        },
    )
    if not created:
        _check_same_request(transfer, member_id=member.pk, amount=-amount, purpose=purpose)
        if transfer.subject != subject:
            raise IdempotencyConflict(key=key)
    if DripTransfer.objects.filter(idempotency_key=compensation_key(key)).exists():
        # This request already failed after its debit and was refunded: a replay
        # answers as the original did, it does not bet again on the old debit.
        raise InvalidState(
            "This request failed earlier and its points were returned; please place the bet again."
        )
    transfer = _after_any_send_in_progress(transfer)
    if transfer.status == DripTransferStatus.APPLIED:
        return transfer
    if transfer.status in (DripTransferStatus.SENDING, DripTransferStatus.AMBIGUOUS):
        raise DripUnavailable(
            "Your payment for this bet is still being checked with DRIP; nothing was bet. "
            "If DRIP took the points they will be returned."
        )
    # Pending, or failed (certainly not applied, so this retry may send it).
    try:
        client = drip_client_for(member.guild)
    except DomainError as exc:
        fail_unsent(transfer, exc)
        raise
    claimed = claim(transfer, from_statuses=[DripTransferStatus.PENDING, DripTransferStatus.FAILED])
    if claimed is Claim.TAKEN:
        # Another request with this key claimed it first.
        transfer.refresh_from_db()
        return drip_debit(member=member, amount=amount, key=key, purpose=purpose, subject=subject)
    if claimed is Claim.MEMBER_BUSY:
        # Another write to this member was claimed since the check above. Failed
        # (never sent), so a retry of this request may send it.
        fail_unsent(transfer, "another DRIP write to this member was unsettled")
        raise DripUnavailable(MEMBER_BUSY_MESSAGE)
    try:
        remote = client.find_member(member.discord_id)
    except DomainError as exc:
        release_unsent(transfer, exc)
        raise
    if remote.balance < amount:
        release_unsent(transfer, "not enough points at DRIP")
        raise InsufficientPoints(
            f"Not enough points: your balance is {remote.balance:,}, and this needs {amount:,}.",
            balance=remote.balance,
            needed=amount,
        )
    if not record_balance_before(transfer, remote.balance):
        raise DripUnavailable(MEMBER_BUSY_MESSAGE)  # settled meanwhile: it was not sent
    error = send(client, transfer, remote.drip_id)
    if error is None:
        return transfer
    if isinstance(error, DripAmbiguous):
        raise DripUnavailable(
            "DRIP did not confirm the payment, so nothing was bet; if DRIP took the points "
            "they will be returned. Please try again in a minute."
        ) from error
    raise error


MEMBER_BUSY_MESSAGE = (
    "Your last DRIP payment is still being checked, so nothing was bet; "
    "please try again in a minute."
)


def _member_busy(member: Member, *, key: str) -> bool:
    """Is another of the member's DRIP writes unsettled (after a brief wait)?

    One in an ordinary send (a credit being delivered right now) finishes
    within one attempt, so it is waited for; one left by a crash or a lost
    answer stays *sending* until delivery settles it, and the bet is refused.
    """
    others = DripTransfer.objects.filter(
        member_id=member.pk, status=DripTransferStatus.SENDING
    ).exclude(idempotency_key=key)
    pause = 0.02
    while True:
        found = list(others.order_by("-sent_at").values_list("sent_at", flat=True)[:1])
        if not found:
            return False
        latest = found[0]
        recent = timezone.now() - timedelta(seconds=settings.DRIP_TIMEOUT_SECONDS + 1)
        if latest is None or latest < recent:
            return True
        time.sleep(pause)
        pause = min(pause * 2, 0.25)


def _check_same_request(
    transfer: DripTransfer, *, member_id: int, amount: int, purpose: str
) -> None:
    if (transfer.member_id, transfer.amount, transfer.purpose) != (member_id, amount, purpose):
        raise IdempotencyConflict(key=transfer.idempotency_key)


def _after_any_send_in_progress(transfer: DripTransfer) -> DripTransfer:
    """Wait (briefly) while another request with this key is sending it.

    Long enough for one ordinary attempt; past that the member is told it is
    still being checked, and delivery settles it after the settling delay.
    """
    if transfer.status != DripTransferStatus.SENDING or transfer.sent_at is None:
        return transfer
    deadline = transfer.sent_at + timedelta(seconds=settings.DRIP_TIMEOUT_SECONDS + 1)
    pause = 0.02
    while transfer.status == DripTransferStatus.SENDING and timezone.now() < deadline:
        time.sleep(pause)
        pause = min(pause * 2, 0.25)
        transfer.refresh_from_db()
    return transfer


# ------------------------------------------------------------------------------
# Credits (queued, delivered by a task: points.drip.delivery)
# ------------------------------------------------------------------------------
def drip_queue_credit(
    *, member: Member | int, guild_id: int, amount: int, purpose: str, key: str
) -> DripTransfer | None:
    """Queue a credit in the caller's transaction (it commits with the local change).

    The key reused for another member, amount or purpose is an ``IdempotencyConflict``.
    """
    if amount <= 0:
        return None
    member_id = member.pk if isinstance(member, Member) else member
    transfer, created = DripTransfer.objects.get_or_create(
        idempotency_key=key,
        defaults={
            "guild_id": guild_id,
            "member_id": member_id,
            "amount": amount,
            "purpose": purpose,
            "next_attempt_at": timezone.now(),
        },
    )
    if not created:
        _check_same_request(transfer, member_id=member_id, amount=amount, purpose=purpose)
    return transfer


__all__ = [
    "DeliveryReport",
    "clearing_account",
    "deliver_pending_transfers",
    "drip_balance",
    "drip_client_for",
    "drip_debit",
    "drip_queue_credit",
    "guild_connect_drip",
    "guild_use_local_points",
    "is_drip_guild",
]
