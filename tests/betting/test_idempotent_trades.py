"""A retried trade (same request id) trades once; the same id for another trade is a conflict."""

from __future__ import annotations

from betting.models import Trade
from markets.models import Market
from points.models import Member
from predictmarket.errors import IdempotencyConflict
from tests.betting.helpers import bet, betting_state, sell
from tests.markets.helpers import balance_of, make_market, refused


def test_it_places_a_retried_bet_once(market: Market, bettor: Member) -> None:
    start = balance_of(bettor)
    first = bet(bettor, market, 0, 120, idempotency_key="interaction-1")
    after_first = betting_state()

    again = bet(bettor, market, 0, 120, idempotency_key="interaction-1")

    assert again.replayed is True
    assert again.trade.pk == first.trade.pk
    assert again.shares == first.shares
    assert Trade.objects.count() == 1
    assert balance_of(bettor) == start - 120
    assert betting_state() == after_first


def test_it_refuses_the_same_request_id_for_a_different_bet(
    market: Market, bettor: Member, rival: Member
) -> None:
    bet(bettor, market, 0, 120, idempotency_key="interaction-2")
    before = betting_state()

    with refused(IdempotencyConflict):
        bet(bettor, market, 0, 121, idempotency_key="interaction-2")
    with refused(IdempotencyConflict):
        bet(bettor, market, 1, 120, idempotency_key="interaction-2")
    with refused(IdempotencyConflict):
        bet(rival, market, 0, 120, idempotency_key="interaction-2")

    assert betting_state() == before


def test_it_sells_once_for_a_retried_sale(market: Market, bettor: Member) -> None:
    bet(bettor, market, 0, 300)
    first = sell(bettor, market, 0, "20", idempotency_key="sale-1")
    after_first = betting_state()

    again = sell(bettor, market, 0, "20", idempotency_key="sale-1")

    assert again.replayed is True
    assert again.trade.pk == first.trade.pk
    assert betting_state() == after_first


def test_it_refuses_the_same_request_id_for_a_different_sale(
    market: Market, bettor: Member
) -> None:
    bet(bettor, market, 0, 300)
    sell(bettor, market, 0, "20", idempotency_key="sale-2")
    before = betting_state()

    with refused(IdempotencyConflict):
        sell(bettor, market, 0, "35", idempotency_key="sale-2")

    assert betting_state() == before


def test_it_refuses_the_same_request_id_for_a_bet_on_another_market(
    market: Market, bettor: Member, creator: Member
) -> None:
    other = make_market(creator, question="Another question?")
    bet(bettor, market, 0, 120, idempotency_key="interaction-3")
    before = betting_state()

    with refused(IdempotencyConflict):
        bet(bettor, other, 0, 120, idempotency_key="interaction-3")

    assert betting_state() == before


def test_it_refuses_the_same_request_id_for_a_sale_by_another_member_market_or_option(
    market: Market, bettor: Member, rival: Member, creator: Member
) -> None:
    other = make_market(creator, question="Another question?")
    for member, on in [(bettor, market), (rival, market), (bettor, other)]:
        bet(member, on, 0, 100)
        bet(member, on, 1, 100)
    sell(bettor, market, 0, "20", idempotency_key="sale-3")
    before = betting_state()

    with refused(IdempotencyConflict):
        sell(rival, market, 0, "20", idempotency_key="sale-3")
    with refused(IdempotencyConflict):
        sell(bettor, other, 0, "20", idempotency_key="sale-3")
    with refused(IdempotencyConflict):
        sell(bettor, market, 1, "20", idempotency_key="sale-3")
    assert betting_state() == before
