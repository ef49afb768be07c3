"""Reconciliation reports cached balances that drifted from their entries, and a non-zero ledger."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.db.models import F
from prometheus_client import REGISTRY

from points.models import Account, Member
from points.reconciliation import ledger_reconcile
from points.services import points_transfer
from points.tasks import reconcile_ledger


def _gauge(name: str) -> float | None:
    return REGISTRY.get_sample_value(name)


def test_it_reports_a_clean_ledger_as_ok(member: Member, other_member: Member) -> None:
    points_transfer(sender=member, recipient=other_member, amount=5, idempotency_key="r1")
    report = ledger_reconcile()
    assert report.ok
    assert report.mismatches == []
    assert report.ledger_total == 0
    assert report.accounts_checked == 3  # house + two members
    assert _gauge("predictmarket_ledger_reconciliation_differences") == 0
    assert _gauge("predictmarket_ledger_total_points") == 0


def test_it_reports_a_cached_balance_that_drifted(member: Member) -> None:
    account = Account.objects.get(member=member)
    # A write around the service, e.g. an admin action or a bad migration.
    Account.objects.filter(pk=account.pk).update(balance=F("balance") + 7)

    report = ledger_reconcile()

    assert not report.ok
    assert report.mismatches == [
        {
            "account_id": account.pk,
            "guild_id": member.guild_id,
            "cached_balance": account.balance + 7,
            "entries_total": account.balance,
        }
    ]
    assert report.ledger_total == 0
    assert _gauge("predictmarket_ledger_reconciliation_differences") == 1
    assert reconcile_ledger() == {"accounts_checked": 2, "ledger_total": 0, "mismatches": 1}


class _RollBack(Exception):
    pass


def test_it_reports_a_ledger_that_does_not_sum_to_zero(member: Member) -> None:
    """An entry inserted around the service, seen before its transaction ends.

    (On PostgreSQL the deferred trigger would refuse it at commit, so the
    insert is rolled back once the report is taken.)
    """
    account = Account.objects.get(member=member)
    txn_id = account.entries.get().transaction_id
    with pytest.raises(_RollBack), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO points_ledgerentry (transaction_id, account_id, amount, balance_after)"
                " VALUES (%s, %s, 3, 0)",
                [txn_id, account.pk],
            )
        report = ledger_reconcile()
        raise _RollBack

    assert not report.ok
    assert report.ledger_total == 3
    assert [m["account_id"] for m in report.mismatches] == [account.pk]
    assert _gauge("predictmarket_ledger_total_points") == 3


def test_it_clears_the_gauge_once_the_drift_is_corrected(member: Member) -> None:
    Account.objects.filter(member=member).update(balance=F("balance") + 7)
    assert _gauge_after_run() == 1
    Account.objects.filter(member=member).update(balance=F("balance") - 7)
    assert _gauge_after_run() == 0


def _gauge_after_run() -> float | None:
    ledger_reconcile()
    return _gauge("predictmarket_ledger_reconciliation_differences")
