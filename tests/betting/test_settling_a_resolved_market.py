"""Settlement pays each winner floor(shares) once; the rest of the escrow goes to the house."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

import pytest

from betting.models import Position
from betting.settlement import settle_resolved_market
from betting.tasks import settle_market, settlement_sweep
from markets.models import Market
from points.models import Guild, LedgerTransaction, Member, TransactionKind
from predictmarket.models import OutboxEvent
from tests.betting.helpers import bet, betting_state, sell, shares_held
from tests.markets.helpers import (
    assert_ledger_sound,
    balance_of,
    decide,
    escrow_of,
    house_of,
    make_market,
    make_member,
)


@dataclass
class Scene:
    market: Market
    members: list[Member]
    winners: list[Member]


@pytest.fixture
def scene(guild: Guild, creator: Member) -> Scene:
    """Five members trade on a three-way market; "Blue" wins."""
    market = make_market(creator, options=["Red", "Green", "Blue"])
    members = [make_member(guild, f"trader{n}") for n in range(5)]
    bet(members[0], market, 2, 250)
    bet(members[1], market, 2, 120)
    bet(members[1], market, 0, 60)  # a winner who also lost a little elsewhere
    bet(members[2], market, 0, 400)
    bet(members[3], market, 1, 90)
    bet(members[4], market, 2, 40)
    sell(members[4], market, 2, shares_held(members[4], market, 2) - Decimal("0.4"))
    bet(members[0], market, 2, 33)
    decide(market, outcome_index=2)
    return Scene(market, members, [members[0], members[1]])  # members[4] kept 0.4 shares


def _floor(shares: Decimal) -> int:
    return int(shares.to_integral_value(rounding=ROUND_FLOOR))


def test_it_pays_each_winning_share_one_point(scene: Scene) -> None:
    market = scene.market
    escrow_before = escrow_of(market)
    house_before = house_of(market.guild_id)
    balances = {m.pk: balance_of(m) for m in scene.members}
    owed = {m.pk: _floor(shares_held(m, market, 2)) for m in scene.members}
    assert owed[scene.members[4].pk] == 0 and owed[scene.members[0].pk] > 0

    result = settle_resolved_market(market_id=market.pk)

    assert result.performed and result.kind == "settled"
    for member in scene.members:
        assert balance_of(member) == balances[member.pk] + owed[member.pk], member
    assert result.paid_total == sum(owed.values())
    assert result.members_paid == len(scene.winners)
    assert escrow_of(market) == 0
    assert result.paid_total + result.house_share == escrow_before
    assert house_of(market.guild_id) == house_before + result.house_share
    assert result.house_share > 0  # the pool's own "Blue" shares are the house's
    for winner in scene.winners:
        payout = LedgerTransaction.objects.get(idempotency_key=f"payout:{market.pk}:{winner.pk}")
        assert payout.kind == TransactionKind.PAYOUT
        position = Position.objects.get(member=winner, outcome__index=2)
        assert position.points_received == owed[winner.pk]
    event = OutboxEvent.objects.get(kind="market.settled", aggregate_id=str(market.pk))
    assert event.payload["paid_total"] == result.paid_total
    market.refresh_from_db()
    assert market.settled_at is not None
    assert_ledger_sound()


def test_it_settles_only_once(scene: Scene) -> None:
    first = settle_resolved_market(market_id=scene.market.pk)
    assert first.performed
    after_first = betting_state()

    second = settle_resolved_market(market_id=scene.market.pk)
    assert settle_market(scene.market.pk) is False  # the on-commit task, run late
    assert settlement_sweep() == 0  # and the sweep finds nothing left to do

    assert second.performed is False
    assert betting_state() == after_first
    assert_ledger_sound()


def test_the_sweep_settles_a_market_whose_task_was_lost(scene: Scene) -> None:
    winner = scene.winners[0]
    start = balance_of(winner)
    assert settlement_sweep() == 1
    assert balance_of(winner) == start + _floor(shares_held(winner, scene.market, 2))
    assert escrow_of(scene.market) == 0
    assert_ledger_sound()


def test_it_does_not_settle_a_market_that_is_not_resolved(market: Market, bettor: Member) -> None:
    bet(bettor, market, 0, 100)
    before = betting_state()
    assert settle_resolved_market(market_id=market.pk).performed is False
    assert betting_state() == before
