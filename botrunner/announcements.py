"""What the bot posts in a guild's announcement channel for market events.

Built from the outbox event's payload (see ``markets.services.market_event_payload``
and ``betting.settlement``). Member text is escaped; the only mention the bot
ever makes is the moderator role on a reminder, and only when one is configured.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import nextcord

from botrunner.text import NO_MENTIONS, absolute_time, clip, points, relative_time, safe

ANNOUNCED_KINDS = frozenset(
    {
        "market.created",
        "market.closing_soon",
        "market.resolved",
        "market.settled",
        "market.cancelled",
        "market.refunded",
        "market.auto_refunded",
        "market.corrected",
        "market.correction_settled",
        "market.reminder",
        "leaderboard.period_ended",
        "season.started",
    }
)
# A market's own updates, posted in its thread too (when it has one). A new
# market's announcement is for the server (its thread starts with the market),
# and a reminder pings moderators where they are, in the announcement channel.
THREAD_KINDS = ANNOUNCED_KINDS - {"market.created", "market.reminder"}


@dataclass
class Announcement:
    content: str | None
    embed: nextcord.Embed
    allowed_mentions: nextcord.AllowedMentions


def _title(payload: dict[str, Any]) -> str:
    return clip(f"#{payload.get('market_id')} {safe(payload.get('question'), 240)}", 256)


def _unwind_lines(
    payload: dict[str, Any], *, paid: str = "got back", given: str = "gave back"
) -> str:
    """Each member's line of an unwound (or corrected) market: what they got or gave back."""
    lines = []
    for row in (payload.get("top") or [])[:10]:
        amount = int(row.get("amount", 0))
        name = safe(row.get("display_name") or "a member", 80)
        if amount >= 0:
            lines.append(f"{name} — {paid} {points(amount)} points")
        else:
            lines.append(f"{name} — {given} {points(-amount)} points")
    return "\n".join(lines)


def _top_lines(payload: dict[str, Any]) -> str:
    rows = payload.get("top") or []
    lines = [
        f"{n}. {safe(row.get('display_name') or 'a member', 80)} — "
        f"{points(int(row.get('amount', 0)))} points"
        for n, row in enumerate(rows[:10], start=1)
    ]
    return "\n".join(lines)


def _more_and_link(payload: dict[str, Any]) -> str:
    """``…and 4 more.`` when more members held than are listed, then the market page's link."""
    shown = min(len(payload.get("top") or []), 10)
    more = int(payload.get("holders") or 0) - shown
    parts = []
    if shown and more > 0:
        parts.append(f"…and {more} more.")
    url = str(payload.get("url") or "")
    if url.startswith(("https://", "http://")):
        parts.append(f"See everyone's result: {clip(url, 400)}")
    return ("\n" + "\n".join(parts)) if parts else ""


def _answers(payload: dict[str, Any]) -> str:
    return " · ".join(safe(o, 100) for o in (payload.get("options") or [])[:10]) or "—"


def _closes_line(payload: dict[str, Any], lead: str) -> str:
    """`` Betting closes <t:…:R> (<t:…:f>).`` from ``closes_at``; empty without one."""
    closes = payload.get("closes_at")
    if not closes:
        return ""
    moment = datetime.fromisoformat(closes)
    return f" {lead} {relative_time(moment)} ({absolute_time(moment)})."


def decided_by_line(payload: dict[str, Any]) -> str:
    """``Resolved by alice (arbitrator) with mod one (moderator).`` from the decision's payload."""
    people = [
        f"{safe(p.get('name') or 'a member', 80)} ({safe(p.get('role') or 'moderator', 20)})"
        for p in (payload.get("decided_by") or [])[:10]
        if isinstance(p, dict)
    ]
    if not people:
        return ""
    verb = "Resolved" if payload.get("winning_outcome") else "Cancelled"
    if len(people) == 1:
        return f"{verb} by {people[0]}."
    return f"{verb} by {people[0]} with {', '.join(people[1:])}."


