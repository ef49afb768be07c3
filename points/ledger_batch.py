"""``ledger_post_batch``: many balanced transactions in a few statements.

Settlement pays thousands of members from one escrow; posting them one by one
costs several round trips each. This posts the whole batch with one insert of
transactions, one ordered row lock of every account involved, one update of
balances and one insert of entries. Each posting is still its own ledger
transaction with its own idempotency key; the batch is atomic (all or nothing).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from points.ledger import Leg, _fingerprint, _validate
from points.models import MAY_GO_NEGATIVE, Account, LedgerEntry, LedgerTransaction
from predictmarket.errors import InsufficientPoints, NotFound

_CHUNK = 5000  # keeps each statement under PostgreSQL's 65,535 parameters


@dataclass(frozen=True)
class Posting:
    legs: list[Leg]
    kind: str
    memo: str
    idempotency_key: str


def ledger_post_batch(
    *, guild_id: int, postings: Sequence[Posting], actor: str
) -> list[LedgerTransaction]:
    """Post every posting, in order, or none. Keys must be new (a duplicate fails the batch)."""
    if not postings:
        return []
    prepared = [
        (posting, _validate(list(posting.legs), posting.kind, posting.idempotency_key))
        for posting in postings
    ]
    account_ids = sorted({leg.account_id for _, legs in prepared for leg in legs})
    now = timezone.now()
    with transaction.atomic(savepoint=False):
        # Lock in primary-key order, like ledger_post, so batches and single
        # posts never wait on each other in a cycle.
        balances: dict[int, tuple[int, str]] = {}
        for start in range(0, len(account_ids), _CHUNK):
            chunk = account_ids[start : start + _CHUNK]
            rows = (
                Account.objects.select_for_update()
                .filter(guild_id=guild_id, pk__in=chunk)
                .order_by("pk")
                .values_list("pk", "balance", "kind")
            )
            for pk, balance, kind in rows:
                balances[pk] = (balance, kind)
        missing = set(account_ids) - set(balances)
        if missing:
            raise NotFound("An account does not exist in this server.", account_ids=sorted(missing))

        transactions = LedgerTransaction.objects.bulk_create(
            [
                LedgerTransaction(
                    guild_id=guild_id,
                    kind=posting.kind,
                    actor=actor[:100],
                    memo=posting.memo[:500],
                    idempotency_key=posting.idempotency_key,
                    fingerprint=_fingerprint(posting.kind, legs),
                    created_at=now,
                )
                for posting, legs in prepared
            ],
            batch_size=_CHUNK,
        )
        running = {pk: balance for pk, (balance, _) in balances.items()}
        entries = []
        for txn, (_, legs) in zip(transactions, prepared, strict=True):
            for leg in legs:
                running[leg.account_id] += leg.amount
                balance, kind = balances[leg.account_id]
                if running[leg.account_id] < 0 and kind not in MAY_GO_NEGATIVE:
                    raise InsufficientPoints(
                        f"Not enough points in account {leg.account_id} for this batch.",
                        account_id=leg.account_id,
                    )
                entries.append(
                    LedgerEntry(
                        transaction=txn,
                        account_id=leg.account_id,
                        amount=leg.amount,
                        balance_after=running[leg.account_id],
                    )
                )
        changed = [(pk, running[pk]) for pk in account_ids if running[pk] != balances[pk][0]]
        _write_balances(changed)
        LedgerEntry.objects.bulk_create(entries, batch_size=_CHUNK)
    for txn in transactions:
        txn.replayed = False  # type: ignore[attr-defined]
    return transactions


def _write_balances(changed: list[tuple[int, int]]) -> None:
    table = Account._meta.db_table
    with connection.cursor() as cursor:
        for start in range(0, len(changed), _CHUNK):
            chunk = changed[start : start + _CHUNK]
            params = [value for pair in chunk for value in pair]
            if connection.vendor == "postgresql":
                values = ", ".join(["(%s::bigint, %s::bigint)"] * len(chunk))
                sql = (
                    f"UPDATE {table} AS a SET balance = v.balance "
                    f"FROM (VALUES {values}) AS v(id, balance) WHERE a.id = v.id"
                )
            else:  # SQLite names VALUES columns column1, column2
                values = ", ".join(["(%s, %s)"] * len(chunk))
                sql = (
                    f"WITH v(id, balance) AS (VALUES {values}) "
                    f"UPDATE {table} SET balance = "
                    f"(SELECT v.balance FROM v WHERE v.id = {table}.id) "
                    "WHERE id IN (SELECT id FROM v)"
                )
            cursor.execute(sql, params)
