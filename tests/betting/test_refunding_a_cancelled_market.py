"""A cancelled market is unwound once: each member's net is reversed; escrow ends at 0."""

from __future__ import annotations

import pytest

from betting.tasks import refund_cancelled_market, settlement_sweep
from betting.unwind import refund_market
from markets.models import Market
from points.models import Guild, LedgerTransaction, Member, TransactionKind
from predictmarket.models import OutboxEvent
from tests.betting.helpers import bet, betting_state, sell
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


def test_it_returns_what_each_member_put_in_net(
    guild: Guild, market: Market, bettor: Member, rival: Member
) -> None:
    third = make_member(guild, "third")
    start = {m.pk: balance_of(m) for m in (bettor, rival, third)}
    bet(bettor, market, 0, 300)
    bet(bettor, market, 1, 50)
    got_back = sell(bettor, market, 0, "100").points  # partly cashed out before the cancel
    bet(rival, market, 1, 200)
    bet(third, market, 0, 10)
    decide(market, cancel=True)
    escrow_before = escrow_of(market)
    house_before = house_of(market.guild_id)

    result = refund_market(market_id=market.pk)

    assert result.performed and result.kind == "refunded"
    owed = {bettor.pk: 350 - got_back, rival.pk: 200, third.pk: 10}
    for member in (bettor, rival, third):
        # Everyone ends exactly where they started: spent came back, minus what they got.
        assert balance_of(member) == start[member.pk], member
    assert result.paid_total == sum(owed.values())
    assert escrow_of(market) == 0
    assert house_of(market.guild_id) == house_before + (escrow_before - sum(owed.values()))
    assert (
        LedgerTransaction.objects.filter(
            kind=TransactionKind.REFUND, idempotency_key__startswith=f"refund:{market.pk}:"
        )
        .exclude(idempotency_key__endswith=":house")
        .count()
        == 3
    )
    assert OutboxEvent.objects.filter(kind="market.refunded").count() == 1
    assert_ledger_sound()


@pytest.mark.django_db
def test_a_member_who_sold_at_a_profit_gives_the_gain_back_and_the_house_covers_nothing() -> None:
    # Thin liquidity: "No" is cheap after the "Yes" bets, then dear after another "No" bet.
    guild = make_guild(default_liquidity=10, min_resolution_votes=1)
    market = make_market(make_member(guild, "creator"))
    yes_small, yes_big = make_member(guild, "yes-small"), make_member(guild, "yes-big")
    trader, no_big = make_member(guild, "trader"), make_member(guild, "no-big")
    bet(yes_small, market, 0, 100)
    bet(yes_big, market, 0, 600)
    bet(trader, market, 1, 600)
    bet(no_big, market, 1, 600)
    received = sell(trader, market, 1, "all").points
    assert received > 600  # sold at a profit
    house_before = house_of(guild.pk)
    owed = 100 + 600 + 600
    assert owed > escrow_of(market)  # the escrow alone cannot pay the refunds
    decide(market, cancel=True)

    result = refund_market(market_id=market.pk)

    assert result.performed
    assert result.paid_total == owed
    # The trader's gain went back into the pot: everyone is where they started.
    for member in (yes_small, yes_big, no_big, trader):
        assert balance_of(member) == guild.starting_balance
    assert {row["member_id"]: row["amount"] for row in result.lines}[trader.pk] == -(received - 600)
    assert escrow_of(market) == 0
    # The house gets its liquidity back: it neither covered a shortfall nor lost anything.
    assert house_of(guild.pk) == house_before + 10
    assert not LedgerTransaction.objects.filter(
        idempotency_key=f"refund:{market.pk}:house-cover"
    ).exists()
    assert_ledger_sound()


def test_it_refunds_only_once(market: Market, bettor: Member) -> None:
    bet(bettor, market, 1, 100)
    decide(market, cancel=True)
    assert refund_market(market_id=market.pk).performed
    after = betting_state()

    assert refund_market(market_id=market.pk).performed is False
    assert refund_cancelled_market(market.pk) is False
    assert settlement_sweep() == 0
    assert betting_state() == after
    assert_ledger_sound()


def test_it_refunds_nothing_for_a_market_that_was_not_cancelled(
    market: Market, bettor: Member
) -> None:
    bet(bettor, market, 1, 100)
    before = betting_state()
    assert refund_market(market_id=market.pk).performed is False
    decide(market, outcome_index=0)
    assert refund_market(market_id=market.pk).performed is False
    assert balance_of(bettor) == 900
    assert betting_state()["balances"] == before["balances"]
