"""Embeds: what members read. Pure functions of plain data, within Discord's limits.

Limits (Discord): title 256, description 4,096, at most 25 fields, field name
256, field value 1,024, 6,000 characters in all. Member text goes through
``text.safe`` (escaped, clipped to a budget), and probabilities are written out
as a bar and a percentage so nothing is said by colour alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import nextcord

from botrunner.reads import MarketCard, MarketPage, PositionLine
from botrunner.text import absolute_time, bar, clip, percent, points, relative_time, safe, shares

TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FIELD_VALUE_MAX = 1024
STATUS_COLOURS = {
    "open": nextcord.Colour.green(),
    "closed": nextcord.Colour.gold(),
    "resolved": nextcord.Colour.blurple(),
    "cancelled": nextcord.Colour.light_grey(),
    "refunded": nextcord.Colour.light_grey(),
}


def market_embed(card: MarketCard, *, image_filename: str | None = None) -> nextcord.Embed:
    title = safe(card.question, TITLE_MAX)
    lines: list[str] = []
    if title.endswith("…"):
        # The title was cut: the whole question opens the description.
        lines += [safe(card.question, 1000), ""]
    if card.description:
        edited = " *(edited)*" if card.description_history else ""
        lines += [safe(card.description, 500) + edited, ""]
    for outcome in card.outcomes:
        winner = " ✅ **winner**" if outcome.is_winner else ""
        lines.append(
            f"`{bar(outcome.probability)}` **{percent(outcome.probability)}** "
            f"{safe(outcome.label, 200)}{winner}"
        )
    embed = nextcord.Embed(
        title=title,
        description=clip("\n".join(lines), DESCRIPTION_MAX),
        colour=STATUS_COLOURS.get(card.status, nextcord.Colour.default()),
        # The title links to the market's public page when the server has them.
        url=card.page_url or None,
    )
    embed.add_field(name="Volume", value=f"{points(card.volume)} points")
    embed.add_field(name="Traders", value=str(card.traders))
    closes = relative_time(card.closes_at)
    embed.add_field(
        name="Closes" if card.accepting_bets else "Closed",
        value=f"{closes} ({absolute_time(card.closes_at)})",
    )
    embed.add_field(name="Status", value=card.status_label)
    embed.add_field(name="Category", value=safe(card.category, 120) or "—")
    embed.add_field(name="Created by", value=safe(card.creator_name, 220) or "—")
    if card.result_history:
        embed.add_field(name="History", value=safe(card.result_history, 1000), inline=False)
    embed.add_field(name="Rules", value=market_rules(card), inline=False)
    if card.description_history:
        embed.add_field(
            name="Description history", value=description_history_text(card), inline=False
        )
    if image_filename:
        embed.set_image(url=f"attachment://{image_filename}")
    action = f" · bet with /bet market:{card.market_id}" if card.accepting_bets else ""
    embed.set_footer(text=f"Market #{card.market_id}{action}")
    return embed


UNWIND_NOTE = "If this market is cancelled, all trades on it are unwound."


def description_history_text(card: MarketCard) -> str:
    """The earlier versions, newest first, each clipped so the field fits 1,024 characters."""
    earlier = list(reversed(card.description_history[:-1]))
    latest = card.description_history[-1]
    lines = [f"Edited {relative_time(latest.at)} by {safe(latest.by, 80)}. Earlier:"]
    budget = FIELD_VALUE_MAX - len(lines[0]) - 40
    for version in earlier:
        text = safe(version.text, 200) or "(empty)"
        line = f"v{version.number} ({absolute_time(version.at)}): {text}"
        if len(line) + 1 > budget:
            lines.append(f"…and {version.number} older")
            break
        budget -= len(line) + 1
        lines.append(line)
    return clip("\n".join(lines), FIELD_VALUE_MAX)


def market_rules(card: MarketCard) -> str:
    """The rules the market was created under (a guild's later changes do not apply)."""
    votes = (
        "1 moderator vote"
        if card.votes_needed == 1
        else (f"{card.votes_needed} agreeing moderator votes")
    )
    if card.resolver_name:
        votes = (
            f"its {card.resolver_role} {safe(card.resolver_name, 80)} (with a moderator "
            f"agreeing if they hold shares), or {votes}"
        )
    fee = f" · fee {card.fee_bps / 100:g}%" if card.fee_bps else ""
    return (
        f"Resolved by {votes}; refunded if still undecided "
        f"{card.auto_refund_hours} h after closing{fee}. {UNWIND_NOTE} "
        "Members who are down get it back; members who are up give their gain back."
    )


def quote_embed(
    *,
    question: str,
    outcome_label: str,
    amount: int,
    shares_out: Decimal,
    average_price: Decimal,
    payout_if_wins: int,
    probability_after: Decimal,
    fee: Decimal,
) -> nextcord.Embed:
    embed = nextcord.Embed(
        title="Confirm your bet",
        description=f"**{safe(outcome_label, 220)}** on {safe(question, 600)}",
        colour=nextcord.Colour.blurple(),
    )
    embed.add_field(name="You pay", value=f"{points(amount)} points")
    embed.add_field(name="Shares", value=shares(shares_out))
    embed.add_field(name="Average price", value=f"{average_price.quantize(Decimal('0.0001'))}")
    embed.add_field(name="Payout if it wins", value=f"{points(payout_if_wins)} points")
    embed.add_field(name="Probability after", value=percent(probability_after))
    if fee:
        embed.add_field(name="Fee", value=f"{points(fee.quantize(Decimal('0.01')))} points")
    embed.set_footer(text="The price may move before you confirm; you never get fewer shares.")
    return embed


def sale_quote_embed(
    *,
    question: str,
    outcome_label: str,
    shares_in: Decimal,
    points_out: int,
    average_price: Decimal,
    probability_after: Decimal,
    fee: Decimal,
) -> nextcord.Embed:
    embed = nextcord.Embed(
        title="Confirm your sale",
        description=f"**{safe(outcome_label, 220)}** on {safe(question, 600)}",
        colour=nextcord.Colour.blurple(),
    )
    embed.add_field(name="You sell", value=f"{shares(shares_in)} shares")
    embed.add_field(name="You get", value=f"{points(points_out)} points")
    embed.add_field(name="Average price", value=f"{average_price.quantize(Decimal('0.0001'))}")
    embed.add_field(name="Probability after", value=percent(probability_after))
    if fee:
        embed.add_field(name="Fee", value=f"{points(fee.quantize(Decimal('0.01')))} points")
    embed.set_footer(text="The price may move before you confirm; you never get fewer points.")
    return embed


def market_list_embed(found: MarketPage, *, order: str, filters: str) -> nextcord.Embed:
    """A page of ``/market list``: the count and order first, then one entry per market."""
    lines = [
        f"**#{row.market_id}** {safe(row.question, 150)}\n"
        f"{row.status_label} · {'closes' if row.status == 'open' else 'closed'} "
        f"{relative_time(row.closes_at)} · {points(row.volume)} points traded"
        + (f" · {safe(row.category, 60)}" if row.category else "")
        for row in found.rows
    ]
    if found.rows:
        last = found.first + len(found.rows) - 1
        count = f"Showing {found.first}\N{EN DASH}{last} of {found.total:,} markets · {order}"
    else:
        count = "No market matches."
    embed = nextcord.Embed(
        title="Markets",
        description=clip("\n\n".join([count, *lines]), DESCRIPTION_MAX),
        colour=nextcord.Colour.blurple(),
    )
    embed.set_footer(text=clip(f"Page {found.page + 1} of {found.pages}{filters}", 2048))
    return embed


def position_embed(question: str, lines: Sequence[PositionLine]) -> nextcord.Embed:
    embed = nextcord.Embed(title="Your position", description=safe(question, 1000))
    if not lines:
        embed.add_field(name="Nothing yet", value="You hold no shares in this market.")
    for line in lines[:20]:
        embed.add_field(
            name=clip(safe(line.outcome_label, 200), 256),
            value=(
                f"{shares(line.shares)} shares · worth {points(line.value)} points now\n"
                f"spent {points(line.points_spent)} · received {points(line.points_received)}"
            ),
            inline=False,
        )
    return embed


def key_value_embed(
    title: str, rows: Sequence[tuple[str, str]], *, description: str = ""
) -> nextcord.Embed:
    """A small table (settings, help), at most 25 rows."""
    embed = nextcord.Embed(title=title, description=description or None)
    for name, value in rows[:25]:
        embed.add_field(name=clip(name, 256), value=clip(value, FIELD_VALUE_MAX), inline=False)
    return embed
