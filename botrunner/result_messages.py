"""The direct message a member who asked for it (``/notify on``) gets with their result.

Built from one ``member.result`` outbox event (``betting.settlement``): one
member, one market, one settlement — a payout, a refund or a correction. The
announcement in the guild lists the top holders; this tells each opted-in
member their own line, however far down the list they are.
"""

from __future__ import annotations

from typing import Any

import nextcord

from botrunner.text import clip, points, safe

RESULT_KIND = "member.result"


def _what_happened(payload: dict[str, Any]) -> str:
    kind = payload.get("kind")
    if kind == "settled":
        return (
            f"was resolved: the winning answer is **{safe(payload.get('winning_outcome'), 200)}**."
        )
    if kind == "auto_refunded":
        return "was not resolved in time, so all trades on it were unwound."
    if kind == "refunded":
        return "was cancelled, so all trades on it were unwound."
    if kind == "correction_settled":
        return (
            f"was corrected from {safe(payload.get('from'), 200)} to "
            f"**{safe(payload.get('to'), 200)}**."
        )
    return "has a new result."


def _what_moved(payload: dict[str, Any]) -> str:
    amount = int(payload.get("amount") or 0)
    kind = payload.get("kind")
    if amount > 0:
        verb = "You were paid" if kind in {"settled", "correction_settled"} else "You got back"
        return f"{verb} **{points(amount)}** points."
    if amount < 0:
        return f"You gave back **{points(-amount)}** points."
    return "Nothing was paid to you." if kind == "settled" else "No points moved for you."


def result_message(payload: dict[str, Any]) -> nextcord.Embed:
    net = int(payload.get("net") or 0)
    guild = safe(payload.get("guild_name"), 100)
    lines = [
        f"The market {_what_happened(payload)}",
        _what_moved(payload),
        f"Your result on this market: **{points(net, sign=True)}** points.",
    ]
    url = str(payload.get("url") or "")
    if url.startswith(("https://", "http://")):
        lines.append(f"See everyone's result: {clip(url, 400)}")
    lines.append(f"-# From {guild or 'your server'}. Stop these with `/notify off` there.")
    return nextcord.Embed(
        title=clip(f"#{payload.get('market_id')} {safe(payload.get('question'), 240)}", 256),
        description=clip("\n".join(lines), 4096),
        colour=nextcord.Colour.green() if net > 0 else nextcord.Colour.light_grey(),
    )
