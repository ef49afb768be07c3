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


@shared_task(name="points.deliver_drip_transfers")
def deliver_drip_transfers() -> dict[str, int]:
    from dataclasses import asdict

    from points.drip.delivery import deliver_pending_transfers

    return asdict(deliver_pending_transfers())


@shared_task(name="points.reconcile_drip")
def reconcile_drip() -> int:
    from points.drip.reconciliation import drip_reconcile_all

    return sum(0 if report.ok else 1 for report in drip_reconcile_all())
