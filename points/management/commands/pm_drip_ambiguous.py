"""``manage.py pm_drip_ambiguous``: list DRIP writes whose outcome is unknown, and resolve one."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from points.drip.writes import ambiguous_resolve
from points.models import DripTransfer, DripTransferStatus
from points.operator import (
    add_guild_argument,
    add_operator_argument,
    domain_errors_fail_the_command,
    guild_or_fail,
    operator_actor,
)


class Command(BaseCommand):
    help = (
        "List DRIP transfers left ambiguous (the balance moved by something other than our "
        "amount), or resolve one after checking DRIP's own history: TRANSFER_ID with "
        "--applied or --not-applied. An applied debit's points are queued back; a credit "
        "not applied is sent again. Only an ambiguous transfer can be resolved. Audited."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "transfer_id", nargs="?", type=int, help="The transfer to resolve (omit to list)."
        )
        verdict = parser.add_mutually_exclusive_group()
        verdict.add_argument(
            "--applied", action="store_true", help="DRIP's history shows the change was made."
        )
        verdict.add_argument(
            "--not-applied",
            action="store_true",
            help="DRIP's history shows the change was not made.",
        )
        parser.add_argument("--note", default="", help="What you checked, for the audit log.")
        add_guild_argument(
            parser,
            required=False,
            help="The Discord server (guild) id; required to resolve, a filter when listing.",
        )
        add_operator_argument(parser)

    def handle(
        self,
        *args: Any,
        transfer_id: int | None,
        applied: bool,
        not_applied: bool,
        note: str,
        guild: int | None,
        operator: str,
        **_: Any,
    ) -> None:
        if transfer_id is None:
            if applied or not_applied:
                raise CommandError("Name the TRANSFER_ID that --applied/--not-applied is about.")
            self._list(guild)
            return
        if not (applied or not_applied):
            raise CommandError("Say what DRIP's history shows: --applied or --not-applied.")
        if guild is None:
            raise CommandError("Give --guild GUILD_ID: a transfer is resolved within its server.")
        guild_or_fail(guild)
        actor = operator_actor(operator)
        with domain_errors_fail_the_command():
            transfer = ambiguous_resolve(
                transfer_id=transfer_id, guild_id=guild, applied=applied, actor=actor, note=note
            )
        self.stdout.write(
            f"DRIP transfer {transfer.pk} ({transfer.idempotency_key}) resolved "
            f"{'applied' if applied else 'not applied'}: now {transfer.status}"
        )

    def _list(self, guild_id: int | None) -> None:
        rows = DripTransfer.objects.filter(status=DripTransferStatus.AMBIGUOUS)
        if guild_id is not None:
            guild_or_fail(guild_id)
            rows = rows.filter(guild_id=guild_id)
        rows = rows.select_related("member").order_by("guild_id", "created_at", "pk")
        count = 0
        for transfer in rows.iterator(chunk_size=500):
            count += 1
            sent = f"{transfer.sent_at:%Y-%m-%d %H:%M:%S}" if transfer.sent_at else "-"
            self.stdout.write(
                f"{transfer.pk}\tguild {transfer.guild_id}\tmember {transfer.member.discord_id}"
                f"\t{transfer.amount:+d}\t{transfer.purpose}\t{transfer.idempotency_key}"
                f"\tsent {sent}\t{transfer.last_error}"
            )
        self.stdout.write(f"{count} ambiguous DRIP transfer{'' if count == 1 else 's'}")
