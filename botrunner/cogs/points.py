"""Member points: ``/balance``, ``/daily``, ``/tip``, ``/leaderboard``, ``/history``, ``/notify``.

``/leaderboard season:<number>`` shows an ended season's archived standings
(``betting.seasons``); moderators start seasons with ``/season start``.

Replies are ephemeral: balances and history are a member's own business.
"""

from __future__ import annotations

from typing import Any

import nextcord
from django.conf import settings
from nextcord.ext import commands

from betting.leaderboards import PERIOD_CHOICES, period_start
from betting.seasons import season_standings
from betting.selectors import MarketOutcomeForMember, member_market_result, worth_leaderboard
from botrunner.autocomplete import ANY_STATUS, suggest_markets
from botrunner.calls import call
from botrunner.components import history_view
from botrunner.context import Actor
from botrunner.invocation import Ack, Invocation, handler
from botrunner.parsing import parse_id
from botrunner.text import absolute_time, clip, points, relative_time, safe, shares
from points.api_tokens import api_token_issue, api_token_revoke
from points.selectors import balance_leaderboard, member_display_balance, member_history
from points.services import (
    member_ensure,
    member_set_notify_results,
    points_daily_claim,
    points_transfer,
)
from predictmarket.errors import ValidationFailed

HISTORY_PAGE = 10
BOARDS = {
    "Balance": "balance",
    "Net worth (balance + open positions)": "net_worth",
    "Profit": "profit",
}
PERIODS = {
    "All time": "all",
    "Last week (markets settled in it)": "week",
    "Last month (markets settled in it)": "month",
    "This season (markets settled since it started)": "season",
}


async def member_of(actor: Actor, user: Any) -> Any:
    """Another Discord user as a member of the actor's guild (created on first use)."""
    if user is None:
        raise ValidationFailed("Pick a member.")
    if getattr(user, "bot", False):
        raise ValidationFailed("Bots do not take part in the markets.")
    return await call(
        member_ensure,
        guild_id=actor.guild_id,
        discord_id=int(user.id),
        display_name=getattr(user, "display_name", "") or "",
    )


@handler("balance")
async def balance_command(inv: Invocation) -> None:
    actor = await inv.actor()
    balance = await call(member_display_balance, actor.member)
    await inv.reply(f"💰 Your balance: **{points(balance)}** points.")


@handler("daily")
async def daily_command(inv: Invocation) -> None:
    actor = await inv.actor()
    claim = await call(points_daily_claim, member=actor.member, idempotency_key=inv.idempotency_key)
    await inv.reply(
        f"🎁 You claimed **{points(claim.amount)}** points. Balance: {points(claim.balance)} "
        f"points. Next claim {relative_time(claim.next_claim_at)}."
    )


@handler("tip")
async def tip_command(
    inv: Invocation, *, member: Any, amount: int, note: str | None = None
) -> None:
    actor = await inv.actor()
    recipient = await member_of(actor, member)
    result = await call(
        points_transfer,
        sender=actor.member,
        recipient=recipient,
        amount=amount,
        idempotency_key=inv.idempotency_key,
        memo=note or "",
    )
    await inv.reply(
        f"💸 You sent **{points(result.amount)}** points to {safe(recipient.display_name, 100)}. "
        f"Your balance: {points(result.sender_balance)} points."
    )


async def season_standings_reply(inv: Invocation, *, number: int) -> None:
    """An ended season's archived standings: the top 10 and the caller's own place."""
    actor = await inv.actor()
    archived = await call(
        season_standings, guild_id=actor.guild_id, number=number, member_id=actor.member.pk
    )
    lines = [
        f"**{row.rank}.** {safe(row.member.display_name, 80) or '—'} — "
        f"{points(row.profit, sign=True)} points"
        for row in archived.rows
    ]
    season = archived.season
    embed = nextcord.Embed(
        title=f"Season {season.number}: final standings by profit",
        description=clip("\n".join(lines) or "Nobody took part.", 4096),
        colour=nextcord.Colour.gold(),
    )
    ended = season.ended_at
    embed.add_field(
        name="Ran",
        value=f"<t:{int(season.started_at.timestamp())}:d> to <t:{int(ended.timestamp())}:d>"
        if ended
        else "—",
    )
    if archived.own:
        embed.set_footer(
            text=f"You: #{archived.own.rank} of {archived.members} with "
            f"{points(archived.own.profit, sign=True)} points"
        )
    await inv.reply(embed=embed)


