"""The one listener for every button, select and modal of the bot.

Registered with ``bot.add_listener(dispatch_interaction, "on_interaction")``.
It reads the action from the custom id (``pm:<action>:<args…>``) and calls the
handler with the arguments, so components keep working after a restart and on
any shard: no view object has to be kept or re-registered.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from botrunner.ackfirst import ACKS
from botrunner.cogs import markets, points, trading
from botrunner.components import parse_custom_id
from botrunner.text import NO_MENTIONS

logger = logging.getLogger(__name__)

COMPONENT = 3
MODAL_SUBMIT = 5

Route = Callable[[Any, list[str]], Awaitable[Any]]
ROUTES: dict[str, Route] = {
    # the market message
    "buy": trading.buy_button,
    "sell": trading.sell_button,
    "pos": trading.position_button,
    "ref": markets.market_refresh,
    # buying: pick an answer, type an amount, confirm the quote
    "buypick": trading.buy_pick,
    "buyamt": trading.buy_amount,
    "cfm": trading.bet_confirm,
    "nocfm": trading.bet_cancel,
    # selling: pick an answer, type the shares, confirm the quote
    "sellpick": trading.sell_pick,
    "sellamt": trading.sell_amount,
    "scfm": trading.sell_confirm,
    "noscfm": trading.sell_cancel,
    # pagers
    "mls": markets.market_list_page,
    "hist": points.history_page,
    # /market create's modal
    "create": markets.market_create_submit,
}


def _type_of(interaction: Any) -> int:
    kind = getattr(interaction, "type", None)
    return int(getattr(kind, "value", kind) or 0)


async def dispatch_interaction(interaction: Any) -> None:
    if _type_of(interaction) not in (COMPONENT, MODAL_SUBMIT):
        return  # slash commands and autocomplete go through nextcord's command tree
    parsed = parse_custom_id(str((interaction.data or {}).get("custom_id", "")))
    if parsed is None:
        ACKS.acknowledged(interaction.id)  # not ours: no one waits for its answer
        return
    action, parts = parsed
    route = ROUTES.get(action)
    if route is None:
        # A component from an older version of the bot: say so rather than time out.
        logger.warning("no handler for custom id action %r", action)
        try:
            await interaction.response.send_message(
                "This button is out of date: run the command again.",
                ephemeral=True,
                allowed_mentions=NO_MENTIONS,
            )
        finally:
            ACKS.acknowledged(interaction.id)
        return
    await route(interaction, parts)
