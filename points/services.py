"""Point services: guilds and members on first use, daily claims, tips, moderation.

Every function that moves points goes through ``ledger_post`` and is atomic
and idempotent. Permission to moderate is decided by the caller (a Discord role,
Manage Server, or Django staff permission); these functions record who acted.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from points.amounts import MAX_AMOUNT
from points.ledger import Leg, ledger_post
from points.models import (
    Account,
    AccountKind,
    Guild,
    LedgerTransaction,
    Member,
    PointsBackend,
    TransactionKind,
)
from points.snowflakes import parse_snowflake
from predictmarket.audit import audit_record
from predictmarket.errors import (
    AccountFrozen,
    IdempotencyConflict,
    InvalidState,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from predictmarket.outbox import outbox_append

DAILY_INTERVAL = timedelta(hours=24)
MAX_REASON_LENGTH = 500


class DailyNotReady(InvalidState):
    code = "daily_not_ready"
    default_message = "You already claimed your daily points."


def parse_amount(amount: object, *, field: str = "amount", minimum: int = 1) -> int:
    """Whole points from ``minimum`` to ``MAX_AMOUNT``; anything else is ``ValidationFailed``."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        text = amount.strip() if isinstance(amount, str) else ""
        # ASCII digits only: str.isdigit() also accepts "²", which int() refuses,
        # and the length cap keeps int() below Python's 4300-digit limit.
        digits = text.removeprefix("-")
        if digits.isascii() and digits.isdigit() and len(digits) <= 30:
            amount = int(text)
        else:
            raise ValidationFailed(f"{field} must be a whole number of points.", field=field)
    if amount < minimum:
        raise ValidationFailed(f"{field} must be at least {minimum:,}.", field=field)
    if amount > MAX_AMOUNT:
        raise ValidationFailed(f"{field} must be at most {MAX_AMOUNT:,}.", field=field)
    return amount


def _reason(reason: str | None) -> str:
    cleaned = (reason or "").strip()
    if not cleaned:
        raise ValidationFailed("A reason is required.", field="reason")
    if len(cleaned) > MAX_REASON_LENGTH:
        raise ValidationFailed(
            f"The reason must be at most {MAX_REASON_LENGTH} characters.", field="reason"
        )
    return cleaned


# ------------------------------------------------------------------------------
# Guilds, members, accounts
# ------------------------------------------------------------------------------
def guild_ensure(*, guild_id: object, name: str = "") -> Guild:
    """The guild with this Discord id, created with default settings on first use."""
    snowflake = parse_snowflake(guild_id, field="guild id")
    guild = Guild.objects.filter(pk=snowflake).first()
    if guild is None:
        with transaction.atomic():
            guild, _ = Guild.objects.get_or_create(pk=snowflake, defaults={"name": name[:100]})
            Account.objects.get_or_create(
                guild=guild, kind=AccountKind.HOUSE, defaults={"label": "house"}
            )
    elif name and guild.name != name[:100]:
        Guild.objects.filter(pk=snowflake).update(name=name[:100])
        guild.name = name[:100]
    return guild


def house_account(guild_id: int) -> Account:
    account = Account.objects.filter(guild_id=guild_id, kind=AccountKind.HOUSE).first()
    if account is None:
        raise NotFound("This server is not set up yet.", guild_id=guild_id)
    return account


def escrow_account_create(*, guild_id: int, label: str) -> Account:
    return Account.objects.create(guild_id=guild_id, kind=AccountKind.ESCROW, label=label[:100])


def member_ensure(
    *, guild_id: object, discord_id: object, display_name: str = "", guild_name: str = ""
) -> Member:
    """The member, created on first appearance with the guild's starting grant (once)."""
    guild_snowflake = parse_snowflake(guild_id, field="guild id")
    user_snowflake = parse_snowflake(discord_id, field="member id")
    member = (
        Member.objects.select_related("guild", "account")
        .filter(guild_id=guild_snowflake, discord_id=user_snowflake)
        .first()
    )
    if member is not None:
        if display_name and member.display_name != display_name[:100]:
            Member.objects.filter(pk=member.pk).update(display_name=display_name[:100])
            member.display_name = display_name[:100]
        return member
    guild = guild_ensure(guild_id=guild_snowflake, name=guild_name)
    try:
        with transaction.atomic():
            member = Member.objects.create(
                guild=guild, discord_id=user_snowflake, display_name=display_name[:100]
            )
            account = Account.objects.create(
                guild=guild, kind=AccountKind.MEMBER, member=member, label=display_name[:100]
            )
            # A DRIP guild's points live in DRIP: no local starting grant.
            if guild.starting_balance > 0 and guild.points_backend == PointsBackend.LOCAL:
                ledger_post(
                    guild_id=guild.pk,
                    legs=[
                        Leg(house_account(guild.pk).pk, -guild.starting_balance),
                        Leg(account.pk, guild.starting_balance),
                    ],
                    kind=TransactionKind.GRANT,
                    actor="system",
                    memo="starting balance",
                    idempotency_key=f"start:{guild.pk}:{user_snowflake}",
                )
    except IntegrityError:
        # Another request created this member first; use theirs.
        pass
    return Member.objects.select_related("guild", "account").get(
        guild_id=guild_snowflake, discord_id=user_snowflake
    )


