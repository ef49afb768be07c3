"""Celery tasks of the points app (thin: they call services)."""

from __future__ import annotations

from celery import shared_task

from points.reconciliation import ledger_reconcile


@shared_task(name="points.reconcile_ledger")
def reconcile_ledger() -> dict[str, int]:
    report = ledger_reconcile()
    return {
        "accounts_checked": report.accounts_checked,
        "ledger_total": report.ledger_total,
        "mismatches": len(report.mismatches),
    }
