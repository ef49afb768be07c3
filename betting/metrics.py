"""Business counters of trading, counted in the process that placed the trade.

Counted after the trade committed, never for a replayed request. The web's
gunicorn workers sum theirs through ``PROMETHEUS_MULTIPROC_DIR``; the bot
serves its own; a dashboard sums the jobs.
"""

from __future__ import annotations

from prometheus_client import Counter

TRADES = Counter(
    "predictmarket_trades_total", "Trades placed (committed), by side (buy, sell)", ["side"]
)
TRADE_POINTS = Counter(
    "predictmarket_trade_points_total",
    "Points traded (paid by buyers, received by sellers), by side",
    ["side"],
)


def count_trade(side: str, points: int) -> None:
    TRADES.labels(side).inc()
    TRADE_POINTS.labels(side).inc(points)
