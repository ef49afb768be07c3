"""``manage.py pm_reconcile``: run the ledger (and DRIP) reconciliation now."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from points.models import Guild, PointsBackend
from points.operator import add_guild_argument, guild_or_fail
from points.reconciliation import ledger_reconcile


class Command(BaseCommand):
    help = (
        "Reconcile now: every account's cached balance against the sum of its entries, "
        "and the whole ledger against zero; with --drip, also what DRIP reports against "
        "what we moved there. Prints each difference; changes nothing. Exit status 1 "
        "when anything differs (for cron and monitoring)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--drip",
            action="store_true",
            help="Also reconcile DRIP guilds with DRIP (reads every member's DRIP balance).",
        )
        add_guild_argument(
            parser, required=False, help="With --drip: only this DRIP guild (default: all)."
        )

    def handle(self, *args: Any, drip: bool, guild: int | None, **_: Any) -> None:
        if guild is not None and not drip:
            raise CommandError("--guild applies to --drip; the ledger is always checked whole.")
        differences = self._ledger()
        if drip:
            differences += self._drip(guild)
        if differences:
            raise CommandError(f"reconciliation found {differences} difference(s)")
        self.stdout.write("reconciled: no differences")

    def _ledger(self) -> int:
        report = ledger_reconcile()
        self.stdout.write(
            f"ledger: {report.accounts_checked} accounts checked, entries sum to "
            f"{report.ledger_total}"
        )
        for row in report.mismatches:
            self.stdout.write(
                f"  account #{row['account_id']} (guild {row['guild_id']}): cached balance "
                f"{row['cached_balance']}, entries total {row['entries_total']}, difference "
                f"{row['cached_balance'] - row['entries_total']:+d}"
            )
        if report.ledger_total:
            self.stdout.write(f"  the ledger sums to {report.ledger_total}, not 0")
        return len(report.mismatches) + (1 if report.ledger_total else 0)

    def _drip(self, guild_id: int | None) -> int:
        from points.drip.reconciliation import drip_reconcile_guild

        if guild_id is not None:
            guild = guild_or_fail(guild_id)
            if guild.points_backend != PointsBackend.DRIP:
                raise CommandError(f"Guild {guild_id} does not use DRIP.")
            guilds = [guild]
        else:
            guilds = list(Guild.objects.filter(points_backend=PointsBackend.DRIP).order_by("pk"))
        differences = 0
        for guild in guilds:
            report = drip_reconcile_guild(guild)
            self.stdout.write(f"DRIP guild {guild.pk}: {report.checked} members checked")
            for drift in report.drifts:
                self.stdout.write(
                    f"  member {drift.discord_id}: DRIP reports {drift.reported}, expected "
                    f"{drift.expected} (drift {drift.drift:+d})"
                )
            for key in report.stuck:
                self.stdout.write(f"  transfer stuck or ambiguous: {key}")
            if report.unreachable:
                self.stdout.write(f"  DRIP could not be read: {report.unreachable}")
            differences += len(report.drifts) + len(report.stuck) + bool(report.unreachable)
        return differences
