"""A cancelled or abandoned market is unwound: every member's net on it is reversed.

Members who are down get their loss back; members who are up give their gain
back, as far as their balance holds when the market is refunded. The house
absorbs what cannot be taken back only up to the market's liquidity; past
that the refunds are cut pro rata. Whoever cooperates with whom, the house
never loses more than the liquidity on one market (DESIGN.md, the house-loss
bound).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from betting.models import Position
from betting.unwind import refund_market
from markets.models import Market
from points.models import Account, LedgerEntry, Member
from points.services import points_grant, points_transfer
from tests.betting.helpers import bet, sell
from tests.markets.helpers import (
    MODERATORS,
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

LIQUIDITY = 1_000


def _rich(member: Member, amount: int) -> Member:
    points_grant(member=member, amount=amount, reason="test stake", actor=MODERATORS[0])
    return member


def _net_on_market(account_id: int, market: Market) -> int:
    """What the account gained (+) or lost (-) through this market's escrow, all told."""
    escrow_txns = LedgerEntry.objects.filter(account_id=market.escrow_account_id).values(
        "transaction_id"
    )
    return sum(
        LedgerEntry.objects.filter(
            account_id=account_id, transaction_id__in=escrow_txns
        ).values_list("amount", flat=True)
    )


def _two_accounts_trade_against_each_other(market: Market, whale: Member, partner: Member) -> None:
    """The whale pushes one answer to ~1, the partner buys the other for almost nothing,
    the whale sells out (the price comes back) and the partner sells at ~0.5."""
    bet(whale, market, 0, 999_990)
    bet(partner, market, 1, 1_000)
    sell(whale, market, 0, "all")
    sell(partner, market, 1, "all")


@pytest.fixture
def thin_market() -> tuple[Market, Member, Member]:
    guild = make_guild(default_liquidity=LIQUIDITY, min_resolution_votes=2)
    market = make_market(make_member(guild, "creator"))
    whale = _rich(make_member(guild, "whale"), 1_000_000)
    partner = make_member(guild, "partner")
    return market, whale, partner


def test_two_cooperating_accounts_cannot_take_points_from_the_house(
    thin_market: tuple[Market, Member, Member],
) -> None:
    market, whale, partner = thin_market
    house = house_of(market.guild_id)
    whale_start, partner_start = balance_of(whale), balance_of(partner)
    _two_accounts_trade_against_each_other(market, whale, partner)
    assert balance_of(partner) - partner_start > 900_000  # the partner is up by a fortune
    decide(market, cancel=True)

    result = refund_market(market_id=market.pk)

    assert result.performed
    # Fully unwound: both accounts are back where they started, and so is the house,
    # which gets its liquidity back.
    assert balance_of(whale) == whale_start
    assert balance_of(partner) == partner_start
    assert house_of(market.guild_id) - house == LIQUIDITY
    assert escrow_of(market) == 0
    house_account = Account.objects.get(guild_id=market.guild_id, kind="house").pk
    assert _net_on_market(house_account, market) == 0
    assert_ledger_sound()


def test_gains_tipped_away_before_the_cancel_cost_the_house_at_most_the_liquidity(
    thin_market: tuple[Market, Member, Member],
) -> None:
    market, whale, partner = thin_market
    third = make_member(market.guild, "third")
    whale_start, partner_start = balance_of(whale), balance_of(partner)
    house_account = Account.objects.get(guild_id=market.guild_id, kind="house").pk
    _two_accounts_trade_against_each_other(market, whale, partner)
    gain = balance_of(partner) - partner_start
    # The partner passes all its points to an account that never traded.
    points_transfer(
        sender=partner,
        recipient=third,
        amount=balance_of(partner),
        idempotency_key="tip-everything-away",
    )
    decide(market, cancel=True)
    whale_loss = whale_start - balance_of(whale)

    result = refund_market(market_id=market.pk)

    assert result.performed
    assert escrow_of(market) == 0
    assert balance_of(partner) == 0  # it gave back what it still had: nothing
    # The house's whole loss on the market is at most the liquidity it put in...
    assert _net_on_market(house_account, market) >= -LIQUIDITY
    # ...so the members as a group gained at most that.
    members_net = sum(
        _net_on_market(Account.objects.get(member=m).pk, market) for m in (whale, partner)
    )
    assert members_net <= LIQUIDITY
    # The whale is refunded pro rata from what is left: less than its loss, never more.
    assert 0 < result_refund(result, whale) < whale_loss
    assert balance_of(whale) == whale_start - whale_loss + result_refund(result, whale)
    assert gain > 0
    assert_ledger_sound()


def result_refund(result: object, member: Member) -> int:
    return next(
        (row["amount"] for row in result.lines if row["member_id"] == member.pk),  # type: ignore[attr-defined]
        0,
    )


def test_a_gain_is_taken_back_only_as_far_as_the_balance_holds(
    thin_market: tuple[Market, Member, Member],
) -> None:
    market, whale, partner = thin_market
    third = make_member(market.guild, "third")
    partner_start = balance_of(partner)
    _two_accounts_trade_against_each_other(market, whale, partner)
    gain = balance_of(partner) - partner_start
    kept = 5_000
    points_transfer(
        sender=partner,
        recipient=third,
        amount=balance_of(partner) - kept,
        idempotency_key="tip-most-away",
    )
    decide(market, cancel=True)

    result = refund_market(market_id=market.pk)

    assert balance_of(partner) == 0
    assert result_refund(result, partner) == -kept  # its line shows what it gave back
    assert gain > kept
    assert_ledger_sound()


def test_losers_are_refunded_in_full_from_the_escrow_and_the_gains_taken_back(
    thin_market: tuple[Market, Member, Member],
) -> None:
    market, whale, _ = thin_market
    small = make_member(market.guild, "small")
    small_start = balance_of(small)
    bet(small, market, 0, 300)
    bet(whale, market, 1, 20_000)
    sell(small, market, 0, "all")  # sold at a loss
    decide(market, cancel=True)

    refund_market(market_id=market.pk)

    assert balance_of(small) == small_start
    assert balance_of(whale) == 1_000_000 + market.guild.starting_balance
    assert Position.objects.filter(market=market).exclude(points_received=0).exists()
    assert_ledger_sound()


def test_an_abandoned_market_is_unwound_the_same_way(
    thin_market: tuple[Market, Member, Member],
) -> None:
    from markets.services import market_close

    market, whale, partner = thin_market
    whale_start, partner_start = balance_of(whale), balance_of(partner)
    _two_accounts_trade_against_each_other(market, whale, partner)
    market_close(market_id=market.pk, actor=MODERATORS[0])
    market.refresh_from_db()
    with time_machine.travel(market.closes_at + timedelta(hours=121), tick=False):
        result = refund_market(market_id=market.pk, automatic=True, now=timezone.now())

    assert result.performed and result.kind == "auto_refunded"
    assert balance_of(whale) == whale_start
    assert balance_of(partner) == partner_start
    assert escrow_of(market) == 0
    assert_ledger_sound()
