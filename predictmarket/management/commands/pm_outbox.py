"""``manage.py pm_outbox``: how far behind each outbox consumer is."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from predictmarket.outbox_status import outbox_lag


def _age(age: timedelta | None) -> str:
    if age is None:
        return "-"
    seconds = int(age.total_seconds())
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def _when(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M:%S}" if value else "never"


class Command(BaseCommand):
    help = (
        "Show each outbox consumer's lag: its cursor, the events after it, and how old the "
        "oldest of them is. With --max-age SECONDS, exit status 1 if any consumer's oldest "
        "pending event is older (for cron and monitoring). Changes nothing."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--consumer",
            action="append",
            metavar="NAME",
            help="Only this consumer (repeatable); default: every known consumer.",
        )
        parser.add_argument(
            "--guild",
            type=int,
            metavar="GUILD_ID",
            help="Count only this Discord server's events.",
        )
        parser.add_argument(
            "--max-age",
            type=float,
            metavar="SECONDS",
            help="Fail when a consumer's oldest pending event is older than this.",
        )

    def handle(
        self,
        *args: Any,
        consumer: list[str] | None,
        guild: int | None,
        max_age: float | None,
        **_: Any,
    ) -> None:
        if max_age is not None and max_age < 0:
            raise CommandError("--max-age must be 0 or more seconds.")
        now = timezone.now()
        lags = outbox_lag(consumers=consumer, guild_id=guild)
        if not lags:
            self.stdout.write("no outbox consumers known yet")
            return
        self.stdout.write(f"{'consumer':<20} {'cursor':>10} {'pending':>8} {'oldest':>8}  read at")
        late = []
        for lag in lags:
            age = lag.oldest_age(now)
            self.stdout.write(
                f"{lag.consumer:<20} {lag.position:>10} {lag.pending:>8} {_age(age):>8}  "
                f"{_when(lag.cursor_updated_at)}"
            )
            if max_age is not None and age is not None and age.total_seconds() > max_age:
                late.append(lag.consumer)
        if late:
            raise CommandError(f"outbox lag over {max_age:g}s: {', '.join(late)}")
