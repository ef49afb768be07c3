"""The market page's price chart: the public pages' lines, with labelled axes and times.

Server-rendered SVG (no JavaScript): ``betting.charts_svg.chart_series`` draws
the step lines in a plot box; this adds a y axis in percent and an x axis with
the times (UTC) of its start, middle and end.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from betting.charts_svg import Series, chart_series
from markets.selectors import PriceHistoryPoint

PLOT_WIDTH = 540
PLOT_HEIGHT = 220
LEFT = 62  # room for "100%" at the phone's larger type
TOP = 28  # room for the y axis title above the plot
BOTTOM = 44  # the times and the axis title


@dataclass(frozen=True)
class Tick:
    at: float  # position along the axis, in the plot's coordinates
    label: str


@dataclass(frozen=True)
class Chart:
    series: list[Series]
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    plot_width: int = PLOT_WIDTH
    plot_height: int = PLOT_HEIGHT
    left: int = LEFT
    top: int = TOP

    @property
    def width(self) -> int:
        return LEFT + PLOT_WIDTH + 24  # the last time label is centred on the right edge

    @property
    def height(self) -> int:
        return TOP + PLOT_HEIGHT + BOTTOM


def _time_label(moment: datetime, *, span_seconds: float) -> str:
    moment = moment.astimezone(UTC)
    if span_seconds < 3_600:
        return moment.strftime("%H:%M:%S")
    if span_seconds < 86_400:
        return moment.strftime("%H:%M")
    return moment.strftime("%d %b %H:%M")


def price_chart(
    labels: list[str], history: list[PriceHistoryPoint], *, until: datetime
) -> Chart | None:
    """The chart from the first price point to ``until``, or ``None`` without history."""
    series = chart_series(labels, history, until=until, width=PLOT_WIDTH, height=PLOT_HEIGHT)
    if not series:
        return None
    start = history[0].at.timestamp()
    # The same span chart_series scales by, so the ticks sit under the lines they name.
    span = max(until.timestamp() - start, history[-1].at.timestamp() - start, 1.0)
    y_ticks = [Tick(PLOT_HEIGHT - PLOT_HEIGHT * p / 100, f"{p}%") for p in (0, 25, 50, 75, 100)]
    x_ticks = [
        Tick(
            PLOT_WIDTH * q / 2,
            _time_label(datetime.fromtimestamp(start + span * q / 2, UTC), span_seconds=span),
        )
        # Three times (start, middle, now): five overlap on a phone.
        for q in range(3)
    ]
    return Chart(series=series, y_ticks=y_ticks, x_ticks=x_ticks)
