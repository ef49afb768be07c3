"""``ledger_post``, the one writer: balanced legs, accounts of one guild, no overdrafts."""

from __future__ import annotations

import pytest

from points.ledger import Leg, ledger_post
from points.models import Account, Guild, LedgerEntry, Member
from points.services import escrow_account_create
from predictmarket.errors import InsufficientPoints, NotFound, ValidationFailed
from tests.factories import balance_of, refused, snapshot


def _post(guild: Guild, legs: list[Leg], *, kind: str = "adjustment", key: str = "lp-1") -> object:
    return ledger_post(
        guild_id=guild.pk, legs=legs, kind=kind, actor="system", memo="test", idempotency_key=key
    )


@pytest.mark.parametrize(
    ("legs", "kind", "key"),
    [
        pytest.param([(0, -10), (1, 9)], "adjustment", "k", id="unbalanced"),
        pytest.param([(0, 0), (1, 0)], "adjustment", "k", id="zero-legs"),
        pytest.param([(1, 10), (1, -10)], "adjustment", "k", id="nets-to-one-account"),
        pytest.param([(0, -10)], "adjustment", "k", id="single-leg"),
        pytest.param([(0, -10), (1, 10)], "lottery", "k", id="unknown-kind"),
        pytest.param([(0, -10), (1, 10)], "adjustment", "", id="empty-key"),
        pytest.param([(0, -10), (1, 10)], "adjustment", "k" * 201, id="key-too-long"),
        pytest.param([(0, -10.0), (1, 10.0)], "adjustment", "k", id="float-amounts"),
    ],
)
def test_it_rejects_malformed_postings(
    guild: Guild, house: Account, member: Member, legs: list[tuple[int, int]], kind: str, key: str
) -> None:
    accounts = [house.pk, member.account.pk]
    before = snapshot()
    with refused(ValidationFailed):
        _post(guild, [Leg(accounts[i], amount) for i, amount in legs], kind=kind, key=key)
    assert snapshot() == before


def test_it_rejects_an_account_of_another_guild(
    guild: Guild, house: Account, outsider: Member
) -> None:
    before = snapshot()
    with refused(NotFound):
        _post(guild, [Leg(house.pk, -10), Leg(outsider.account.pk, 10)])
    assert snapshot() == before


def test_it_lets_the_house_go_negative_but_not_an_escrow(guild: Guild, house: Account) -> None:
    escrow = escrow_account_create(guild_id=guild.pk, label="market 1")
    _post(guild, [Leg(house.pk, -50), Leg(escrow.pk, 50)], key="fund")
    assert Account.objects.get(pk=house.pk).balance < 0
    before = snapshot()
    with refused(InsufficientPoints) as info:
        _post(guild, [Leg(escrow.pk, -51), Leg(house.pk, 51)], key="overdraw")
    assert info.value.details == {"balance": 50, "needed": 51}
    assert snapshot() == before


def test_it_merges_legs_of_one_account_and_records_balance_after(
    guild: Guild, house: Account, member: Member
) -> None:
    start = balance_of(member)
    txn = _post(guild, [Leg(house.pk, -10), Leg(member.account.pk, 4), Leg(member.account.pk, 6)])
    entries = LedgerEntry.objects.filter(transaction_id=txn.pk).order_by("account_id")  # type: ignore[attr-defined]
    assert [(e.account_id, e.amount) for e in entries] == [
        (house.pk, -10),
        (member.account.pk, 10),
    ]
    assert entries.get(account_id=member.account.pk).balance_after == start + 10
