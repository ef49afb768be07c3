"""Frozen members cannot trade; members of another guild cannot see the market."""

from __future__ import annotations

from betting.services import sell_quote
from markets.models import Market
from points.models import Member
from points.services import member_set_frozen
from predictmarket.errors import AccountFrozen, NotFound
from tests.betting.helpers import bet, betting_state, sell
from tests.markets.helpers import MODERATORS, balance_of, make_market, refused


def test_it_refuses_bets_and_sales_from_a_frozen_member(market: Market, bettor: Member) -> None:
    bet(bettor, market, 0, 100)
    # The bot loaded the member before the moderator froze them.
    member_set_frozen(member=bettor, frozen=True, reason="alt account", actor=MODERATORS[0])
    before = betting_state()

    with refused(AccountFrozen):
        bet(bettor, market, 0, 100)
    with refused(AccountFrozen):
        sell(bettor, market, 0, "all")

    assert betting_state() == before


def test_it_refuses_a_frozen_member_creating_a_market(bettor: Member) -> None:
    member_set_frozen(member=bettor, frozen=True, reason="spam", actor=MODERATORS[0])
    before = betting_state()
    with refused(AccountFrozen):
        make_market(bettor)
    assert betting_state() == before


def test_it_refuses_a_member_of_another_guild(
    market: Market, bettor: Member, outsider: Member
) -> None:
    bet(bettor, market, 0, 100)
    outsider_start = balance_of(outsider)
    before = betting_state()

    with refused(NotFound):
        bet(outsider, market, 0, 100)
    with refused(NotFound):
        sell(outsider, market, 0, "1")
    with refused(NotFound):
        sell_quote(member=outsider, market_id=market.pk, outcome_index=0, shares="1")

    assert betting_state() == before
    assert balance_of(outsider) == outsider_start
