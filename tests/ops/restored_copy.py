"""Check a restored database the way an operator would: ``python -m tests.ops.restored_copy``.

Run with ``DATABASE_URL`` pointing at the copy. Reconciles the ledger, places
one bet (``MARKET_ID``, ``MEMBER_ID`` from the environment) to show the copy
takes new writes (sequences came back with the data), tries an unbalanced
ledger entry (the restored trigger must refuse it), reconciles again, and
prints what it found as JSON on its last line.
"""

from __future__ import annotations

import json
import os


def check(*, market_id: int, member_id: int) -> dict[str, object]:
    from django.db import IntegrityError, connection, transaction

    from betting.services import bet_place
    from points.models import Member
    from points.reconciliation import ReconciliationReport, ledger_reconcile

    def summary(report: ReconciliationReport) -> dict[str, object]:
        return {
            "ok": report.ok,
            "accounts_checked": report.accounts_checked,
            "ledger_total": report.ledger_total,
            "mismatches": report.mismatches,
        }

    before = summary(ledger_reconcile())
    result = bet_place(
        member=Member.objects.get(pk=member_id),
        market_id=market_id,
        outcome_index=0,
        amount=25,
        idempotency_key="restored-copy-check",
        bypass_rate_limit=True,
    )
    refused = False
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO points_ledgerentry (transaction_id, account_id, amount, balance_after)"
                " SELECT transaction_id, account_id, 1, 0 FROM points_ledgerentry LIMIT 1"
            )
    except IntegrityError as exc:
        refused = "unbalanced" in str(exc)
    return {
        "before_bet": before,
        "trade_id": result.trade.pk,
        "unbalanced_entry_refused": refused,
        "after_bet": summary(ledger_reconcile()),
    }


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "predictmarket.settings")
    import django

    django.setup()
    print(
        json.dumps(
            check(market_id=int(os.environ["MARKET_ID"]), member_id=int(os.environ["MEMBER_ID"]))
        )
    )
