"""``ledger_post``: the one function that moves points.

Everything else (grants, daily claims, tips, bets, payouts, refunds) is built
on it. It is atomic, idempotent by key, and takes row locks on the accounts in
primary-key order so concurrent posts cannot deadlock (callers that also lock a
market lock it first).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from points.models import Account, AccountKind, LedgerEntry, LedgerTransaction, TransactionKind
from predictmarket.errors import (
    IdempotencyConflict,
    InsufficientPoints,
    NotFound,
    ValidationFailed,
)


@dataclass(frozen=True)
class Leg:
    """One side of a posting: ``amount`` points into (positive) or out of ``account_id``."""

    account_id: int
    amount: int


def _fingerprint(kind: str, legs: Iterable[Leg]) -> str:
    canonical = ";".join(f"{leg.account_id}:{leg.amount}" for leg in sorted(legs, key=_leg_key))
    return hashlib.sha256(f"{kind}|{canonical}".encode()).hexdigest()


def _leg_key(leg: Leg) -> tuple[int, int]:
    return (leg.account_id, leg.amount)


def _validate(legs: list[Leg], kind: str, idempotency_key: str) -> list[Leg]:
    if kind not in TransactionKind.values:
        raise ValidationFailed(f"Unknown transaction kind {kind!r}.", field="kind")
    if not idempotency_key or len(idempotency_key) > 200:
        raise ValidationFailed("An idempotency key of 1-200 characters is required.")
    if len(legs) < 2:
        raise ValidationFailed("A transaction needs at least two entries.")
    merged: dict[int, int] = {}
    for leg in legs:
        if isinstance(leg.amount, bool) or not isinstance(leg.amount, int):
            raise ValidationFailed("Amounts are whole points.", field="amount")
        merged[leg.account_id] = merged.get(leg.account_id, 0) + leg.amount
    if sum(merged.values()) != 0:
        raise ValidationFailed("Entries must sum to zero.")
    result = [Leg(account_id, amount) for account_id, amount in sorted(merged.items()) if amount]
    if len(result) < 2:
        raise ValidationFailed("A transaction must move points between two accounts.")
    return result


def _replay(existing: LedgerTransaction, fingerprint: str) -> LedgerTransaction:
    if existing.fingerprint != fingerprint:
        raise IdempotencyConflict(key=existing.idempotency_key)
    existing.replayed = True  # type: ignore[attr-defined]
    return existing


def ledger_post(
    *,
    guild_id: int,
    legs: list[Leg],
    kind: str,
    actor: str,
    memo: str = "",
    idempotency_key: str,
) -> LedgerTransaction:
    """Post a balanced transaction, or return the one already posted under this key.

    Raises ``ValidationFailed`` for malformed legs, ``NotFound`` for an account
    outside the guild, ``InsufficientPoints`` when a member or escrow account
    would go negative, and ``IdempotencyConflict`` when the key was used for a
    different transaction. On any error nothing is written.
    """
    legs = _validate(legs, kind, idempotency_key)
    fingerprint = _fingerprint(kind, legs)
    now = timezone.now()
    # No savepoint: inside a caller's transaction an error here must roll back
    # the caller's work too, and it saves two round trips per post.
    with transaction.atomic(savepoint=False):
        txn_table = LedgerTransaction._meta.db_table
        account_table = Account._meta.db_table
        with connection.cursor() as cursor:
            # ON CONFLICT DO NOTHING: a concurrent post with the same key waits
            # here for the first to commit, then gets no row and replays it.
            cursor.execute(
                f"INSERT INTO {txn_table} "  # noqa: S608 - table names are ours
                "(guild_id, kind, actor, memo, idempotency_key, fingerprint, created_at) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
                [guild_id, kind, actor[:100], memo[:500], idempotency_key, fingerprint, now],
            )
            row = cursor.fetchone()
            if row is None:
                existing = LedgerTransaction.objects.get(idempotency_key=idempotency_key)
                return _replay(existing, fingerprint)
            txn_id = row[0]

            entries = []
            # Primary-key order: every poster locks accounts in the same order.
            for leg in legs:
                cursor.execute(
                    f"UPDATE {account_table} SET balance = balance + %s "  # noqa: S608
                    "WHERE id = %s AND guild_id = %s "
                    "AND (kind = %s OR balance + %s >= 0) RETURNING balance",
                    [leg.amount, leg.account_id, guild_id, AccountKind.HOUSE, leg.amount],
                )
                updated = cursor.fetchone()
                if updated is None:
                    _raise_for_refused_leg(leg, guild_id)
                entries.append(
                    LedgerEntry(
                        transaction_id=txn_id,
                        account_id=leg.account_id,
                        amount=leg.amount,
                        balance_after=updated[0],
                    )
                )
        LedgerEntry.objects.bulk_create(entries)
    txn = LedgerTransaction(
        id=txn_id,
        guild_id=guild_id,
        kind=kind,
        actor=actor[:100],
        memo=memo[:500],
        idempotency_key=idempotency_key,
        fingerprint=fingerprint,
        created_at=now,
    )
    txn.replayed = False  # type: ignore[attr-defined]
    txn.balances = {entry.account_id: entry.balance_after for entry in entries}  # type: ignore[attr-defined]
    return txn


def _raise_for_refused_leg(leg: Leg, guild_id: int) -> None:
    account = Account.objects.filter(id=leg.account_id, guild_id=guild_id).first()
    if account is None:
        raise NotFound("That account does not exist in this server.", account_id=leg.account_id)
    raise InsufficientPoints(
        f"Not enough points: the balance is {account.balance}, and this needs {-leg.amount}.",
        balance=account.balance,
        needed=-leg.amount,
    )
