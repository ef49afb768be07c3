"""Autocomplete for market and answer options: fast reads, no rate limit, never an error.

Discord sends one autocomplete interaction per keystroke and shows nothing if
it fails, so every failure here is logged and answered with an empty list.
"""

from __future__ import annotations

import logging
from typing import Any

from botrunner.calls import call
from botrunner.parsing import parse_id
from botrunner.reads import UNDECIDED, market_choices, outcome_choices, picked_value
from botrunner.text import clip, percent

logger = logging.getLogger(__name__)
MAX_CHOICES = 25
OPEN_ONLY: tuple[str, ...] = ("open",)
ANY_STATUS: tuple[str, ...] | None = None


async def _send(interaction: Any, choices: dict[str, str]) -> None:
    try:
        await interaction.response.send_autocomplete(dict(list(choices.items())[:MAX_CHOICES]))
    except Exception:
        logger.warning("autocomplete reply failed", exc_info=True)


async def suggest_markets(
    interaction: Any, typed: str | None, statuses: tuple[str, ...] | None
) -> None:
    choices: dict[str, str] = {}
    if interaction.guild_id:
        try:
            found = await call(
                market_choices,
                guild_id=int(interaction.guild_id),
                typed=typed or "",
                statuses=statuses,
            )
            choices = {clip(f"#{pk} {question}", 100): str(pk) for pk, question in found}
        except Exception:
            logger.exception("market autocomplete failed")
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


__all__ = ["ANY_STATUS", "OPEN_ONLY", "UNDECIDED", "suggest_markets", "suggest_outcomes"]
