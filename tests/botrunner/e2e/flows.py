"""What members do, end to end: each step through the emulator, as Discord would carry it."""

from __future__ import annotations

from typing import Any

from botrunner.reads import market_card
from botrunner.text import percent
from markets.models import Market
from tests.discord_emulator import DiscordEmulator, Persona

EPHEMERAL = 1 << 6


def show_market(emulator: DiscordEmulator, persona: Persona, market_id: int) -> dict[str, Any]:
    """``/market show``: the public message the bot posts (and keeps live)."""
    shown = emulator.slash(persona, "market show", market=str(market_id))
    emulator.wait_for(
        lambda: [
            emulator.messages[i]
            for i in shown.followup_ids
            if not int(emulator.messages[i]["flags"]) & EPHEMERAL
        ],
        # The first chart of a fresh process imports and warms matplotlib: slow on a busy CI box.
        timeout=45,
        what=f"the public message of market #{market_id}",
    )
    posted = emulator.message(shown.followup_ids[-1])
    # The bot records the message as the market's live one after Discord answered the post.
    emulator.wait_for(
        lambda: Market.objects.filter(pk=market_id, discord_message_id=int(posted["id"])).exists(),
        what=f"market #{market_id} to record its live message",
    )
    return posted


def quote(
    emulator: DiscordEmulator, persona: Persona, market_id: int, outcome: str, amount: int
) -> dict[str, Any]:
    """``/bet``: the ephemeral quote with its Confirm and Cancel buttons."""
    asked = emulator.slash(persona, "bet", market=str(market_id), outcome=outcome, amount=amount)
    return emulator.wait_for_reply(asked, contains="")


def odds_lines(market: Market) -> list[str]:
    """How the market message writes each answer's probability now (``**52.4%** Yes``)."""
    card = market_card(market.pk)
    return [f"**{percent(o.probability)}** {o.label}" for o in card.outcomes]


def embed_description(body: dict[str, Any]) -> str:
    return "\n".join(e.get("description") or "" for e in body.get("embeds") or [])
