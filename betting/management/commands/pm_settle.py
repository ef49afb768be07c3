"""``manage.py pm_settle``: pay out one resolved market now."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from betting.operator import market_settle_by_operator
from markets.models import Market
from points.operator import (
    add_guild_argument,
    add_operator_argument,
    domain_errors_fail_the_command,
    operator_actor,
)


class Command(BaseCommand):
    help = (
        "Settle one resolved market now: pay 1 point per winning share, the rest to the "
        "house. Safe to repeat (a settled market is paid once); refuses a market that is "
        "not resolved. Audited as operator:NAME."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("market_id", type=int, help="The market's number (#id).")
        add_guild_argument(parser, help="The Discord server (guild) id the market belongs to.")
        add_operator_argument(parser)

    def handle(self, *args: Any, market_id: int, guild: int, operator: str, **_: Any) -> None:
        actor = operator_actor(operator)
        with domain_errors_fail_the_command():
            result = market_settle_by_operator(market_id=market_id, guild_id=guild, actor=actor)
        if not result.performed:
            settled_at = Market.objects.values_list("settled_at", flat=True).get(pk=market_id)
            self.stdout.write(
                f"market #{market_id} was already settled at {settled_at:%Y-%m-%d %H:%M:%S %Z}; "
                "nothing paid"
            )
            return
        self.stdout.write(
            f"market #{market_id} settled: {result.paid_total} points paid to "
            f"{result.members_paid} members, {result.house_share} to the house"
        )
