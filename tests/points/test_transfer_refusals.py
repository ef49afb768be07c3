"""Transfers move points between two members of one guild, and refuse everything else."""

from __future__ import annotations

import pytest

from points.models import Guild, LedgerTransaction, Member
from points.services import member_get, points_transfer
from predictmarket.errors import InsufficientPoints, NotFound, PermissionDenied, ValidationFailed
from tests.factories import GuildFactory, MemberFactory, balance_of, refused, snapshot


def test_it_moves_points_between_two_members(member: Member, other_member: Member) -> None:
    start = balance_of(member)
    result = points_transfer(
        sender=member, recipient=other_member, amount=150, idempotency_key="tip-1", memo="thanks"
    )
    assert (result.sender_balance, result.recipient_balance) == (start - 150, start + 150)
    assert (balance_of(member), balance_of(other_member)) == (start - 150, start + 150)
    txn = LedgerTransaction.objects.get(pk=result.transaction_id)
    assert (txn.kind, txn.actor, txn.memo) == ("transfer", f"discord:{member.discord_id}", "thanks")
    assert not result.replayed


def test_it_rejects_transfer_to_self(member: Member) -> None:
    before = snapshot()
    with refused(ValidationFailed) as info:
        points_transfer(sender=member, recipient=member, amount=10, idempotency_key="self")
    assert info.value.details == {"field": "recipient"}
    assert snapshot() == before


def test_it_rejects_transfer_to_unknown_member(guild: Guild, member: Member) -> None:
    before = snapshot()
    with refused(NotFound):
        member_get(guild_id=guild.pk, discord_id=999_999_999_999_999_999)
    assert snapshot() == before


def test_it_rejects_transfer_to_member_of_another_guild(
    guild: Guild, member: Member, outsider: Member
) -> None:
    before = snapshot()
    with refused(NotFound):
        member_get(guild_id=guild.pk, discord_id=outsider.discord_id)
    with refused(NotFound):
        points_transfer(sender=member, recipient=outsider, amount=10, idempotency_key="x-guild")
    assert snapshot() == before


def test_it_rejects_transfer_of_more_than_the_balance(member: Member, other_member: Member) -> None:
    balance = balance_of(member)
    before = snapshot()
    with refused(InsufficientPoints) as info:
        points_transfer(
            sender=member, recipient=other_member, amount=balance + 1, idempotency_key="too-much"
        )
    assert info.value.details == {"balance": balance, "needed": balance + 1}
    assert snapshot() == before


def test_it_allows_transferring_the_whole_balance(member: Member, other_member: Member) -> None:
    balance = balance_of(member)
    result = points_transfer(
        sender=member, recipient=other_member, amount=balance, idempotency_key="all-in"
    )
    assert result.sender_balance == 0
    assert balance_of(member) == 0


@pytest.mark.django_db
def test_it_rejects_transfer_when_the_guild_turned_transfers_off() -> None:
    guild = GuildFactory(transfers_enabled=False)
    sender, recipient = MemberFactory(guild=guild), MemberFactory(guild=guild)
    before = snapshot()
    with refused(PermissionDenied):
        points_transfer(sender=sender, recipient=recipient, amount=10, idempotency_key="off")
    assert snapshot() == before
