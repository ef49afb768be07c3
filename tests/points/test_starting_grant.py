"""A member's first appearance credits the guild's starting balance, exactly once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from points.models import Account, AccountKind, Guild, LedgerTransaction, Member
from points.services import house_account, member_ensure
from tests.factories import GuildFactory, balance_of, ledger_problems


def test_it_credits_the_starting_balance_from_the_house(guild: Guild) -> None:
    member = member_ensure(guild_id=guild.pk, discord_id=400_000_000_000_000_001)
    assert balance_of(member) == guild.starting_balance > 0
    assert house_account(guild.pk).balance == -guild.starting_balance
    grant = LedgerTransaction.objects.get(guild=guild)
    assert (grant.kind, grant.actor, grant.memo) == ("grant", "system", "starting balance")


def test_it_grants_the_starting_balance_once_when_a_member_is_seen_twice(guild: Guild) -> None:
    first = member_ensure(guild_id=guild.pk, discord_id=400_000_000_000_000_002, display_name="a")
    again = member_ensure(guild_id=guild.pk, discord_id="400000000000000002", display_name="b")
    assert again.pk == first.pk
    assert again.display_name == "b"
    assert balance_of(again) == guild.starting_balance
    assert LedgerTransaction.objects.filter(guild=guild).count() == 1
    assert Member.objects.filter(guild=guild).count() == 1


@pytest.mark.django_db
def test_it_uses_the_guild_starting_balance() -> None:
    guild = GuildFactory(starting_balance=250)
    member = member_ensure(guild_id=guild.pk, discord_id=400_000_000_000_000_003)
    assert balance_of(member) == 250


@pytest.mark.django_db
def test_it_writes_no_transaction_when_the_starting_balance_is_zero() -> None:
    guild = GuildFactory(starting_balance=0)
    member = member_ensure(guild_id=guild.pk, discord_id=400_000_000_000_000_004)
    assert balance_of(member) == 0
    assert not LedgerTransaction.objects.filter(guild=guild).exists()


def test_the_same_discord_user_is_a_separate_member_in_each_guild(
    member: Member, outsider: Member
) -> None:
    elsewhere = member_ensure(guild_id=outsider.guild_id, discord_id=member.discord_id)
    assert elsewhere.pk != member.pk
    assert balance_of(elsewhere) == elsewhere.guild.starting_balance
    assert balance_of(member) == member.guild.starting_balance


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_grants_once_when_a_new_member_appears_in_many_requests_at_once() -> None:
    """The first interaction of a new user in a new guild, delivered to 10 workers."""
    guild_id, discord_id, workers = 100_000_000_000_777_001, 400_000_000_000_777_001, 10
    barrier = threading.Barrier(workers)

    def appear() -> int:
        try:
            barrier.wait(timeout=10)
            return member_ensure(guild_id=guild_id, discord_id=discord_id).pk
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=workers) as pool:
        member_ids = list(pool.map(lambda _: appear(), range(workers)))

    member = Member.objects.get(guild_id=guild_id, discord_id=discord_id)
    assert set(member_ids) == {member.pk}
    assert Guild.objects.filter(pk=guild_id).count() == 1
    assert Account.objects.filter(guild_id=guild_id, kind=AccountKind.HOUSE).count() == 1
    assert LedgerTransaction.objects.filter(guild_id=guild_id).count() == 1
    starting = Guild.objects.get(pk=guild_id).starting_balance
    assert balance_of(member) == starting
    assert house_account(guild_id).balance == -starting
    assert ledger_problems() == []
