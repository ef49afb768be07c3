"""``manage.py pm_export_ledger``: one guild's ledger entries as CSV."""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import IO, Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_datetime

from points.models import LedgerEntry
from points.operator import add_guild_argument, guild_or_fail

HEADER = [
    "transaction_id",
    "created_at",
    "kind",
    "actor",
    "memo",
    "idempotency_key",
    "entry_id",
    "account_id",
    "account_kind",
    "member_discord_id",
    "amount",
    "balance_after",
]


class Command(BaseCommand):
    help = (
        "Export one guild's ledger as CSV: one row per entry (a transaction has two or more, "
        "summing to 0), oldest first, with a header row. Streamed, so any size fits; to "
        "stdout, or to --output FILE (written whole or not at all)."
    )

    def add_arguments(self, parser: Any) -> None:
        add_guild_argument(parser, help="The Discord server (guild) id whose ledger to export.")
        parser.add_argument("--output", metavar="FILE", help="Write here instead of stdout.")
        parser.add_argument(
            "--since", metavar="DATETIME", help="Only transactions at or after this ISO time."
        )
        parser.add_argument(
            "--until", metavar="DATETIME", help="Only transactions before this ISO time."
        )

    def handle(
        self,
        *args: Any,
        guild: int,
        output: str | None,
        since: str | None,
        until: str | None,
        **_: Any,
    ) -> None:
        guild_or_fail(guild)
        entries = LedgerEntry.objects.filter(transaction__guild_id=guild)
        if since:
            entries = entries.filter(transaction__created_at__gte=_when(since, "--since"))
        if until:
            entries = entries.filter(transaction__created_at__lt=_when(until, "--until"))
        rows = entries.order_by("transaction_id", "pk").values_list(
            "transaction_id",
            "transaction__created_at",
            "transaction__kind",
            "transaction__actor",
            "transaction__memo",
            "transaction__idempotency_key",
            "pk",
            "account_id",
            "account__kind",
            "account__member__discord_id",
            "amount",
            "balance_after",
        )
        if output is None:
            count = _write(self.stdout, rows)
        else:
            # Written beside the target and renamed at the end: a failed export
            # leaves no half file that looks complete.
            target = Path(output)
            partial = target.with_name(f".{target.name}.partial")
            try:
                with partial.open("w", newline="", encoding="utf-8") as out:
                    count = _write(out, rows)
                os.replace(partial, target)
            except OSError as exc:
                partial.unlink(missing_ok=True)
                raise CommandError(f"Could not write {output}: {exc.strerror}") from exc
            self.stderr.write(f"{count} entries written to {output}")


def _write(out: IO[str] | Any, rows: Any) -> int:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    count = 0
    for row in rows.iterator(chunk_size=2000):
        created_at = row[1].isoformat()
        writer.writerow([row[0], created_at, *row[2:]])
        count += 1
    return count


def _when(value: str, option: str) -> Any:
    try:
        parsed = parse_datetime(value)
    except ValueError:
        parsed = None
    if parsed is None:
        raise CommandError(f"{option} must be an ISO date and time, e.g. 2025-01-31T00:00:00Z")
    if parsed.tzinfo is None:
        raise CommandError(f"{option} needs a time zone, e.g. 2025-01-31T00:00:00Z")
    return parsed