def member_get(*, guild_id: int, discord_id: object) -> Member:
    """An existing member of this guild, or ``NotFound``."""
    snowflake = parse_snowflake(discord_id, field="member id")
    member = (
        Member.objects.select_related("guild", "account")
        .filter(guild_id=guild_id, discord_id=snowflake)
        .first()
    )
    if member is None:
        raise NotFound("That member has not used the markets in this server yet.")
    return member


def _refuse_for_drip(guild: Guild, feature: str) -> None:
    if guild.points_backend == PointsBackend.DRIP:
        raise InvalidState(
            f"{feature} are handled by DRIP in this server: this bot only uses DRIP points "
            "for markets."
        )


def _lock_accounts(account_ids: list[int]) -> None:
    """Row locks on these ledger accounts, in primary-key order (the ledger's lock order)."""
    list(
        Account.objects.select_for_update()
        .filter(pk__in=account_ids)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _lock_member(member: Member) -> Member:
    # Row lock on the member: serialises claims and freezes for one member.
    # NO KEY UPDATE (all they change is plain columns): a trade's insert that
    # references the member takes KEY SHARE on this row while it holds the
    # member's account lock, and FOR UPDATE would deadlock a freeze with it.
    return (
        Member.objects.select_for_update(of=("self",), no_key=True)
        .select_related("guild", "account")
        .get(pk=member.pk)
    )


# ------------------------------------------------------------------------------
# Member features
# ------------------------------------------------------------------------------
@dataclass(frozen=True)
class DailyClaim:
    amount: int
    balance: int
    next_claim_at: datetime
    transaction_id: int


def points_daily_claim(*, member: Member, idempotency_key: str | None = None) -> DailyClaim:
    """Claim the guild's daily points, at most once per rolling 24 hours."""
    if idempotency_key:
        earlier = LedgerTransaction.objects.filter(idempotency_key=idempotency_key).first()
        if earlier is not None:
            return _daily_from_transaction(member, earlier)
    _refuse_for_drip(member.guild, "Daily points")
    with transaction.atomic():
        locked = _lock_member(member)
        if idempotency_key:
            # Checked again under the lock: a concurrent request with this key
            # may have claimed while we waited, and must be replayed, not refused.
            earlier = LedgerTransaction.objects.filter(idempotency_key=idempotency_key).first()
            if earlier is not None:
                return _daily_from_transaction(locked, earlier)
        if locked.is_frozen:
            raise AccountFrozen()
        now = timezone.now()
        if locked.last_daily_at is not None and now < locked.last_daily_at + DAILY_INTERVAL:
            next_at = locked.last_daily_at + DAILY_INTERVAL
            raise DailyNotReady(
                f"You already claimed your daily points. The next claim opens at "
                f"{next_at:%Y-%m-%d %H:%M} UTC.",
                next_claim_at=next_at.isoformat(),
            )
        amount = locked.guild.daily_amount
        if amount <= 0:
            raise InvalidState("Daily points are turned off in this server.")
        key = idempotency_key or f"daily:{locked.pk}:{now:%Y%m%d%H%M%S%f}"
        txn = ledger_post(
            guild_id=locked.guild_id,
            legs=[Leg(house_account(locked.guild_id).pk, -amount), Leg(locked.account.pk, amount)],
            kind=TransactionKind.DAILY,
            actor=f"discord:{locked.discord_id}",
            memo="daily claim",
            idempotency_key=key,
        )
        locked.last_daily_at = now
        locked.save(update_fields=["last_daily_at"])
    return DailyClaim(
        amount=amount,
        balance=txn.balances[locked.account.pk],  # type: ignore[attr-defined]
        next_claim_at=now + DAILY_INTERVAL,
        transaction_id=txn.pk,
    )


def _daily_from_transaction(member: Member, txn: LedgerTransaction) -> DailyClaim:
    entry = txn.entries.filter(account__member=member).first()
    if txn.kind != TransactionKind.DAILY or entry is None:
        # The key was used for another member's claim or another operation.
        raise IdempotencyConflict(key=txn.idempotency_key)
    member.refresh_from_db(fields=["last_daily_at"])
    return DailyClaim(
        amount=entry.amount,
        balance=Account.objects.get(member=member).balance,
        next_claim_at=txn.created_at + DAILY_INTERVAL,
        transaction_id=txn.pk,
    )


@dataclass(frozen=True)
class TransferResult:
    amount: int
    sender_balance: int
    recipient_balance: int
    transaction_id: int
    replayed: bool


def points_transfer(
    *,
    sender: Member,
    recipient: Member,
    amount: object,
    idempotency_key: str,
    memo: str = "",
) -> TransferResult:
    """A tip from one member to another member of the same guild."""
    points = parse_amount(amount)
    if sender.guild_id != recipient.guild_id:
        raise NotFound("That member is not in this server.")
    if sender.pk == recipient.pk:
        raise ValidationFailed("You cannot send points to yourself.", field="recipient")
    _refuse_for_drip(sender.guild, "Tips")
    if not sender.guild.transfers_enabled:
        raise PermissionDenied("Point transfers are turned off in this server.")
    with transaction.atomic():
        # Both accounts, in primary-key order like every posting (no deadlock
        # with a tip the other way). The sender's is the lock member_set_frozen
        # takes, so the freeze read below is current, and no freeze can commit
        # between it and the posting: the tip lands before the freeze, or is refused.
        _lock_accounts([sender.account.pk, recipient.account.pk])
        if Member.objects.filter(pk=sender.pk, is_frozen=True).exists():
            raise AccountFrozen()
        txn = ledger_post(
            guild_id=sender.guild_id,
            legs=[Leg(sender.account.pk, -points), Leg(recipient.account.pk, points)],
            kind=TransactionKind.TRANSFER,
            actor=f"discord:{sender.discord_id}",
            memo=(memo.strip() or f"tip to {recipient}")[:500],
            idempotency_key=idempotency_key,
        )
    balances = dict(
        Account.objects.filter(pk__in=[sender.account.pk, recipient.account.pk]).values_list(
            "pk", "balance"
        )
    )
    return TransferResult(
        amount=points,
        sender_balance=balances[sender.account.pk],
        recipient_balance=balances[recipient.account.pk],
        transaction_id=txn.pk,
        replayed=txn.replayed,  # type: ignore[attr-defined]
    )


# ------------------------------------------------------------------------------
# Moderator features
# ------------------------------------------------------------------------------
def _moderator_adjust(
    *,
    member: Member,
    amount: object,
    reason: str,
    actor: str,
    idempotency_key: str | None,
    sign: int,
) -> LedgerTransaction:
    # A DRIP guild's balances live in DRIP: a local grant would be points nobody can spend.
    _refuse_for_drip(member.guild, "Moderator grants and deductions")
    points = parse_amount(amount)
    why = _reason(reason)
    action = "points.grant" if sign > 0 else "points.deduct"
    # Without a request id every call is a new adjustment: a timestamp key would
    # silently merge two identical grants made within one clock tick.
    key = idempotency_key or f"{action}:{member.pk}:{uuid.uuid4().hex}"
    with transaction.atomic():
        house = house_account(member.guild_id)
        txn = ledger_post(
            guild_id=member.guild_id,
            legs=[Leg(house.pk, -sign * points), Leg(member.account.pk, sign * points)],
            kind=TransactionKind.ADJUSTMENT,
            actor=actor,
            memo=why,
            idempotency_key=key,
        )
        if not txn.replayed:  # type: ignore[attr-defined]
            data = {"amount": points, "reason": why, "transaction_id": txn.pk}
            audit_record(
                actor=actor, action=action, guild_id=member.guild_id, target=member, data=data
            )
            outbox_append(
                kind="balance.granted" if sign > 0 else "balance.deducted",
                guild_id=member.guild_id,
                aggregate_type="member",
                aggregate_id=member.pk,
                payload={**data, "discord_id": str(member.discord_id)},
            )
    return txn


def points_grant(
    *, member: Member, amount: object, reason: str, actor: str, idempotency_key: str | None = None
) -> LedgerTransaction:
    """Give a member points from the house, with a reason (moderators)."""
    return _moderator_adjust(
        member=member,
        amount=amount,
        reason=reason,
        actor=actor,
        idempotency_key=idempotency_key,
        sign=1,
    )


def points_deduct(
    *, member: Member, amount: object, reason: str, actor: str, idempotency_key: str | None = None
) -> LedgerTransaction:
    """Take points back to the house; refused if it would take the balance below zero."""
    return _moderator_adjust(
        member=member,
        amount=amount,
        reason=reason,
        actor=actor,
        idempotency_key=idempotency_key,
        sign=-1,
    )


def member_set_frozen(*, member: Member, frozen: bool, reason: str, actor: str) -> Member:
    """Freeze (no betting, transfers or claims) or unfreeze a member, with a reason."""
    why = _reason(reason)
    with transaction.atomic():
        locked = _lock_member(member)
        # And the member's ledger account, after the member row (the order daily
        # claims lock them in). Trades (in their lock read) and tips take this
        # lock before they read is_frozen, so a freeze waits for any trade or
        # tip under way and every later one sees it: none commits after it.
        _lock_accounts([locked.account.pk])
        if locked.is_frozen == frozen:
            raise InvalidState(
                "That member is already frozen." if frozen else "That member is not frozen."
            )
        locked.is_frozen = frozen
        locked.frozen_reason = why if frozen else ""
        locked.save(update_fields=["is_frozen", "frozen_reason"])
        audit_record(
            actor=actor,
            action="member.freeze" if frozen else "member.unfreeze",
            guild_id=locked.guild_id,
            target=locked,
            data={"reason": why},
        )
    return locked


def member_set_notify_results(*, member: Member, on: bool, actor: str) -> bool:
    """Turn a member's result DMs on or off; False when it already was so (nothing written).

    Setting it again is not an error: ``/notify on`` twice leaves it on, with one
    audit entry for the one change.
    """
    with transaction.atomic():
        changed = Member.objects.filter(pk=member.pk, notify_results=not on).update(
            notify_results=on
        )
        if changed:
            audit_record(
                actor=actor,
                action="member.notify_on" if on else "member.notify_off",
                guild_id=member.guild_id,
                target=member,
            )
    member.notify_results = on
    return bool(changed)


# ------------------------------------------------------------------------------
# Guild settings
# ------------------------------------------------------------------------------
GUILD_SETTINGS = (
    "moderator_role_id",
    "announcement_channel_id",
    "starting_balance",
    "daily_amount",
    "min_bet",
    "max_bet",
    "default_liquidity",
    "fee_bps",
    "min_resolution_votes",
    "auto_refund_hours",
    "resolvers_binary",
    "resolvers_multiple",
    "correction_window_hours",
    "public_pages",
    "transfers_enabled",
    "announce_new_markets",
    "closing_soon_lead_minutes",
    "market_threads",
)


def guild_update_settings(*, guild_id: int, actor: str, **changes: object) -> Guild:
    """Change a guild's settings (guild admins); validated by the model's own rules.

    Unknown names and invalid values are a ``ValidationFailed`` naming the
    setting; nothing is saved unless every change is valid.
    """
    unknown = sorted(set(changes) - set(GUILD_SETTINGS))
    if unknown:
        raise ValidationFailed(f"Unknown setting: {', '.join(unknown)}.", field=unknown[0])
    if not changes:
        raise ValidationFailed("Nothing to change.")
    with transaction.atomic():
        guild = Guild.objects.select_for_update().filter(pk=guild_id).first()
        if guild is None:
            raise NotFound("This server is not set up yet.")
        before = {name: getattr(guild, name) for name in changes}
        for name, value in changes.items():
            setattr(guild, name, value)
        try:
            # Each value's own rules; the one rule across values (bet limits) is below,
            # with a message that names both.
            guild.full_clean(
                exclude=[f.name for f in Guild._meta.fields if f.name not in changes],
                validate_constraints=False,
            )
        except DjangoValidationError as exc:
            field, messages = next(iter(exc.message_dict.items()))
            raise ValidationFailed(f"{field}: {' '.join(messages)}", field=field) from None
        if (
            isinstance(guild.min_bet, int)
            and isinstance(guild.max_bet, int)
            and guild.max_bet < guild.min_bet
        ):
            raise ValidationFailed(
                f"max_bet ({guild.max_bet:,}) must not be below min_bet ({guild.min_bet:,}).",
                field="max_bet",
            )
        guild.save(update_fields=[*changes, "updated_at"])
        audit_record(
            actor=actor,
            action="guild.settings",
            guild_id=guild.pk,
            target=guild,
            data={
                "before": {k: _plain(v) for k, v in before.items()},
                "after": {k: _plain(getattr(guild, k)) for k in changes},
            },
        )
    return guild


def _plain(value: object) -> object:
    return (
        str(value)
        if isinstance(value, int) and not isinstance(value, bool) and value > 2**53
        else value
    )
