"""Making member-written text safe to show: no pings, no broken layout, within limits."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal

import nextcord
from nextcord.utils import escape_markdown, escape_mentions

NO_MENTIONS = nextcord.AllowedMentions.none()
BAR_WIDTH = 10


def clip(text: str, limit: int) -> str:
    """At most ``limit`` characters, with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# What makes a line a block in Discord's markdown: a heading (``#``..``###``),
# subtext (``-#``), a quote (``>``, ``>>>``; nextcord's escape_markdown already
# takes these), a bulleted list (``-``, ``*``, ``+``) or a numbered one (``1.``),
# each followed by a space. Discord shows the characters as typed when the
# marker is escaped: a backslash before it, or before the dot of ``1.``.
_BLOCK_MARKER = re.compile(r"^([ \t]*)(#{1,3}|-#|[-+]|\*)(?=[ \t])", re.MULTILINE)
_NUMBERED_ITEM = re.compile(r"^([ \t]*\d+)\.(?=[ \t])", re.MULTILINE)
_LINE_BREAK = re.compile(r"\r\n|[\r\n\u2028\u2029]")


def escape_line_starts(text: str) -> str:
    """Escape a heading, subtext or list marker at the start of any line of ``text``.

    Run after ``escape_markdown`` (which leaves these alone but escapes ``*``
    and quotes): an already escaped ``\\*`` is not escaped twice.
    """
    text = _BLOCK_MARKER.sub(r"\1\\\2", text)
    return _NUMBERED_ITEM.sub(r"\1\\.", text)


def safe(text: str | None, limit: int | None = None) -> str:
    """Member text for an embed or message: markdown, mentions and line-start markers neutralised.

    The text becomes one line, and wherever it lands (the start of a line of a
    description or a field included) it cannot become a heading, quote or list.
    ``limit`` applies to the escaped result (what Discord counts); a cut never
    leaves a lone backslash that would escape the ellipsis.
    """
    one_line = _LINE_BREAK.sub(" ", text or "").strip()
    escaped = escape_line_starts(escape_mentions(escape_markdown(one_line)))
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


def points(value: int | Decimal, *, sign: bool = False) -> str:
    """An amount as members read it: thousands grouped (``1,234,567``), decimals kept.

    The one formatter for every amount the bot writes, points and shares alike;
    ``sign`` writes ``+`` before a gain (profits, ledger movements).
    """
    return f"{value:+,}" if sign else f"{value:,}"


def shares(value: Decimal) -> str:
    """Shares with two decimals, thousands grouped: ``12,345.67``."""
    return points(value.quantize(Decimal("0.01")))
