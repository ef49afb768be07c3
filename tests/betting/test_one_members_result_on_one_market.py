"""``/history market:``: one member's trades on one market and what became of them."""

from __future__ import annotations

import pytest

from betting.selectors import MarketOutcomeForMember, member_market_result
from betting.settlement import settle_resolved_market
from betting.unwind import refund_market
from markets.services import market_cancel
from points.models import Guild, Member
from predictmarket.errors import NotFound
from tests.betting.helpers import bet, sell
from tests.markets.helpers import MODERATORS, decide, make_guild, make_market, make_member

pytestmark = pytest.mark.django_db


def test_it_lists_the_members_trades_newest_first_and_the_open_result(
    guild: Guild, creator: Member, bettor: Member
) -> None:
    market = make_market(creator)
    bet(bettor, market, 0, 100)
    bet(creator, market, 1, 50)  # someone else's trade is not listed
    sell(bettor, market, 0, "10")

    found = member_market_result(bettor, market_id=market.pk)

    assert [(t.side, t.outcome_label) for t in found.trades] == [("sell", "Yes"), ("buy", "Yes")]
    assert found.trade_count == 2
    assert found.result == MarketOutcomeForMember.OPEN
    assert found.points_spent == 100 and found.points_received == found.trades[0].points
    assert found.value > 0  # the shares still held, at today's price
    assert found.profit == found.value + found.points_received - found.points_spent


def test_a_paid_market_shows_the_winner_and_the_profit(
    guild: Guild, creator: Member, bettor: Member
) -> None:
    market = make_market(creator)
    bet(bettor, market, 0, 100)
    bet(creator, market, 1, 100)
    decide(market, outcome_index=0)
    assert member_market_result(bettor, market_id=market.pk).result == "being paid out"
    settle_resolved_market(market_id=market.pk)

    won = member_market_result(bettor, market_id=market.pk)
    lost = member_market_result(creator, market_id=market.pk)

    assert (won.result, won.winning_outcome, won.value) == ("paid", "Yes", 0)
    assert won.profit > 0 and lost.profit == -100


def test_a_refunded_market_nets_nothing(guild: Guild, creator: Member, bettor: Member) -> None:
    market = make_market(creator)
    bet(bettor, market, 0, 100)
    market_cancel(market_id=market.pk, actor=MODERATORS[0], is_moderator=True)
    refund_market(market_id=market.pk)

    found = member_market_result(bettor, market_id=market.pk)

    assert (found.result, found.profit, found.winning_outcome) == ("refunded", 0, None)


def test_a_member_who_never_traded_there_is_told_so(creator: Member, bettor: Member) -> None:
    market = make_market(creator)
    found = member_market_result(bettor, market_id=market.pk)
    assert (found.result, found.trades, found.profit) == ("no trades", [], 0)


def test_another_guilds_market_is_not_found(bettor: Member) -> None:
    elsewhere = make_market(make_member(make_guild(), "stranger"))
    with pytest.raises(NotFound, match="does not exist in this server"):
        member_market_result(bettor, market_id=elsewhere.pk)


def test_a_corrected_market_says_so_and_nets_the_new_result(
    guild: Guild, creator: Member, bettor: Member
) -> None:
    from betting.corrections import correction_apply
    from markets.models import MarketCorrection
    from markets.services import resolution_vote

    market = make_market(creator)
    bet(bettor, market, 0, 100)
    decide(market, outcome_index=0)
    settle_resolved_market(market_id=market.pk)
    for voter in MODERATORS[:2]:
        resolution_vote(
            market_id=market.pk, voter=voter, outcome_index=None, cancel=True, correct=True
        )
    correction_apply(correction_id=MarketCorrection.objects.get(market=market).pk)

    found = member_market_result(bettor, market_id=market.pk)

    assert found.result == MarketOutcomeForMember.CORRECTED
    assert found.status_label == "Cancelled" and found.winning_outcome is None
    assert found.profit == 0
