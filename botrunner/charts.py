"""The price-history chart: one PNG per market message, drawn with matplotlib's Agg.

Rendering costs tens of milliseconds of CPU, so callers run it on a small
dedicated thread pool (``render_chart``), never on the event loop, and apart
from the database threads so a burst of charts cannot starve service calls.
The object-oriented API (``Figure`` + ``FigureCanvasAgg``) is used instead of
pyplot, whose global state is not thread-safe.

matplotlib and numpy are imported on the first chart, on the chart thread:
they are about 40 MB of the bot's memory, which a process that never draws a
chart (a shard without traffic, ``runbot`` failing fast on a bad token) does
not need to pay.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from markets.selectors import PriceHistoryPoint

WIDTH_IN, HEIGHT_IN, DPI = 8.0, 3.6, 100
# Distinguishable without relying on colour alone: each line also has its own
# dash pattern, and the legend names every answer with its last probability.
STYLES = ["-", "--", "-.", ":"]
_executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="bot-chart")


def chart_filename(market_id: int) -> str:
    return f"market-{market_id}.png"


def render_chart_png(
    history: Sequence[PriceHistoryPoint], labels: Sequence[str], *, now: datetime | None = None
) -> bytes:
    """A step chart of every answer's probability over time."""
    # The Agg canvas directly, never pyplot: no global backend to switch.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import AutoDateFormatter, AutoDateLocator
    from matplotlib.figure import Figure
    from matplotlib.ticker import PercentFormatter

    figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    times = [point.at for point in history]
    if history and now is not None and now > times[-1]:
        # Extend the last prices to "now" so a quiet market still shows a line.
        history = [*history, PriceHistoryPoint(at=now, probabilities=history[-1].probabilities)]
        times.append(now)
    for index, label in enumerate(labels):
        values = [
            float(point.probabilities[index]) if index < len(point.probabilities) else 0.0
            for point in history
        ]
        last = values[-1] if values else 0.0
        short = label if len(label) <= 28 else label[:27] + "…"
        axes.step(
            times,
            values,
            where="post",
            linestyle=STYLES[index % len(STYLES)],
            linewidth=1.8,
            label=f"{short} ({last * 100:.0f}%)",
        )
    axes.set_ylim(0, 1)
    axes.yaxis.set_major_formatter(PercentFormatter(1.0))
    locator = AutoDateLocator()
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(AutoDateFormatter(locator))
    axes.grid(True, alpha=0.3)
    axes.set_title("Probability over time (UTC)", fontsize=10)
    axes.legend(loc="upper left", fontsize=8, ncol=2 if len(labels) > 5 else 1, framealpha=0.8)
    figure.autofmt_xdate()
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


async def render_chart(
    history: Sequence[PriceHistoryPoint], labels: Sequence[str], *, now: datetime | None = None
) -> bytes:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_executor, lambda: render_chart_png(history, labels, now=now))