def _correction_deciders(payload: dict[str, Any]) -> list[str]:
    """Who corrected it: names, with each one's role once a creator or arbitrator is among them."""
    people = [p for p in (payload.get("decided_by") or [])[:10] if isinstance(p, dict)]
    if any(p.get("role") not in (None, "moderator") for p in people):
        return [
            f"{safe(p.get('name') or 'a member', 80)} ({safe(p.get('role') or 'moderator', 20)})"
            for p in people
        ]
    return [safe(name, 80) for name in (payload.get("voter_names") or [])[:25]]


def _standings_lines(payload: dict[str, Any]) -> str:
    """``**1.** alice — +120 points`` for each of a board's top rows (at most 10)."""
    return "\n".join(
        f"**{int(row.get('rank') or 0)}.** {safe(row.get('display_name') or 'a member', 80)} — "
        f"{points(int(row.get('profit') or 0), sign=True)} points"
        for row in (payload.get("top") or [])[:10]
        if isinstance(row, dict)
    )


def _period_name(payload: dict[str, Any]) -> str:
    starts = datetime.fromisoformat(str(payload.get("starts_at")))
    if payload.get("period") == "month":
        return f"{starts:%B %Y}"
    year, week, _ = starts.isocalendar()
    return f"week {week} of {year} (from {starts:%d %b})"


def _season_announcement(payload: dict[str, Any]) -> nextcord.Embed:
    number = int(payload.get("number") or 0)
    parts = []
    if payload.get("ended"):
        parts.append(f"Season {int(payload['ended'])} is over. Final standings by profit:")
        parts.append(_standings_lines(payload) or "Nobody won or lost anything.")
        parts.append("")
    if payload.get("reset"):
        parts.append(
            f"Every balance starts again from {points(int(payload.get('starting_balance') or 0))} "
            "points."
        )
    parts.append(
        "See the standings with `/leaderboard by:Profit period:This season`"
        + (
            f", or `/leaderboard season:{int(payload['ended'])}` for the last one."
            if payload.get("ended")
            else "."
        )
    )
    return nextcord.Embed(
        title=f"Season {number} has started",
        description=clip("\n".join(parts), 4096),
        colour=nextcord.Colour.gold(),
    )