@handler("leaderboard")
async def leaderboard_command(
    inv: Invocation, *, by: str = "balance", period: str = "all", season: int | None = None
) -> None:
    if season is not None:
        await season_standings_reply(inv, number=season)
        return
    if period not in PERIOD_CHOICES or (period != "all" and by != "profit"):
        raise ValidationFailed(
            "Only the profit board has periods: all, week, month or this season."
        )
    actor = await inv.actor()
    if by == "balance":
        board = await call(balance_leaderboard, actor.guild_id, limit=10, member=actor.member)
        rows = [(r.rank, r.display_name, f"{points(r.balance)} points") for r in board.rows]
        own = board.own and (board.own.rank, f"{points(board.own.balance)} points")
    elif by in {"net_worth", "profit"}:
        ranked, mine = await call(
            worth_leaderboard,
            actor.guild_id,
            by=by,
            limit=10,
            member=actor.member,
            since=await call(period_start, period, guild_id=actor.guild_id),
        )
        value = (lambda r: r.net_worth) if by == "net_worth" else (lambda r: r.profit)
        rows = [(r.rank, r.display_name, f"{points(value(r))} points") for r in ranked]
        own = mine and (mine.rank, f"{points(value(mine))} points")
    else:
        raise ValidationFailed("Rank by balance, net worth or profit.")
    title = {"balance": "Balance", "net_worth": "Net worth", "profit": "Profit"}[by]
    title += {"all": "", "week": ", last week", "month": ", last month", "season": ", this season"}[
        period
    ]
    lines = [f"**{rank}.** {safe(name, 80) or '—'} — {value}" for rank, name, value in rows]
    embed = nextcord.Embed(
        title=f"Leaderboard: {title}",
        description=clip("\n".join(lines) or "Nobody yet.", 4096),
        colour=nextcord.Colour.gold(),
    )
    if own:
        embed.set_footer(text=f"You: #{own[0]} with {own[1]}")
    await inv.reply(embed=embed)


async def _history(inv: Invocation, *, before: int | None, edit: bool) -> None:
    actor = await inv.actor()
    page = await call(member_history, actor.member, limit=HISTORY_PAGE, before=before)
    lines = [
        f"{relative_time(e.transaction.created_at)} · {e.transaction.get_kind_display()} · "
        f"**{points(e.amount, sign=True)}** → {points(e.balance_after)} · "
        f"{safe(e.transaction.memo, 80)}"
        for e in page.entries
    ]
    embed = nextcord.Embed(
        title="Your points history", description=clip("\n".join(lines) or "Nothing yet.", 4096)
    )
    view = history_view(page.next_before)
    if edit:
        await inv.edit(embed=embed, view=view)
    elif view is not None:
        await inv.reply(embed=embed, view=view)
    else:
        await inv.reply(embed=embed)


RESULT_LINES = {
    MarketOutcomeForMember.OPEN: "still open",
    MarketOutcomeForMember.AWAITING: "closed, awaiting a decision",
    MarketOutcomeForMember.PAYING: "decided, being paid out",
    MarketOutcomeForMember.PAID: "paid",
    MarketOutcomeForMember.REFUNDED: "refunded (all trades unwound)",
    MarketOutcomeForMember.CORRECTED: "corrected",
}


async def _market_history(inv: Invocation, market: str) -> None:
    actor = await inv.actor()
    found = await call(member_market_result, actor.member, market_id=parse_id(market))
    title = clip(f"Your trades on #{found.market_id} {safe(found.question, 200)}", 256)
    if not found.trades:
        embed = nextcord.Embed(title=title, description="You have not traded on this market.")
        await inv.reply(embed=embed)
        return
    lines = [
        f"{absolute_time(t.created_at)} · {'Bought' if t.side == 'buy' else 'Sold'} "
        f"**{safe(t.outcome_label, 80)}** · {shares(t.shares)} shares · {points(t.points)} points"
        for t in found.trades
    ]
    if found.trade_count > len(found.trades):
        lines.append(f"…and {found.trade_count - len(found.trades)} earlier trades.")
    result = RESULT_LINES.get(found.result, found.result)
    if found.result == MarketOutcomeForMember.CORRECTED:
        result += f" (now {found.status_label.lower()})"
    if found.winning_outcome:
        result += f": the winning answer is **{safe(found.winning_outcome, 200)}**"
    money = f"Spent {points(found.points_spent)} · received {points(found.points_received)}"
    if found.value:
        money += f" · shares worth {points(found.value)} now"
    profit_word = "Profit so far" if found.result == MarketOutcomeForMember.OPEN else "Profit"
    lines += [
        "",
        f"**Result:** {result}.",
        f"{money} · **{profit_word}: {points(found.profit, sign=True)} points**",
    ]
    await inv.reply(embed=nextcord.Embed(title=title, description=clip("\n".join(lines), 4096)))


@handler("history")
async def history_command(inv: Invocation, *, market: str | None = None) -> None:
    if market:
        await _market_history(inv, market)
        return
    await _history(inv, before=None, edit=False)


@handler("history page", ack=Ack.UPDATE)
async def history_page(inv: Invocation, parts: list[str]) -> None:
    await _history(inv, before=int(parts[0]), edit=True)


