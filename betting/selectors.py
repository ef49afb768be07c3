"""Reads over trades and positions: portfolios, holders, leaderboards by worth and profit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import QuerySet

from betting.leaderboards import WorthRow, ranked_board
from betting.models import Position, Trade
from markets import amm
from markets.models import Market, MarketStatus, Outcome
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
