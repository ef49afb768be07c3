"""PostgreSQL itself refuses unbalanced transactions (at commit) and edits to entries."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from points.models import LedgerEntry, LedgerTransaction, Member
from points.services import house_account, points_grant
from tests.factories import balance_of, snapshot

pytestmark = pytest.mark.postgres


def _raw_transaction(guild_id: int, key: str, legs: list[tuple[int, int]]) -> int:
    """Write a transaction with raw SQL, bypassing ``ledger_post`` (as a bad script would)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO points_ledgertransaction "
            "(guild_id, kind, actor, memo, idempotency_key, fingerprint, created_at) "
            "VALUES (%s, 'adjustment', 'script', '', %s, '', %s) RETURNING id",
            [guild_id, key, timezone.now()],
        )
        (txn_id,) = cursor.fetchone()
        for account_id, amount in legs:
            cursor.execute(
                "UPDATE points_account SET balance = balance + %s WHERE id = %s RETURNING balance",
                [amount, account_id],
            )
            (balance_after,) = cursor.fetchone()
            cursor.execute(
                "INSERT INTO points_ledgerentry (transaction_id, account_id, amount, balance_after)"
                " VALUES (%s, %s, %s, %s)",
                [txn_id, account_id, amount, balance_after],
            )
    return txn_id


@pytest.mark.django_db(transaction=True)
def test_it_rejects_an_unbalanced_transaction_at_commit(member: Member) -> None:
    before = snapshot()
    with pytest.raises(IntegrityError, match="unbalanced"), transaction.atomic():
        _raw_transaction(member.guild_id, "raw-1", [(member.account.pk, 500)])
    assert snapshot() == before


@pytest.mark.django_db(transaction=True)
def test_it_rejects_at_commit_an_entry_smuggled_into_a_service_transaction(
    member: Member, moderator: str
) -> None:
    """A balanced grant plus one raw extra entry: the whole transaction is rolled back."""
    before = snapshot()
    with pytest.raises(IntegrityError, match="unbalanced"), transaction.atomic():
        txn = points_grant(member=member, amount=100, reason="prize", actor=moderator)
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO points_ledgerentry "
                "(transaction_id, account_id, amount, balance_after) VALUES (%s, %s, 50, 0)",
                [txn.pk, member.account.pk],
            )
    assert snapshot() == before


@pytest.mark.django_db(transaction=True)
def test_it_accepts_a_balanced_transaction_written_with_raw_sql(member: Member) -> None:
    house = house_account(member.guild_id)
    start = balance_of(member)
    with transaction.atomic():
        txn_id = _raw_transaction(
            member.guild_id, "raw-2", [(house.pk, -30), (member.account.pk, 30)]
        )
    assert LedgerEntry.objects.filter(transaction_id=txn_id).count() == 2
    assert balance_of(member) == start + 30


@pytest.mark.django_db
def test_it_refuses_to_update_a_ledger_entry(member: Member) -> None:
    entry = LedgerEntry.objects.get(account__member=member)
    with pytest.raises(IntegrityError, match="immutable"), transaction.atomic():
        LedgerEntry.objects.filter(pk=entry.pk).update(amount=entry.amount + 1_000_000)
    entry.refresh_from_db()
    assert entry.amount == member.guild.starting_balance


@pytest.mark.django_db
def test_it_refuses_to_delete_a_ledger_entry(member: Member) -> None:
    entries = LedgerEntry.objects.filter(transaction__guild_id=member.guild_id)
    assert entries.count() == 2
    with pytest.raises(IntegrityError, match="immutable"), transaction.atomic():
        entries.delete()
    assert entries.count() == 2
    assert LedgerTransaction.objects.filter(guild_id=member.guild_id).count() == 1
