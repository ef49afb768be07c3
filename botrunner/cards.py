"""The market message: embed, chart attachment and buttons, rendered from a ``MarketCard``.

Used by ``/market show``, the Refresh button and the outbox consumer's live
edits, so the three always look the same.
"""

from __future__ import annotations

import io
import logging
from collections import OrderedDict
from dataclasses import dataclass

import nextcord
from django.utils import timezone

from botrunner.charts import chart_filename, render_chart
from botrunner.components import market_view
from botrunner.embeds import market_embed
from botrunner.reads import MarketCard

logger = logging.getLogger(__name__)

# A chart costs about 0.1 s of CPU. Refresh clicks and status-only edits would
# draw the same chart again: reuse it while the market has no new price point
# and the minute (the chart's right edge, "now") is the same.
CHART_CACHE_SIZE = 64
_charts: OrderedDict[tuple[object, ...], bytes] = OrderedDict()


async def _chart(card: MarketCard) -> bytes:
    now = timezone.now()
    last = card.history[-1].at
    key = (card.market_id, len(card.history), last, now.replace(second=0, microsecond=0))
    png = _charts.get(key)
    if png is None:
        png = await render_chart(card.history, [o.label for o in card.outcomes], now=now)
        _charts[key] = png
        while len(_charts) > CHART_CACHE_SIZE:
            _charts.popitem(last=False)
    else:
        _charts.move_to_end(key)
    return png


@dataclass
class MarketMessage:
    embed: nextcord.Embed
    png: bytes | None
    filename: str
    view: nextcord.ui.View

    def _file(self) -> nextcord.File | None:
        # A fresh File each time: nextcord closes a file once it has been sent,
        # and a retried edit must upload the chart again.
        return nextcord.File(io.BytesIO(self.png), filename=self.filename) if self.png else None

    def send_kwargs(self) -> dict[str, object]:
        kwargs: dict[str, object] = {"embed": self.embed, "view": self.view}
        file = self._file()
        if file is not None:
            kwargs["file"] = file
        return kwargs

    def edit_kwargs(self) -> dict[str, object]:
        """For editing a posted message: the new chart replaces the old (``attachments=[]``)."""
        kwargs: dict[str, object] = {"embed": self.embed, "view": self.view, "attachments": []}
        file = self._file()
        if file is not None:
            kwargs["files"] = [file]
        return kwargs


async def render_market_message(card: MarketCard, *, with_chart: bool = True) -> MarketMessage:
    png = None
    filename = chart_filename(card.market_id)
    if with_chart and card.history:
        try:
            png = await _chart(card)
        except Exception:
            logger.exception("rendering the chart of market %s failed", card.market_id)
    return MarketMessage(
        embed=market_embed(card, image_filename=filename if png else None),
        png=png,
        filename=filename,
        view=market_view(card.market_id, accepting_bets=card.accepting_bets),
    )
