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
from datetime import datetime
from typing import Any, NoReturn

from django.db import connection, transaction
from django.utils import timezone

from points.models import (
    MAY_GO_NEGATIVE,
    Account,
    AccountKind,
    LedgerEntry,
    LedgerTransaction,
    TransactionKind,
)
from predictmarket.db import fetch_all_prepared, writes_in_sql
from predictmarket.errors import (
    Conflict,
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


# Read once: ``TransactionKind.values`` builds a new list on every access, and
# settling 10,000 winners validates 10,000 postings.
_KINDS = frozenset(TransactionKind.values)


def _validate(legs: list[Leg], kind: str, idempotency_key: str) -> list[Leg]:
    if kind not in _KINDS:
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


def trade_posting_key(trade_key: str) -> str:
    """The idempotency key of a trade's posting (written with the trade, in one transaction).

    Lower apps read it to know whether a request's trade exists without
    importing betting (``points.drip.delivery`` sweeps stakes with no bet).
    """
    return f"trade:{trade_key}"


@dataclass(frozen=True)
class Posting:
    """A validated transaction, ready to be written.

    ``ledger_post`` writes it on its own; on PostgreSQL a trade hands its
    ``arguments()`` to ``betting_trade_write``, which posts it with the same
    SQL function (``points_ledger_post``, points 0008) in the trade's one
    round trip. Either way ``posting_result`` checks the outcome.
    """

    guild_id: int
    legs: list[Leg]
    kind: str
    actor: str
    memo: str
    idempotency_key: str
    fingerprint: str
    created_at: datetime

    def header(self) -> list[object]:
        return [
            self.guild_id,
            self.kind,
            self.actor,
            self.memo,
            self.idempotency_key,
            self.fingerprint,
            self.created_at,
        ]

    def arguments(self, *, key: str = "p_idempotency_key") -> dict[str, object]:
        """``points_ledger_post``'s named arguments (``key``: the key's argument name)."""
        return {
            "p_guild_id": self.guild_id,
            "p_kind": self.kind,
            "p_actor": self.actor,
            "p_memo": self.memo,
            key: self.idempotency_key,
            "p_fingerprint": self.fingerprint,
            "p_created_at": self.created_at,
            "p_accounts": [leg.account_id for leg in self.legs],
            "p_amounts": [leg.amount for leg in self.legs],
        }


def posting(
    *,
    guild_id: int,
    legs: list[Leg],
    kind: str,
    actor: str,
    memo: str = "",
    idempotency_key: str,
) -> Posting:
    """Validate a transaction (``ValidationFailed`` for malformed legs); write nothing."""
    legs = _validate(legs, kind, idempotency_key)
    return Posting(
        guild_id=guild_id,
        legs=legs,
        kind=kind,
        actor=actor[:100],
        memo=memo[:500],
        idempotency_key=idempotency_key,
        fingerprint=_fingerprint(kind, legs),
        created_at=timezone.now(),
    )


class PostingRefused(Exception):
    """A leg of a posting written inside a larger statement was refused.

    Raised while that statement fails, so the transaction is rolled back;
    afterwards ``explain()`` reads the accounts again and raises the domain
    error ``ledger_post`` would have (``NotFound`` or ``InsufficientPoints``).
    """

    def __init__(self, post: Posting) -> None:
        super().__init__(f"posting {post.idempotency_key!r} refused")
        self.post = post

    def explain(self) -> NoReturn:
        _raise_for_refused_legs(self.post.legs, self.post.guild_id, after_rollback=True)


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
    return posting_write(
        posting(
            guild_id=guild_id,
            legs=legs,
            kind=kind,
            actor=actor,
            memo=memo,
            idempotency_key=idempotency_key,
        )
    )


def posting_write(post: Posting) -> LedgerTransaction:
    """Write a validated posting on its own (see ``ledger_post``)."""
    # No savepoint: inside a caller's transaction an error here must roll back
    # the caller's work too, and it saves two round trips per post.
    with transaction.atomic(savepoint=False):
        if writes_in_sql():
            [(txn_id, accounts, balances_after)] = fetch_all_prepared(
                _LEDGER_POST_CALL, post.arguments(), prepare=True
            )
            balances = dict(zip(accounts, balances_after, strict=True))
        else:
            with connection.cursor() as cursor:
                txn_id, balances = _post_portable(cursor, post)
        return posting_result(post, txn_id, balances)


def posting_result(
    post: Posting, txn_id: int | None, balances: dict[int, int]
) -> LedgerTransaction:
    """The posted transaction, or the original one for a replayed key.

    ``txn_id`` is None when the key was already taken (a replay, or a concurrent
    post that committed while this one waited); ``balances`` maps each account
    that moved to its balance after. A leg missing from it was refused, and
    the error raised here rolls the caller's transaction back.
    """
    if txn_id is None:
        existing = LedgerTransaction.objects.get(idempotency_key=post.idempotency_key)
        return _replay(existing, post.fingerprint)
    refused = [leg for leg in post.legs if leg.account_id not in balances]
    if refused:
        _raise_for_refused_legs(refused, post.guild_id)
    txn = LedgerTransaction(
        id=txn_id,
        guild_id=post.guild_id,
        kind=post.kind,
        actor=post.actor,
        memo=post.memo,
        idempotency_key=post.idempotency_key,
        fingerprint=post.fingerprint,
        created_at=post.created_at,
    )
    txn.replayed = False  # type: ignore[attr-defined]
    txn.balances = balances  # type: ignore[attr-defined]
    return txn


_TXN_TABLE = LedgerTransaction._meta.db_table
_ACCOUNT_TABLE = Account._meta.db_table
_ENTRY_TABLE = LedgerEntry._meta.db_table


_LEDGER_POST_CALL = """
    SELECT transaction_id, accounts, balances FROM points_ledger_post(
        p_guild_id => %(p_guild_id)s, p_kind => %(p_kind)s, p_actor => %(p_actor)s,
        p_memo => %(p_memo)s, p_idempotency_key => %(p_idempotency_key)s,
        p_fingerprint => %(p_fingerprint)s, p_created_at => %(p_created_at)s,
        p_accounts => %(p_accounts)s, p_amounts => %(p_amounts)s)
"""


def _post_portable(cursor: Any, post: Posting) -> tuple[int | None, dict[int, int]]:
    """The same post as several statements, for SQLite (the embedded default).

    The executable specification of ``points_ledger_post`` (points 0008).
    """
    guild_id = post.guild_id
    cursor.execute(
        f"INSERT INTO {_TXN_TABLE} "
        "(guild_id, kind, actor, memo, idempotency_key, fingerprint, created_at) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
        post.header(),
    )
    row = cursor.fetchone()
    if row is None:
        return None, {}
    txn_id = row[0]
    balances: dict[int, int] = {}
    entries = []
    # Primary-key order (legs are sorted): every poster locks in the same order.
    for leg in post.legs:
        cursor.execute(
            f"UPDATE {_ACCOUNT_TABLE} SET balance = balance + %s "
            "WHERE id = %s AND guild_id = %s "
            "AND (kind IN (%s, %s) OR balance + %s >= 0) RETURNING balance",
            [leg.amount, leg.account_id, guild_id, *MAY_GO_NEGATIVE, leg.amount],
        )
        updated = cursor.fetchone()
        if updated is None:
            return txn_id, balances
        balances[leg.account_id] = updated[0]
        entries.append(
            LedgerEntry(
                transaction_id=txn_id,
                account_id=leg.account_id,
                amount=leg.amount,
                balance_after=updated[0],
            )
        )
    LedgerEntry.objects.bulk_create(entries)
    return txn_id, balances


def _raise_for_refused_legs(
    legs: list[Leg], guild_id: int, *, after_rollback: bool = False
) -> NoReturn:
    """Name the reason: an account outside the guild first, else the overdrawn one.

    ``after_rollback`` (``PostingRefused``, a trade): only a member can run
    short in a trade, so another account overdrawn is a bug and raised as
    one; and a shortfall gone by now (a credit landed since) asks the user to
    try again rather than naming accounts.
    """
    accounts = Account.objects.in_bulk([leg.account_id for leg in legs])
    for leg in legs:
        account = accounts.get(leg.account_id)
        if account is None or account.guild_id != guild_id:
            raise NotFound("That account does not exist in this server.", account_id=leg.account_id)
    for leg in legs:
        account = accounts[leg.account_id]
        if account.kind not in MAY_GO_NEGATIVE and account.balance + leg.amount < 0:
            if after_rollback and account.kind != AccountKind.MEMBER:
                raise RuntimeError(f"a posting overdrew {account.kind} account {account.pk}: {leg}")
            raise InsufficientPoints(
                f"Not enough points: the balance is {account.balance:,}, "
                f"and this needs {-leg.amount:,}.",
                balance=account.balance,
                needed=-leg.amount,
            )
    if after_rollback:
        raise Conflict("Your balance changed while this was being placed; please try again.")
    raise InsufficientPoints(account_ids=[leg.account_id for leg in legs])
