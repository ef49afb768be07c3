"""Ledger reconciliation: cached balances against their entries, the ledger against zero.

Differences are reported (error log, Sentry when configured, Prometheus gauge)
and never "fixed" here: a difference means a bug or a write around the
service, and a person has to look at it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.db.models import OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce
from prometheus_client import Gauge

from points.models import Account, LedgerEntry

logger = logging.getLogger(__name__)

RECONCILIATION_DIFFERENCES = Gauge(
    "predictmarket_ledger_reconciliation_differences",
    "Accounts whose cached balance differs from the sum of their entries at the last run",
    # Set by the worker's children: the last run's figure, not one per process.
    multiprocess_mode="mostrecent",
)
LEDGER_TOTAL = Gauge(
    "predictmarket_ledger_total_points",
    "Sum of every ledger entry at the last reconciliation (must be 0)",
    # Set by the worker's children: the last run's figure, not one per process.
    multiprocess_mode="mostrecent",
)


@dataclass
class ReconciliationReport:
    accounts_checked: int = 0
    ledger_total: int = 0
    mismatches: list[dict[str, int]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches and self.ledger_total == 0


def ledger_reconcile() -> ReconciliationReport:
    entries_sum = (
        LedgerEntry.objects.filter(account=OuterRef("pk"))
        .values("account")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    accounts = Account.objects.annotate(
        entries_total=Coalesce(Subquery(entries_sum), 0)
    ).values_list("pk", "guild_id", "balance", "entries_total")
    report = ReconciliationReport()
    for account_id, guild_id, balance, entries_total in accounts.iterator(chunk_size=2000):
        report.accounts_checked += 1
        if balance != entries_total:
            report.mismatches.append(
                {
                    "account_id": account_id,
                    "guild_id": guild_id,
                    "cached_balance": balance,
                    "entries_total": entries_total,
                }
            )
    report.ledger_total = LedgerEntry.objects.aggregate(total=Coalesce(Sum("amount"), 0))["total"]

    RECONCILIATION_DIFFERENCES.set(len(report.mismatches))
    LEDGER_TOTAL.set(report.ledger_total)
    if not report.ok:
        logger.error(
            "ledger reconciliation found differences",
            extra={
                "ledger_total": report.ledger_total,
                "mismatch_count": len(report.mismatches),
                "mismatches": report.mismatches[:50],
            },
        )
        _report_to_sentry(report)
    else:
        logger.info("ledger reconciled", extra={"accounts_checked": report.accounts_checked})
    return report


def _report_to_sentry(report: ReconciliationReport) -> None:
    import sentry_sdk

    with sentry_sdk.new_scope() as scope:
        scope.set_context(
            "reconciliation",
            {"ledger_total": report.ledger_total, "mismatches": report.mismatches[:50]},
        )
        sentry_sdk.capture_message("Ledger reconciliation found differences", level="error")
