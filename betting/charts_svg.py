"""Price-history charts as inline SVG for the public pages (no JavaScript, no images).

Each outcome gets its own line style *and* a labelled legend entry, so the
chart never relies on colour alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from markets.selectors import PriceHistoryPoint

COLOURS = [
    "#1f6feb",
    "#d1242f",
    "#1a7f37",
    "#9a6700",
    "#8250df",
    "#bf3989",
    "#0a7d8c",
    "#6e7781",
    "#953800",
    "#116329",
]
DASHES = ["", "6 3", "2 3", "8 3 2 3", "1 2", "10 4", "4 4", "12 2 2 2", "3 6", "5 2 1 2"]


@dataclass(frozen=True)
class Series:
    label: str
    colour: str
    dash: str
    points: str  # "x,y x,y …" in the viewBox
    last: Decimal


def chart_series(
    labels: list[str],
    history: list[PriceHistoryPoint],
    *,
    until: datetime,
    width: int = 600,
    height: int = 240,
) -> list[Series]:
    """Step lines from the first price point to ``until`` (now, or the close)."""
    if not history:
        return []
    start = history[0].at.timestamp()
    span = max(until.timestamp() - start, history[-1].at.timestamp() - start, 1.0)
    # Each point's x once for every line (a public page draws 500 points per outcome,
    # rebuilt for each version of a busy market).
    xs = [f"{(point.at.timestamp() - start) / span * width:.1f}" for point in history]
    series = []
    for i, label in enumerate(labels):
        ys = [f"{height - float(point.probabilities[i]) * height:.1f}" for point in history]
        coords = [f"{xs[0]},{ys[0]}"]
        for x, held, y in zip(xs[1:], ys[:-1], ys[1:], strict=True):
            coords.append(f"{x},{held}")  # hold until the next trade
            coords.append(f"{x},{y}")
        coords.append(f"{width:.1f},{ys[-1]}")  # the current price, up to now
        series.append(
            Series(
                label,
                COLOURS[i % 10],
                DASHES[i % 10],
                " ".join(coords),
                history[-1].probabilities[i],
            )
        )
    return series
