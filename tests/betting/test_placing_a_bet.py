"""A bet gets exactly the quoted shares, moves the points to the escrow and records itself."""

from __future__ import annotations

from decimal import Decimal

from betting.models import Position, Trade, TradeSide
from betting.services import bet_quote
from markets.models import Market
from markets.selectors import market_price_history
from points.models import LedgerTransaction, Member, TransactionKind
from predictmarket.models import AuditLogEntry, OutboxEvent
from tests.betting.helpers import bet
from tests.markets.helpers import (
    assert_ledger_sound,
    balance_of,
    escrow_of,
    house_of,
    make_market,
    pools_of,
)


def test_it_gives_the_quoted_shares_and_moves_the_points(creator: Member, bettor: Member) -> None:
    market = make_market(creator, options=["Red", "Green", "Blue"])
    balance, escrow, house = balance_of(bettor), escrow_of(market), house_of(market.guild_id)
    quote = bet_quote(market_id=market.pk, outcome_index=2, amount=150)

    result = bet(bettor, market, 2, 150)

    assert result.shares == quote.shares
    assert result.shares > 150  # at a price below 1 a point buys more than one share
    assert result.replayed is False
    assert result.payout_if_wins == int(quote.shares)
    assert balance_of(bettor) == balance - 150 == result.balance
    assert escrow_of(market) == escrow + 150
    assert house_of(market.guild_id) == house  # the house is not part of a trade
    assert pools_of(market) == list(quote.pools_after)
    assert pools_of(market)[2] < pools_of(market)[0] == Decimal(1000 + 150)

    trade = Trade.objects.get(market=market)
    assert (trade.member_id, trade.side, trade.points, trade.shares) == (
        bettor.pk,
        TradeSide.BUY,
        150,
        quote.shares,
    )
    assert trade.ledger_transaction.kind == TransactionKind.BET
    position = Position.objects.get(member=bettor, market=market)
    assert (position.outcome.index, position.shares, position.points_spent) == (
        2,
        quote.shares,
        150,
    )
    market.refresh_from_db()
    assert market.volume == 150
    assert trade.probabilities_after == result.probabilities_after
    latest = market_price_history(market)[-1]  # the chart's last point is the trade's
    assert (latest.at, [str(p) for p in latest.probabilities]) == (
        trade.created_at,
        result.probabilities_after,
    )
    assert float(latest.probabilities[2]) > 1 / 3 > float(latest.probabilities[0])
    event = OutboxEvent.objects.get(kind="market.trade")
    assert (event.aggregate_id, event.payload["trade_id"]) == (str(market.pk), trade.pk)
    # The trade is its own record: no audit entry repeats it.
    assert not AuditLogEntry.objects.filter(action__startswith="trade.").exists()
    assert_ledger_sound()


def test_it_adds_a_second_bet_to_the_same_position(market: Market, bettor: Member) -> None:
    first = bet(bettor, market, 0, 100)
    second = bet(bettor, market, 0, 100)
    position = Position.objects.get(member=bettor, market=market)
    assert position.shares == first.shares + second.shares
    assert second.shares < first.shares  # the first bet raised the price
    assert position.points_spent == 200
    assert LedgerTransaction.objects.filter(kind=TransactionKind.BET).count() == 2
