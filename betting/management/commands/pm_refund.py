"""``manage.py pm_refund``: unwind one cancelled (or abandoned) market now."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from betting.operator import market_refund_by_operator
from markets.models import Market
from points.operator import (
    add_guild_argument,
    add_operator_argument,
    domain_errors_fail_the_command,
    operator_actor,
)


class Command(BaseCommand):
    help = (
        "Refund one market now: every member's net on it is reversed (the unwind). Takes a "
        "cancelled or auto-refunded market not yet paid; an open or closed one only with "
        "--cancel; refuses a resolved one. Safe to repeat. Audited as operator:NAME."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("market_id", type=int, help="The market's number (#id).")
        add_guild_argument(parser, help="The Discord server (guild) id the market belongs to.")
        parser.add_argument(
            "--cancel",
            action="store_true",
            help="Cancel the market first if it is still open or closed (undecided).",
        )
        add_operator_argument(parser)

    def handle(
        self, *args: Any, market_id: int, guild: int, cancel: bool, operator: str, **_: Any
    ) -> None:
        actor = operator_actor(operator)
        with domain_errors_fail_the_command():
            result = market_refund_by_operator(
                market_id=market_id, guild_id=guild, actor=actor, cancel=cancel
            )
        if not result.performed:
            settled_at = Market.objects.values_list("settled_at", flat=True).get(pk=market_id)
            when = f" at {settled_at:%Y-%m-%d %H:%M:%S %Z}" if settled_at else ""
            self.stdout.write(f"market #{market_id} was already refunded{when}; nothing paid")
            return
        given_back = sum(-line["amount"] for line in result.lines if line["amount"] < 0)
        self.stdout.write(
            f"market #{market_id} refunded: {result.paid_total} points returned to "
            f"{result.members_paid} members, {given_back} taken back, "
            f"{result.house_share} to the house"
        )