def build_announcement(
    kind: str, payload: dict[str, Any], *, moderator_role_id: int | None = None
) -> Announcement | None:
    if kind == "leaderboard.period_ended":
        which = "week" if payload.get("period") == "week" else "month"
        embed = nextcord.Embed(
            title=f"Top traders of {_period_name(payload)}"[:256],
            description=clip(
                f"Profit on the markets settled this {which}:\n" + _standings_lines(payload), 4096
            ),
            colour=nextcord.Colour.gold(),
        )
        return Announcement(content=None, embed=embed, allowed_mentions=NO_MENTIONS)
    if kind == "season.started":
        embed = _season_announcement(payload)
        return Announcement(content=None, embed=embed, allowed_mentions=NO_MENTIONS)
    title = _title(payload)
    winner = safe(payload.get("winning_outcome") or "", 200)
    paid = points(int(payload.get("paid_total") or 0))
    members = int(payload.get("members_paid") or 0)
    if kind == "market.created":
        if not payload.get("announce"):
            return None  # the guild did not ask for new markets to be announced
        embed = nextcord.Embed(
            title=f"New market: {title}"[:256],
            description=clip(
                f"Answers: {_answers(payload)}.{_closes_line(payload, 'Betting closes')} "
                f"Trade with `/bet market:{payload.get('market_id')}` or see it with "
                f"`/market show market:{payload.get('market_id')}`.",
                4096,
            ),
            colour=nextcord.Colour.teal(),
        )
    elif kind == "market.closing_soon":
        embed = nextcord.Embed(
            title=f"Closing soon: {title}"[:256],
            description=(
                f"{_closes_line(payload, 'Betting closes').strip()} Last chance to trade: "
                f"`/bet market:{payload.get('market_id')}`."
            ),
            colour=nextcord.Colour.gold(),
        )
    elif kind == "market.resolved":
        embed = nextcord.Embed(
            title=f"Resolved: {title}"[:256],
            description=" ".join(
                part
                for part in (
                    f"The winning answer is **{winner}**. Payouts are on their way.",
                    decided_by_line(payload),
                )
                if part
            ),
            colour=nextcord.Colour.blurple(),
        )
    elif kind == "market.settled":
        description = f"Winning answer: **{winner}**. {paid} points paid to {members} members."
        if payload.get("top"):
            description += "\n\n**Top payouts**\n" + _top_lines(payload)
            description += _more_and_link(payload)
        embed = nextcord.Embed(
            title=f"Paid out: {title}"[:256],
            description=clip(description, 4096),
            colour=nextcord.Colour.green(),
        )
    elif kind == "market.cancelled":
        embed = nextcord.Embed(
            title=f"Cancelled: {title}"[:256],
            description=(
                "The market was cancelled, so all trades on it are unwound: members who are "
                "down get it back, members who are up give their gain back. "
                + decided_by_line(payload)
            ).strip(),
            colour=nextcord.Colour.light_grey(),
        )
    elif kind in {"market.refunded", "market.auto_refunded"}:
        why = (
            "Nobody resolved it in time after it closed, so all trades on it were unwound."
            if kind == "market.auto_refunded"
            else "The cancelled market is unwound: all trades on it are reversed."
        )
        description = f"{why} {paid} points went back to {members} members"
        taken_back = int(payload.get("taken_back_total") or 0)
        if taken_back:
            description += f"; {points(taken_back)} points of gains were given back"
        description += "."
        if payload.get("refunds_cut"):
            description += (
                " Some gains had already been spent, so refunds were cut in proportion "
                "(the house gave up its whole liquidity first)."
            )
        if payload.get("top"):
            description += "\n\n" + _unwind_lines(payload)
            description += _more_and_link(payload)
        embed = nextcord.Embed(
            title=f"Refunded: {title}"[:256],
            description=clip(description, 4096),
            colour=nextcord.Colour.light_grey(),
        )
    elif kind == "market.corrected":
        deciders = _correction_deciders(payload)
        by = f" by {' and '.join(deciders)}" if deciders else ""
        embed = nextcord.Embed(
            title=f"Corrected: {title}"[:256],
            description=clip(
                f"This market was {safe(payload.get('from'), 200)}; it is corrected to "
                f"**{safe(payload.get('to'), 200)}**{by}. The earlier payouts or refunds are "
                "being reversed and the market pays as if this had been its result.",
                4096,
            ),
            colour=nextcord.Colour.orange(),
        )
    elif kind == "market.correction_settled":
        description = (
            f"Corrected from {safe(payload.get('from'), 200)} to "
            f"**{safe(payload.get('to'), 200)}**: {paid} points paid to {members} members"
        )
        taken_back = int(payload.get("taken_back_total") or 0)
        if taken_back:
            description += f"; {points(taken_back)} points given back"
        description += "."
        if payload.get("not_taken_back"):
            description += (
                f" {points(int(payload['not_taken_back']))} points had already been spent and "
                "could not be taken back"
                + (
                    "; the house gave up its share first, then payments were cut in proportion."
                    if payload.get("payments_cut")
                    else "; the house absorbed them."
                )
            )
        if payload.get("top"):
            description += "\n\n" + _unwind_lines(payload, paid="got", given="gave back")
            description += _more_and_link(payload)
        embed = nextcord.Embed(
            title=f"Correction paid: {title}"[:256],
            description=clip(description, 4096),
            colour=nextcord.Colour.orange(),
        )
    elif kind == "market.reminder":
        closes = payload.get("closes_at")
        when = relative_time(datetime.fromisoformat(closes)) if closes else "a while ago"
        needed = payload.get("votes_needed") or 1
        embed = nextcord.Embed(
            title=f"Waiting for a resolution: {title}"[:256],
            description=(
                f"This market closed {when} and still needs {needed} moderator "
                f"vote{'s' if needed != 1 else ''}. Vote with `/resolve market:"
                f"{payload.get('market_id')}`."
            ),
            colour=nextcord.Colour.gold(),
        )
        if moderator_role_id:
            # The one mention the bot makes: the configured moderator role.
            return Announcement(
                content=f"<@&{moderator_role_id}>",
                embed=embed,
                allowed_mentions=nextcord.AllowedMentions(
                    everyone=False,
                    users=False,
                    roles=[nextcord.Object(id=moderator_role_id)],
                    replied_user=False,
                ),
            )
    else:
        return None
    return Announcement(content=None, embed=embed, allowed_mentions=NO_MENTIONS)
