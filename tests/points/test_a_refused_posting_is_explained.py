"""``PostingRefused.explain()``: after the rollback, say why a posting inside a trade was refused.

The refusal is re-read from the accounts, so the answer reflects them as they
are now: the member's real balance, a bug for an escrow, and a plain "try
again" when the shortfall has gone in the meantime (a credit landed).
"""

from __future__ import annotations

import pytest

from points.ledger import Leg, PostingRefused, posting
from points.models import Guild, Member
from points.services import escrow_account_create
from predictmarket.errors import Conflict, InsufficientPoints, NotFound


def refusal(guild: Guild, legs: list[Leg]) -> PostingRefused:
    return PostingRefused(
        posting(guild_id=guild.pk, legs=legs, kind="bet", actor="test", idempotency_key="k")
    )


def test_a_short_member_hears_their_balance(guild: Guild, member: Member) -> None:
    escrow = escrow_account_create(guild_id=guild.pk, label="market")
    balance = member.account.balance
    legs = [Leg(member.account.pk, -(balance + 1)), Leg(escrow.pk, balance + 1)]
    with pytest.raises(InsufficientPoints) as refused:
        refusal(guild, legs).explain()
    assert refused.value.message == (
        f"Not enough points: the balance is {balance:,}, and this needs {balance + 1:,}."
    )


def test_a_short_escrow_is_a_bug_not_the_members_fault(guild: Guild, member: Member) -> None:
    escrow = escrow_account_create(guild_id=guild.pk, label="market")
    with pytest.raises(RuntimeError, match="overdrew"):
        refusal(guild, [Leg(escrow.pk, -5), Leg(member.account.pk, 5)]).explain()


def test_a_shortfall_gone_since_asks_to_try_again(guild: Guild, member: Member) -> None:
    escrow = escrow_account_create(guild_id=guild.pk, label="market")
    with pytest.raises(Conflict) as refused:
        refusal(guild, [Leg(member.account.pk, -1), Leg(escrow.pk, 1)]).explain()
    assert "try again" in refused.value.message
    assert "account_ids" not in refused.value.details


def test_an_account_of_another_guild_is_not_found(
    guild: Guild, member: Member, outsider: Member
) -> None:
    with pytest.raises(NotFound):
        refusal(guild, [Leg(member.account.pk, -1), Leg(outsider.account.pk, 1)]).explain()
