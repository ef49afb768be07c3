"""Reads over trades and positions: portfolios, holders, leaderboards by worth and profit."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import QuerySet

from betting.models import Position, Trade
from markets import amm
from markets.models import Market, MarketStatus, Outcome
from points.models import Account, AccountKind, Member

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
class WorthRow:
    rank: int
    member_id: int
    discord_id: int
    display_name: str
    balance: int
    value: Decimal
    profit: Decimal

    @property
    def net_worth(self) -> Decimal:
        return self.balance + self.value


def _open_values(guild_id: int) -> tuple[dict[int, Decimal], dict[int, Decimal]]:
    """Per member: mark-to-market value of live positions, and profit over all positions."""
    positions = list(
        Position.objects.filter(market__guild_id=guild_id).values(
            "member_id",
            "outcome_id",
            "market_id",
            "market__status",
            "shares",
            "points_spent",
            "points_received",
        )
    )
    live_markets = {p["market_id"] for p in positions if p["market__status"] in _LIVE}
    prices = _probabilities(live_markets)
    value: dict[int, Decimal] = {}
    profit: dict[int, Decimal] = {}
    for p in positions:
        mark = p["shares"] * prices.get(p["outcome_id"], Decimal(0))
        if p["market__status"] not in _LIVE:
            mark = Decimal(0)
        value[p["member_id"]] = value.get(p["member_id"], Decimal(0)) + mark
        profit[p["member_id"]] = (
            profit.get(p["member_id"], Decimal(0)) + mark + p["points_received"] - p["points_spent"]
        )
    return value, profit


def worth_leaderboard(
    guild_id: int, *, by: str = "net_worth", limit: int = 10, member: Member | None = None
) -> tuple[list[WorthRow], WorthRow | None]:
    """Members ranked by net worth (balance + open positions) or by trading profit."""
    if by not in {"net_worth", "profit"}:
        raise ValueError(by)
    value, profit = _open_values(guild_id)
    balances = Account.objects.filter(guild_id=guild_id, kind=AccountKind.MEMBER).values_list(
        "member_id", "balance", "member__discord_id", "member__display_name"
    )
    rows = []
    for member_id, balance, discord_id, name in balances:
        rows.append(
            WorthRow(
                0,
                member_id,
                discord_id,
                name,
                balance,
                value.get(member_id, Decimal(0)).quantize(CENT),
                profit.get(member_id, Decimal(0)).quantize(CENT),
            )
        )
    key = (lambda r: r.net_worth) if by == "net_worth" else (lambda r: r.profit)
    rows.sort(key=lambda r: (-key(r), r.member_id))
    ranked: list[WorthRow] = []
    for position, row in enumerate(rows, start=1):
        previous = ranked[-1] if ranked else None
        rank = previous.rank if previous and key(previous) == key(row) else position
        ranked.append(
            WorthRow(
                rank,
                *[
                    getattr(row, f)
                    for f in (
                        "member_id",
                        "discord_id",
                        "display_name",
                        "balance",
                        "value",
                        "profit",
                    )
                ],
            )
        )
    own = next((r for r in ranked if member is not None and r.member_id == member.pk), None)
    return ranked[:limit], own
