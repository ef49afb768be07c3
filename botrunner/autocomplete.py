"""Autocomplete for market and answer options: fast reads, no rate limit, never an error.

Discord sends one autocomplete interaction per keystroke and shows nothing if
it fails, so every failure here is logged and answered with an empty list.
"""

from __future__ import annotations

import logging
from typing import Any

from botrunner.calls import call
from botrunner.parsing import parse_id
from botrunner.reads import (
    DECIDED,
    UNDECIDED,
    MarketChoice,
    category_choices,
    market_choices,
    outcome_choices,
    picked_value,
)
from botrunner.text import clip, percent

logger = logging.getLogger(__name__)
MAX_CHOICES = 25
MAX_NAME = 100  # characters of a choice's name (and of its value)
OPEN_ONLY: tuple[str, ...] = ("open",)
ANY_STATUS: tuple[str, ...] | None = None


async def _send(interaction: Any, choices: dict[str, str]) -> None:
    try:
        await interaction.response.send_autocomplete(dict(list(choices.items())[:MAX_CHOICES]))
    except Exception:
        logger.warning("autocomplete reply failed", exc_info=True)


def market_choice_name(choice: MarketChoice) -> str:
    """``#12 Will it rain?``, with the state of a market that is not open: ``#9 (closed) …``.

    Discord shows at most 100 characters of a choice's name and refuses a longer one;
    the question is cut, never the number or the state.
    """
    state = "" if choice.status == "open" else f"({choice.status_label.lower()}) "
    return clip(f"#{choice.market_id} {state}{' '.join(choice.question.split())}", MAX_NAME)


async def suggest_markets(
    interaction: Any, typed: str | None, statuses: tuple[str, ...] | None
) -> None:
    """The guild's markets best matching what was typed (see ``reads.market_choices``)."""
    choices: dict[str, str] = {}
    if interaction.guild_id:
        try:
            found = await call(
                market_choices,
                guild_id=int(interaction.guild_id),
                typed=typed or "",
                statuses=statuses,
                limit=MAX_CHOICES,
            )
            choices = {market_choice_name(choice): str(choice.market_id) for choice in found}
        except Exception:
            logger.exception("market autocomplete failed")
    await _send(interaction, choices)


async def suggest_categories(interaction: Any, typed: str | None) -> None:
    """The guild's market categories containing what was typed."""
    choices: dict[str, str] = {}
    if interaction.guild_id:
        try:
            found = await call(
                category_choices,
                guild_id=int(interaction.guild_id),
                typed=typed or "",
                limit=MAX_CHOICES,
            )
            choices = {category: category for category in found}
        except Exception:
            logger.exception("category autocomplete failed")
    await _send(interaction, choices)


async def suggest_outcomes(
    interaction: Any, typed: str | None, market: str | None, *, with_cancel: bool = False
) -> None:
    choices: dict[str, str] = {}
    if interaction.guild_id and market:
        try:
            found = await call(
                outcome_choices, guild_id=int(interaction.guild_id), market_id=parse_id(market)
            )
            text = (typed or "").strip().casefold()
            for index, label, probability in found:
                if not text or text in label.casefold():
                    choices[clip(f"{label} ({percent(probability)})", 100)] = picked_value(index)
        except Exception:
            logger.debug("outcome autocomplete found nothing", exc_info=True)
    if with_cancel:
        choices["Cancel the market (unwind all trades)"] = "cancel"
    await _send(interaction, choices)


__all__ = [
    "ANY_STATUS",
    "DECIDED",
    "OPEN_ONLY",
    "UNDECIDED",
    "suggest_categories",
    "suggest_markets",
    "suggest_outcomes",
]
