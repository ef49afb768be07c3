"""Reads over trades and positions: portfolios, holders, leaderboards by worth and profit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import QuerySet

from betting.leaderboards import WorthRow, ranked_board
from betting.models import Position, Trade
from markets import amm
from markets.models import Market, MarketCorrection, MarketStatus, Outcome
from markets.services import market_get
from points.models import Member

CENT = Decimal("0.01")
_LIVE = (MarketStatus.OPEN, MarketStatus.CLOSED)


@dataclass(frozen=True)
class Holding:
    market_id: int
    question: str
    market_status: str
    outcome_index: int
    outcome_label: str
    shares: Decimal
    probability: Decimal
    value: Decimal  # mark-to-market: shares x current probability (0 once decided)
    points_spent: int
    points_received: int

    @property
    def profit(self) -> Decimal:
        return self.value + self.points_received - self.points_spent


@dataclass(frozen=True)
class Portfolio:
    holdings: list[Holding]
    value: Decimal
    profit: Decimal


def _probabilities(markets: set[int]) -> dict[int, Decimal]:
    by_market: dict[int, list[Outcome]] = {}
    for outcome in Outcome.objects.filter(market_id__in=markets).order_by("market_id", "index"):
        by_market.setdefault(outcome.market_id, []).append(outcome)
    result: dict[int, Decimal] = {}
    for outcomes in by_market.values():
        for outcome, price in zip(outcomes, amm.prices([o.pool for o in outcomes]), strict=True):
            result[outcome.pk] = price
    return result


def member_portfolio(member: Member, *, include_closed: bool = False) -> Portfolio:
    """A member's positions valued at the current probabilities, with profit and loss.

    Live markets are marked to market; a resolved market's payout is already in
    ``points_received``; refunded markets count what was given back.
    """
    positions = Position.objects.filter(member=member).select_related("market", "outcome")
    if not include_closed:
        positions = positions.filter(market__status__in=_LIVE, shares__gt=0)
    positions = list(positions.order_by("-market__created_at", "outcome__index"))
    prices = _probabilities({p.market_id for p in positions if p.market.status in _LIVE})
    holdings = []
    for p in positions:
        live = p.market.status in _LIVE
        probability = prices.get(p.outcome_id, Decimal(0)) if live else Decimal(0)
        holdings.append(
            Holding(
                market_id=p.market_id,
                question=p.market.question,
                market_status=p.market.status,
                outcome_index=p.outcome.index,
                outcome_label=p.outcome.label,
                shares=p.shares,
                probability=probability,
                value=(p.shares * probability).quantize(CENT) if live else Decimal(0),
                points_spent=p.points_spent,
                points_received=p.points_received,
            )
        )
    value = sum((h.value for h in holdings), Decimal(0))
    profit = sum((h.profit for h in holdings), Decimal(0))
    return Portfolio(holdings=holdings, value=value, profit=profit)


@dataclass(frozen=True)
class HolderRow:
    member_id: int
    discord_id: int
    display_name: str
    outcome_label: str
    shares: Decimal


def market_top_holders(market: Market, *, limit: int = 10) -> list[HolderRow]:
    positions = (
        Position.objects.filter(market=market, shares__gt=0)
        .select_related("member", "outcome")
        .order_by("-shares", "id")[:limit]
    )
    return [
        HolderRow(
            p.member_id, p.member.discord_id, p.member.display_name, p.outcome.label, p.shares
        )
        for p in positions
    ]


def market_trades(market: Market) -> QuerySet[Trade]:
    return market.trades.select_related("member", "outcome").order_by("-id")


@dataclass(frozen=True)
class TradeLine:
    side: str  # TradeSide value
    outcome_label: str
    shares: Decimal
    points: int
    created_at: datetime


class MarketOutcomeForMember:
    """What ``member_market_result`` says became of a member's trades (``result``)."""

    OPEN = "still open"
    AWAITING = "awaiting a decision"
    PAYING = "being paid out"
    PAID = "paid"
    REFUNDED = "refunded"
    CORRECTED = "corrected"
    NO_TRADES = "no trades"


@dataclass(frozen=True)
class MemberMarketResult:
    market_id: int
    question: str
    status_label: str
    winning_outcome: str | None
    result: str  # a MarketOutcomeForMember value
    trades: list[TradeLine]  # newest first, at most ``limit``
    trade_count: int
    points_spent: int
    points_received: int
    value: Decimal  # what the shares still held are worth now (0 once decided)

    @property
    def profit(self) -> Decimal:
        return self.value + self.points_received - self.points_spent


def member_market_result(member: Member, *, market_id: int, limit: int = 20) -> MemberMarketResult:
    """One member's trades on one market of their guild, and what became of them.

    Another guild's market is ``NotFound``, as if it did not exist. Live markets
    are marked to market (as the portfolio does); a decided one counts what it
    paid, refunded or took back, corrections included.
    """
    market = market_get(market_id, guild_id=member.guild_id)
    trades = Trade.objects.filter(market=market, member=member)
    lines = [
        TradeLine(t.side, t.outcome.label, t.shares, t.points, t.created_at)
        for t in trades.select_related("outcome").order_by("-id")[: max(1, limit)]
    ]
    positions = list(Position.objects.filter(market=market, member=member))
    live = market.status in _LIVE
    value = Decimal(0)  # a decided market's shares are worth nothing more: it has paid
    if live:
        prices = _probabilities({market.pk})
        value = sum(
            ((p.shares * prices.get(p.outcome_id, Decimal(0))).quantize(CENT) for p in positions),
            Decimal(0),
        )
    if not positions:
        result = MarketOutcomeForMember.NO_TRADES
    elif market.status == MarketStatus.OPEN:
        result = MarketOutcomeForMember.OPEN
    elif market.status == MarketStatus.CLOSED:
        result = MarketOutcomeForMember.AWAITING
    elif market.settled_at is None:
        result = MarketOutcomeForMember.PAYING
    elif MarketCorrection.objects.filter(market=market, applied_at__isnull=False).exists():
        result = MarketOutcomeForMember.CORRECTED
    elif market.status == MarketStatus.RESOLVED:
        result = MarketOutcomeForMember.PAID
    else:
        result = MarketOutcomeForMember.REFUNDED
    winner = market.winning_outcome.label if market.winning_outcome_id else None
    return MemberMarketResult(
        market_id=market.pk,
        question=market.question,
        status_label=market.get_status_display(),
        winning_outcome=winner if market.status == MarketStatus.RESOLVED else None,
        result=result,
        trades=lines,
        trade_count=trades.count(),
        points_spent=sum(p.points_spent for p in positions),
        points_received=sum(p.points_received for p in positions),
        value=value,
    )


def worth_leaderboard(
    guild_id: int,
    *,
    by: str = "net_worth",
    limit: int = 10,
    member: Member | None = None,
    since: datetime | None = None,
) -> tuple[list[WorthRow], WorthRow | None]:
    """Members ranked by net worth (balance + open positions) or by trading profit.

    ``since`` (profit only) ranks the profit of the markets settled since then:
    a week's, a month's or a season's board. See ``betting.leaderboards``.
    """
    if by not in {"net_worth", "profit"}:
        raise ValueError(by)
    return ranked_board(guild_id, board=by, limit=limit, member=member, since=since)
