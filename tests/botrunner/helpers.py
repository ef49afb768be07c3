"""Shortcuts for the bot's handler tests: balances, trades, and the state nothing may change."""

from __future__ import annotations

from typing import Any

from betting.models import Position, Trade
from markets.models import Market, ResolutionVote
from points.models import Account, LedgerTransaction, Member
from tests.botrunner.fakes import FakeUser


def balance(user: FakeUser) -> int:
    return Account.objects.get(member__discord_id=user.id).balance


def trades_of(user: FakeUser) -> list[Trade]:
    return list(Trade.objects.filter(member__discord_id=user.id).order_by("id"))


def state() -> dict[str, Any]:
    """What a refused command must leave exactly as it was."""
    return {
        "balances": dict(Account.objects.values_list("pk", "balance")),
        "transactions": LedgerTransaction.objects.count(),
        "trades": Trade.objects.count(),
        "positions": dict(Position.objects.values_list("pk", "shares")),
        "markets": dict(Market.objects.values_list("pk", "status")),
        "votes": ResolutionVote.objects.count(),
        "frozen": dict(Member.objects.values_list("pk", "is_frozen")),
    }
