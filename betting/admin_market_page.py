"""What the admin's market page adds: the price chart with labelled axes, and every holder.

The chart is server-rendered SVG from ``markets.selectors.price_history`` (the
one source of a market's price history), drawn by ``betting.charts_svg`` inside
a frame with a probability axis (0 to 100 %) and a time axis (UTC).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from django.utils import timezone

from betting.charts_svg import Series, chart_series
from betting.models import Position
from markets.models import Market
from markets.selectors import market_detail, market_price_history

PLOT_WIDTH, PLOT_HEIGHT = 600, 240
LEFT, TOP, BOTTOM = 48, 12, 40  # room for the axis labels


@dataclass(frozen=True)
class Tick:
    position: float  # in the plot's coordinates
    label: str


@dataclass(frozen=True)
class AdminChart:
    series: list[Series]
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    width: int = PLOT_WIDTH
    height: int = PLOT_HEIGHT
    left: int = LEFT
    top: int = TOP
    bottom: int = BOTTOM

    @property
    def half_height(self) -> int:
        return self.height // 2

    @property
    def view_width(self) -> int:
        return self.left + self.width + 16

    @property
    def view_height(self) -> int:
        return self.top + self.height + self.bottom


@dataclass(frozen=True)
class HolderLine:
    discord_id: int
    display_name: str
    outcome_label: str
    shares: Decimal
    points_spent: int
    points_received: int


def market_admin_chart(market: Market) -> AdminChart | None:
    """The chart, or None before the first price point."""
    history = market_price_history(market)
    if not history:
        return None
    labels = [o.label for o in market_detail(market).outcomes]
    until = min(timezone.now(), market.resolved_at or market.closes_at)
    until = max(until, history[-1].at)
    series = chart_series(labels, history, until=until, width=PLOT_WIDTH, height=PLOT_HEIGHT)
    start = history[0].at
    y_ticks = [Tick(PLOT_HEIGHT - p / 100 * PLOT_HEIGHT, f"{p}%") for p in (0, 25, 50, 75, 100)]
    # Seconds on the axis only when the market's history is shorter than an hour.
    precise = (until - start).total_seconds() < 3600
    x_ticks = [
        Tick(fraction * PLOT_WIDTH, _time_label(_between(start, until, fraction), precise))
        for fraction in (0, 0.5, 1)
    ]
    return AdminChart(series=series, y_ticks=y_ticks, x_ticks=x_ticks)


def _between(start: datetime, end: datetime, fraction: float) -> datetime:
    return start + (end - start) * fraction


def _time_label(at: datetime, precise: bool) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC" if precise else "%Y-%m-%d %H:%M UTC")


def market_holders(market: Market) -> list[HolderLine]:
    """Every member holding shares of the market, largest position first."""
    positions = (
        Position.objects.filter(market=market, shares__gt=0)
        .select_related("member", "outcome")
        .order_by("outcome__index", "-shares", "id")
    )
    return [
        HolderLine(
            discord_id=p.member.discord_id,
            display_name=p.member.display_name,
            outcome_label=p.outcome.label,
            shares=p.shares,
            points_spent=p.points_spent,
            points_received=p.points_received,
        )
        for p in positions
    ]
