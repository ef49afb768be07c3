"""Making member-written text safe to show: no pings, no broken layout, within limits."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import nextcord
from nextcord.utils import escape_markdown, escape_mentions

NO_MENTIONS = nextcord.AllowedMentions.none()
BAR_WIDTH = 10


def clip(text: str, limit: int) -> str:
    """At most ``limit`` characters, with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def safe(text: str | None, limit: int | None = None) -> str:
    """Member text for an embed or message: markdown and mentions neutralised.

    ``limit`` applies to the escaped result (what Discord counts); a cut never
    leaves a lone backslash that would escape the ellipsis.
    """
    escaped = escape_mentions(escape_markdown((text or "").replace("\n", " ").strip()))
    if limit is None or len(escaped) <= limit:
        return escaped
    return escaped[: limit - 1].rstrip().rstrip("\\") + "…"


def percent(probability: Decimal | float) -> str:
    return f"{float(probability) * 100:.1f}%"


def bar(probability: Decimal | float, width: int = BAR_WIDTH) -> str:
    """``█████░░░░░``: the probability in characters, readable without colour."""
    filled = max(0, min(width, round(float(probability) * width)))
    return "█" * filled + "░" * (width - filled)


def relative_time(moment: datetime) -> str:
    """A Discord timestamp each reader sees in their own time zone: ``<t:…:R>``."""
    return f"<t:{int(moment.timestamp())}:R>"


def absolute_time(moment: datetime) -> str:
    return f"<t:{int(moment.timestamp())}:f>"


def shares(value: Decimal) -> str:
    """Shares with at most two decimals, as members read them."""
    return f"{value.quantize(Decimal('0.01')):,}"


def points(value: int | Decimal) -> str:
    return f"{value:,}"
