"""Builders and money checks shared by the markets and betting suites.

Guilds, members and markets are made through the services (``guild_ensure``,
``member_ensure``, ``market_create``), so every account has real ledger
entries. Guild settings are edited with an UPDATE, as a moderator does in the
admin (there is no service for them).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db.models import Sum

from markets.models import Market, Outcome, ResolutionVote
from markets.services import market_close, market_create, resolution_vote
from points.models import MAY_GO_NEGATIVE, Account, Guild, LedgerEntry, LedgerTransaction, Member
from points.reconciliation import ledger_reconcile
from points.services import guild_ensure, house_account, member_ensure
from predictmarket.errors import DomainError
from predictmarket.models import AuditLogEntry, OutboxEvent

# Snowflake ranges of their own, so these suites never collide with other fixtures' ids.
_GUILD_IDS = itertools.count(710_000_000_000_000_000)
_MEMBER_IDS = itertools.count(720_000_000_000_000_000)
MODERATORS = [f"discord:73000000000000000{n}" for n in range(1, 6)]


def make_guild(**settings: Any) -> Guild:
    guild = guild_ensure(guild_id=next(_GUILD_IDS), name="Market testers")
    if settings:
        Guild.objects.filter(pk=guild.pk).update(**settings)
        guild.refresh_from_db()
    return guild


def make_member(guild: Guild, name: str = "") -> Member:
    return member_ensure(guild_id=guild.pk, discord_id=next(_MEMBER_IDS), display_name=name)


def make_market(
    creator: Member,
    *,
    question: str = "Will the server reach 1,000 members this month?",
    options: Sequence[str] = ("Yes", "No"),
    duration: timedelta = timedelta(days=1),
    **kwargs: Any,
) -> Market:
    return market_create(
        creator=creator,
        question=question,
        options=list(options),
        duration=duration,
        actor=f"discord:{creator.discord_id}",
        bypass_rate_limit=True,
        **kwargs,
    )


def decide(market: Market, *, outcome_index: int | None = None, cancel: bool = False) -> Market:
    """Close the market (if open) and vote with as many moderators as the guild needs."""
    market.refresh_from_db()
    if market.status == "open":
        market_close(market_id=market.pk, actor=MODERATORS[0])
    needed = market.guild.min_resolution_votes
    result = None
    for voter in MODERATORS[:needed]:
        result = resolution_vote(
            market_id=market.pk, voter=voter, outcome_index=outcome_index, cancel=cancel
        )
    assert result is not None and result.decided
    market.refresh_from_db()
    return market


# ------------------------------------------------------------------------------
# Reading money
# ------------------------------------------------------------------------------
def balance_of(member: Member) -> int:
    return Account.objects.get(member_id=member.pk).balance


def escrow_of(market: Market) -> int:
    return Account.objects.get(pk=market.escrow_account_id).balance


def house_of(guild_id: int) -> int:
    return house_account(guild_id).balance


def pools_of(market: Market) -> list[Decimal]:
    return list(
        Outcome.objects.filter(market_id=market.pk).order_by("index").values_list("pool", flat=True)
    )


def guild_total(guild_id: int) -> int:
    """House + members + escrows of one guild: issued points are owed, so this is always 0."""
    return Account.objects.filter(guild_id=guild_id).aggregate(total=Sum("balance"))["total"] or 0


def money_state() -> dict[str, Any]:
    """Everything a refused request must leave as it was."""
    return {
        "markets": dict(Market.objects.values_list("pk", "status")),
        "volumes": dict(Market.objects.values_list("pk", "volume")),
        "outcomes": Outcome.objects.count(),
        "pools": dict(Outcome.objects.values_list("pk", "pool")),
        "votes": dict(ResolutionVote.objects.values_list("pk", "outcome_id")),
        "accounts": Account.objects.count(),
        "balances": dict(Account.objects.values_list("pk", "balance")),
        "transactions": LedgerTransaction.objects.count(),
        "entries": LedgerEntry.objects.count(),
        "audit": AuditLogEntry.objects.count(),
        "outbox": OutboxEvent.objects.count(),
    }


def assert_ledger_sound() -> None:
    report = ledger_reconcile()
    assert report.ok, report
    # The house issues points and a DRIP guild's clearing account stands for DRIP:
    # only those two may go negative (the database's CHECK says the same).
    negative = Account.objects.exclude(kind__in=MAY_GO_NEGATIVE).filter(balance__lt=0)
    assert not negative.exists(), list(negative.values_list("pk", "kind", "balance"))


@contextmanager
def refused(error: type[DomainError]) -> Iterator[pytest.ExceptionInfo[DomainError]]:
    """Expect exactly ``error`` (not a subclass or a parent) from the call inside."""
    with pytest.raises(error) as info:
        yield info
    assert type(info.value) is error, f"expected {error.__name__}, got {info.value!r}"
