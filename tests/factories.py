"""Factories and helpers that build guilds and members through the services.

Members are created with ``member_ensure``, so each one has a real account and
a real starting grant in the ledger, exactly as the bot and the API create them.
Balances are then moved with the moderator services, never written directly.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import factory
import pytest
from django.db import connection, transaction

from points.models import Account, Guild, LedgerEntry, LedgerTransaction, Member
from points.services import guild_ensure, member_ensure, points_deduct, points_grant
from predictmarket.errors import DomainError
from predictmarket.models import AuditLogEntry, OutboxEvent

# Real Discord snowflakes are around 10**17..10**18 and fit in a signed BIGINT.
GUILD_ID_BASE = 100_000_000_000_000_000
MEMBER_ID_BASE = 300_000_000_000_000_000
TEST_ACTOR = "system:test-setup"


class GuildFactory(factory.Factory):
    """A guild created through ``guild_ensure`` (so it has its house account)."""

    class Meta:
        model = Guild

    id = factory.Sequence(lambda n: GUILD_ID_BASE + n)
    name = factory.Sequence(lambda n: f"guild {n}")

    @classmethod
    def _create(cls, model_class: type[Guild], *, id: int, name: str, **settings: Any) -> Guild:
        guild = guild_ensure(guild_id=id, name=name)
        if settings:
            # Guild settings are edited by moderators in the admin; no service exists.
            Guild.objects.filter(pk=guild.pk).update(**settings)
            guild.refresh_from_db()
        return guild


class MemberFactory(factory.Factory):
    """A member created through ``member_ensure``: account plus starting grant."""

    class Meta:
        model = Member

    guild = factory.SubFactory(GuildFactory)
    discord_id = factory.Sequence(lambda n: MEMBER_ID_BASE + n)
    display_name = factory.Sequence(lambda n: f"member{n}")

    @classmethod
    def _create(
        cls, model_class: type[Member], *, guild: Guild, discord_id: int, display_name: str
    ) -> Member:
        return member_ensure(guild_id=guild.pk, discord_id=discord_id, display_name=display_name)


def balance_of(member: Member) -> int:
    return Account.objects.get(member=member).balance


def set_balance(member: Member, target: int) -> None:
    """Move a member to ``target`` points with a moderator grant or deduction."""
    current = balance_of(member)
    if target > current:
        points_grant(member=member, amount=target - current, reason="test setup", actor=TEST_ACTOR)
    elif target < current:
        points_deduct(member=member, amount=current - target, reason="test setup", actor=TEST_ACTOR)
    assert balance_of(member) == target


def snapshot() -> dict[str, Any]:
    """Everything a refused request must leave untouched."""
    return {
        "guilds": Guild.objects.count(),
        "members": Member.objects.count(),
        "accounts": Account.objects.count(),
        "transactions": LedgerTransaction.objects.count(),
        "entries": LedgerEntry.objects.count(),
        "audit": AuditLogEntry.objects.count(),
        "outbox": OutboxEvent.objects.count(),
        "balances": dict(Account.objects.values_list("pk", "balance")),
        "frozen": dict(Member.objects.values_list("pk", "is_frozen")),
        "last_daily": dict(Member.objects.values_list("pk", "last_daily_at")),
    }


@contextmanager
def refused(error: type[DomainError]) -> Iterator[pytest.ExceptionInfo[DomainError]]:
    """Expect exactly ``error`` from a service call.

    The call runs in its own transaction, as the bot and the API make it (each
    service call commits or rolls back on its own): inside a test's wrapping
    transaction ``ledger_post`` has no savepoint of its own.
    """
    with pytest.raises(error) as info, transaction.atomic():
        yield info
    assert type(info.value) is error, f"expected {error.__name__}, got {info.value!r}"


def ledger_problems() -> list[str]:
    """Independent SQL checks of the ledger's invariants; an empty list means sound."""
    problems: list[str] = []
    with connection.cursor() as cursor:
        cursor.execute("SELECT COALESCE(SUM(amount), 0) FROM points_ledgerentry")
        (total,) = cursor.fetchone()
        if total != 0:
            problems.append(f"ledger sums to {total}")
        cursor.execute(
            "SELECT transaction_id, SUM(amount), COUNT(*) FROM points_ledgerentry "
            "GROUP BY transaction_id HAVING SUM(amount) <> 0 OR COUNT(*) < 2"
        )
        problems += [f"transaction {row[0]} unbalanced: {row[1:]}" for row in cursor.fetchall()]
        cursor.execute(
            "SELECT a.id, a.balance, COALESCE(SUM(e.amount), 0) FROM points_account a "
            "LEFT JOIN points_ledgerentry e ON e.account_id = a.id "
            "GROUP BY a.id, a.balance HAVING a.balance <> COALESCE(SUM(e.amount), 0)"
        )
        problems += [
            f"account {row[0]} caches {row[1]} but its entries sum to {row[2]}"
            for row in cursor.fetchall()
        ]
        cursor.execute(
            "SELECT id, balance FROM points_account WHERE kind <> 'house' AND balance < 0"
        )
        problems += [f"account {row[0]} is negative: {row[1]}" for row in cursor.fetchall()]
        # Each entry's balance_after is the running total of its account in id order.
        cursor.execute(
            "SELECT id, account_id, balance_after, running FROM ("
            "  SELECT id, account_id, balance_after,"
            "         SUM(amount) OVER (PARTITION BY account_id ORDER BY id) AS running"
            "  FROM points_ledgerentry) AS e "
            "WHERE balance_after <> running"
        )
        problems += [
            f"entry {row[0]} of account {row[1]} says {row[2]} after, running total {row[3]}"
            for row in cursor.fetchall()
        ]
    return problems
