"""Settlement's batched write pays exactly what posting each payout on its own would.

Settlement posts every winner's payout in one ``ledger_post_batch``; on
PostgreSQL the batch is one statement over arrays, on SQLite the ORM writes it
(the executable specification). Both must leave the rows the ledger's rules
say: one ``payout:<market>:<member>`` transaction per winner of floor(shares)
points with the fingerprint ``ledger_post`` gives those legs, two entries
whose ``balance_after`` follow the escrow down in member order, the remainder
to the house, escrow at 0, a ledger that still sums to 0, and nothing more
on a rerun.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

import pytest
from django.db.models import Sum

from betting.models import Position
from betting.settlement import settle_resolved_market
from markets.models import Market
from points import ledger_batch
from points.ledger import Leg, _fingerprint
from points.models import Account, Guild, LedgerEntry, LedgerTransaction, Member
from points.services import house_account
from tests.betting.helpers import bet, sell, shares_held
from tests.markets.helpers import (
    assert_ledger_sound,
    balance_of,
    decide,
    escrow_of,
    house_of,
    make_guild,
    make_market,
    make_member,
)

pytestmark = pytest.mark.django_db

# (member, outcome, points): Blue (2) wins. Member 3 sells down to under one
# share of Blue, member 5 holds only losing shares, member 6 never trades.
TRADES = [
    (0, 2, 250),
    (1, 2, 120),
    (1, 0, 60),
    (2, 0, 400),
    (3, 2, 40),
    (4, 2, 77),
    (5, 1, 90),
    (7, 2, 313),
    (0, 2, 33),
    (8, 2, 1),
]
MEMBERS = 9
WINNING = 2


@dataclass
class Scene:
    guild: Guild
    market: Market
    members: list[Member]


def _scene() -> Scene:
    guild = make_guild()
    market = make_market(make_member(guild, "creator"), options=["Red", "Green", "Blue"])
    members = [make_member(guild, f"trader{n}") for n in range(MEMBERS)]
    for member, outcome, amount in TRADES:
        bet(members[member], market, outcome, amount)
    sell(members[3], market, 2, shares_held(members[3], market, 2) - Decimal("0.6"))
    decide(market, outcome_index=WINNING)
    return Scene(guild, market, members)


def _owed(scene: Scene) -> dict[int, int]:
    """What each member is owed: floor of their winning shares (0 below one share)."""
    return {
        m.pk: int(shares_held(m, scene.market, WINNING).to_integral_value(rounding=ROUND_FLOOR))
        for m in scene.members
    }


def _payout_rows(scene: Scene) -> list[tuple[object, ...]]:
    """The settlement's ledger rows, with ids replaced by who they belong to."""
    market = scene.market
    role = {market.escrow_account_id: "escrow", house_account(scene.guild.pk).pk: "house"}
    key_of = {f"settle:{market.pk}:house": "settle:house"}
    for n, member in enumerate(scene.members):
        role[Account.objects.get(member=member).pk] = f"trader{n}"
        key_of[f"payout:{market.pk}:{member.pk}"] = f"payout:trader{n}"
    txns = LedgerTransaction.objects.filter(guild_id=scene.guild.pk).filter(
        idempotency_key__regex=rf"^(payout|settle):{market.pk}:"
    )
    rows = []
    for txn in txns.order_by("id"):
        entries = [
            (role[e.account_id], e.amount, e.balance_after)
            for e in LedgerEntry.objects.filter(transaction=txn).order_by("id")
        ]
        rows.append(
            (
                txn.kind,
                txn.actor,
                txn.memo.replace(f"#{market.pk}", "#M"),
                key_of[txn.idempotency_key],
                entries,
            )
        )
    return rows


def _received(member: Member) -> dict[int, int]:
    """Points counted as received on each of the member's positions, by outcome."""
    positions = Position.objects.filter(member=member)
    return dict(positions.values_list("outcome__index", "points_received"))


def test_each_winner_is_paid_once_by_the_ledgers_rules() -> None:
    scene = _scene()
    market = scene.market
    owed = _owed(scene)
    assert owed[scene.members[3].pk] == 0 < owed[scene.members[8].pk]
    before = {m.pk: balance_of(m) for m in scene.members}
    escrow_before, house_before = escrow_of(market), house_of(scene.guild.pk)

    result = settle_resolved_market(market_id=market.pk)

    assert result.performed and result.members_paid == sum(1 for v in owed.values() if v)
    for member in scene.members:
        assert balance_of(member) == before[member.pk] + owed[member.pk], member.display_name
    assert escrow_of(market) == 0
    assert result.paid_total + result.house_share == escrow_before
    assert house_of(scene.guild.pk) == house_before + result.house_share
    # Every payout as ledger_post would have written it, in member order, the
    # escrow's balance_after running down payment by payment.
    escrow = market.escrow_account_id
    running = escrow_before
    for member in sorted(scene.members, key=lambda m: m.pk):
        amount = owed[member.pk]
        key = f"payout:{market.pk}:{member.pk}"
        if not amount:
            assert not LedgerTransaction.objects.filter(idempotency_key=key).exists()
            continue
        txn = LedgerTransaction.objects.get(idempotency_key=key)
        account = Account.objects.get(member=member).pk
        assert (txn.kind, txn.actor, txn.guild_id) == (
            "payout",
            "system:settlement",
            market.guild_id,
        )
        assert txn.memo == f"market #{market.pk} paid out: Blue"
        assert txn.fingerprint == _fingerprint(
            "payout", [Leg(escrow, -amount), Leg(account, amount)]
        )
        running -= amount
        entries = dict(
            LedgerEntry.objects.filter(transaction=txn).values_list("account_id", "balance_after")
        )
        assert entries == {escrow: running, account: before[member.pk] + amount}
        assert LedgerEntry.objects.filter(transaction=txn).aggregate(s=Sum("amount"))["s"] == 0
    house_txn = LedgerTransaction.objects.get(idempotency_key=f"settle:{market.pk}:house")
    assert dict(
        LedgerEntry.objects.filter(transaction=house_txn).values_list("account_id", "amount")
    ) == {
        escrow: -result.house_share,
        house_account(scene.guild.pk).pk: result.house_share,
    }
    assert LedgerEntry.objects.aggregate(s=Sum("amount"))["s"] == 0
    assert_ledger_sound()

    rows, balances = _payout_rows(scene), dict(Account.objects.values_list("pk", "balance"))
    again = settle_resolved_market(market_id=market.pk)

    assert not again.performed
    assert _payout_rows(scene) == rows
    assert dict(Account.objects.values_list("pk", "balance")) == balances


@pytest.mark.postgres
def test_the_set_based_write_leaves_the_rows_the_orm_write_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same market settled through both writers, in two guilds: the same rows."""
    with monkeypatch.context() as patched:
        patched.setattr(ledger_batch, "_set_based", lambda: False)
        by_orm = _scene()
        settle_resolved_market(market_id=by_orm.market.pk)
    set_based = _scene()
    settle_resolved_market(market_id=set_based.market.pk)

    expected = _payout_rows(by_orm)
    assert len(expected) == sum(1 for v in _owed(by_orm).values() if v) + 1  # + the house
    assert _payout_rows(set_based) == expected
    for old, new in zip(by_orm.members, set_based.members, strict=True):
        assert balance_of(new) == balance_of(old)
        assert _received(new) == _received(old)
    assert escrow_of(set_based.market) == escrow_of(by_orm.market) == 0
    assert_ledger_sound()