NOTIFY_CHOICES = {"on": "on", "off": "off"}


@handler("notify")
async def notify_command(inv: Invocation, *, setting: str) -> None:
    if setting not in NOTIFY_CHOICES:
        raise ValidationFailed("Choose on or off.")
    actor = await inv.actor()
    on = setting == "on"
    changed = await call(member_set_notify_results, member=actor.member, on=on, actor=actor.name)
    if on:
        text = (
            "🔔 You will get a direct message with your result on every market you trade "
            "here when it is paid out, refunded or corrected."
            if changed
            else "🔔 Result messages were already on."
        )
        text += " If your DMs from server members are off, Discord will not deliver them."
    else:
        text = "🔕 Result messages are off." if changed else "🔕 Result messages were already off."
    await inv.reply(text)


@handler("apikey")
async def apikey_command(inv: Invocation, *, revoke: bool = False) -> None:
    actor = await inv.actor()
    if revoke:
        revoked = await call(api_token_revoke, member=actor.member, actor=actor.name)
        await inv.reply("🔒 Your API key is revoked." if revoked else "You had no API key.")
        return
    issued = await call(
        api_token_issue,
        member=actor.member,
        actor=actor.name,
        issued_by_moderator=actor.is_moderator,
    )
    scope = (
        " The moderator endpoints check your Discord roles at each use."
        if actor.is_moderator
        else ""
    )
    await inv.reply(
        f"🔑 Your API key (shown once — keep it secret; any older key stopped working):\n"
        f"`{issued.key}`\nSend it as `Authorization: Bearer <key>`. "
        f"Docs: {settings.PUBLIC_BASE_URL}/api/docs/.{scope}"
    )


class PointsCog(commands.Cog, name="Points"):
    @nextcord.slash_command(name="balance", description="Your points", dm_permission=False)
    async def balance(self, interaction: nextcord.Interaction) -> None:
        await balance_command(interaction)

    @nextcord.slash_command(
        name="daily", description="Claim your daily points", dm_permission=False
    )
    async def daily(self, interaction: nextcord.Interaction) -> None:
        await daily_command(interaction)

    @nextcord.slash_command(name="tip", description="Give points to a member", dm_permission=False)
    async def tip(
        self,
        interaction: nextcord.Interaction,
        member: nextcord.Member = nextcord.SlashOption(  # noqa: B008
            description="Who gets the points"
        ),
        amount: int = nextcord.SlashOption(description="How many points", min_value=1),
        note: str | None = nextcord.SlashOption(
            description="A note for the ledger", required=False, max_length=200
        ),
    ) -> None:
        await tip_command(interaction, member=member, amount=amount, note=note)

    @nextcord.slash_command(name="leaderboard", description="Top members", dm_permission=False)
    async def leaderboard(
        self,
        interaction: nextcord.Interaction,
        by: str = nextcord.SlashOption(
            description="Rank by", choices=BOARDS, default="balance", required=False
        ),
        period: str = nextcord.SlashOption(
            description="Profit over a period", choices=PERIODS, default="all", required=False
        ),
        season: int | None = nextcord.SlashOption(
            description="An ended season's final standings (its number)",
            required=False,
            min_value=1,
        ),
    ) -> None:
        await leaderboard_command(
            interaction, by=by or "balance", period=period or "all", season=season
        )

    @nextcord.slash_command(
        name="apikey", description="Get (or revoke) your personal API key", dm_permission=False
    )
    async def apikey(
        self,
        interaction: nextcord.Interaction,
        revoke: bool = nextcord.SlashOption(
            description="Revoke your key instead of making a new one",
            required=False,
            default=False,
        ),
    ) -> None:
        await apikey_command(interaction, revoke=bool(revoke))

    @nextcord.slash_command(
        name="notify",
        description="Get a DM with your result on every market you trade",
        dm_permission=False,
    )
    async def notify(
        self,
        interaction: nextcord.Interaction,
        setting: str = nextcord.SlashOption(
            description="on: DM me my results; off: stop", choices=NOTIFY_CHOICES
        ),
    ) -> None:
        await notify_command(interaction, setting=setting)

    @nextcord.slash_command(
        name="history", description="Your recent points movements", dm_permission=False
    )
    async def history(
        self,
        interaction: nextcord.Interaction,
        market: str | None = nextcord.SlashOption(
            description="Your trades and result on one market instead",
            required=False,
            autocomplete=True,
        ),
    ) -> None:
        await history_command(interaction, market=market)

    @history.on_autocomplete("market")
    async def _history_market(self, interaction: nextcord.Interaction, market: str) -> None:
        await suggest_markets(interaction, market, ANY_STATUS)


def setup(bot: Any) -> None:
    bot.add_cog(PointsCog())
