"""Moderator commands: ``/resolve``, ``/moderate close|cancel|correct``, ``/points …``.

Moderators are members with the guild's configured moderator role, or with
Discord's Manage Server permission. The check is made here, on every call,
from what Discord says about the member; the services then record who acted.

The commands are registered with ``default_member_permissions`` = Manage
Server, so Discord hides them from members; a server manager lets the
moderator role see them under Server Settings → Integrations (``/config show``
says how). Discord honours that field on top-level commands only, which is why
close and cancel are ``/moderate …`` rather than subcommands of the members'
``/market``. Hiding is a courtesy, not the check: ``require_moderator`` is (and,
for votes, ``markets.resolvers``).

``/market cancel`` stays with the members' commands for a market's creator:
the service decides (it allows the creator while nobody else has traded).
So does ``/market resolve``: a market whose server lets its creator or a named
arbitrator resolve it (``markets.resolvers``) is resolved by them with it, as
they may not see ``/resolve``; the service decides who may vote.
"""

from __future__ import annotations

from typing import Any

import nextcord
from nextcord.ext import commands

from botrunner.autocomplete import DECIDED, UNDECIDED, suggest_markets, suggest_outcomes
from botrunner.calls import call
from botrunner.cogs.points import member_of
from botrunner.context import require_moderator
from botrunner.invocation import Invocation, handler
from botrunner.parsing import parse_id
from botrunner.reads import outcome_index
from botrunner.text import points, safe
from markets.services import VoteResult, market_cancel, market_close, resolution_vote
from markets.voters import discord_voter
from points.services import member_set_frozen, points_deduct, points_grant


@handler("resolve")
async def resolve_command(inv: Invocation, *, market: str, outcome: str) -> None:
    await _vote(inv, market=market, outcome=outcome, correct=False)


@handler("moderate correct")
async def market_correct_command(inv: Invocation, *, market: str, outcome: str) -> None:
    """A vote to correct a decided market to another answer, or to cancel (same rule)."""
    await _vote(inv, market=market, outcome=outcome, correct=True)


async def _vote(inv: Invocation, *, market: str, outcome: str, correct: bool | None) -> None:
    actor = await inv.actor()
    market_id = parse_id(market)
    cancel = outcome.strip().lower() == "cancel"
    index = None
    if not cancel:
        index = await call(
            outcome_index, guild_id=actor.guild_id, market_id=market_id, typed=outcome
        )
    vote = await call(
        resolution_vote,
        market_id=market_id,
        voter=discord_voter(actor.member.discord_id),  # the person, as in the API and admin
        actor=actor.name,
        outcome_index=index,
        cancel=cancel,
        guild_id=actor.guild_id,
        # Not a moderator: the service lets them vote only as the market's resolver.
        is_moderator=actor.is_moderator,
        correct=correct,
    )
    choice = "cancel (unwind)" if cancel else f"**{safe(vote.choice, 200)}**"
    if vote.correction:
        text = _correction_reply(vote, market_id=market_id, choice=choice)
    elif vote.waiting_for_moderator:
        text = (
            f"🗳️ Your vote for {choice} on market #{market_id} is counted, but you hold shares "
            "in this market: a moderator must agree before it is decided."
        )
    elif vote.decided:
        result = "all trades on it are being unwound" if cancel else "payouts are on their way"
        text = f"✅ Your vote for {choice} decided market #{market_id}: {result}."
    else:
        remaining = vote.votes_needed - vote.votes_for_choice
        text = (
            f"🗳️ Your vote for {choice} on market #{market_id} is counted: "
            f"{vote.votes_for_choice} of {vote.votes_needed} votes. "
            f"{remaining} more moderator vote{'s' if remaining != 1 else ''} needed."
        )
    await inv.reply(text)


@handler("market resolve")
async def own_market_resolve_command(inv: Invocation, *, market: str, outcome: str) -> None:
    """A member's ``/market resolve``: as the market's creator or arbitrator (or a moderator).

    They may not see ``/moderate correct``, so on a market already decided this
    is their vote to correct it (the service tells which, under the market's lock).
    """
    await _vote(inv, market=market, outcome=outcome, correct=None)


def _correction_reply(vote: VoteResult, *, market_id: int, choice: str) -> str:
    if vote.decided:
        return (
            f"✅ Your vote corrected market #{market_id} to {choice}: the earlier result is "
            "being reversed and the new one paid, and the server is told."
        )
    if vote.waiting_for_moderator:
        return (
            f"🗳️ Your vote to correct market #{market_id} to {choice} is counted, but you hold "
            "shares in this market: a moderator must agree before it is corrected."
        )
    remaining = vote.votes_needed - vote.votes_for_choice
    return (
        f"🗳️ Your vote to correct market #{market_id} to {choice} is counted: "
        f"{vote.votes_for_choice} of {vote.votes_needed} votes. "
        f"{remaining} more moderator vote{'s' if remaining != 1 else ''} needed."
    )


# Discord shows these commands only to members with Manage Server, until a
# server manager adds the moderator role to them (per-command permissions).
MODERATORS_ONLY = nextcord.Permissions(manage_guild=True)


@handler("moderate close")
async def market_close_command(inv: Invocation, *, market: str) -> None:
    actor = await inv.actor()
    require_moderator(actor)
    closed = await call(
        market_close, market_id=parse_id(market), actor=actor.name, guild_id=actor.guild_id
    )
    await inv.reply(f"🔒 Market #{closed.pk} is closed: no more bets. Resolve it with /resolve.")


async def _cancel(inv: Invocation, *, market: str, moderators_only: bool) -> None:
    actor = await inv.actor()
    if moderators_only:
        require_moderator(actor)
    cancelled = await call(
        market_cancel,
        market_id=parse_id(market),
        actor=actor.name,
        is_moderator=actor.is_moderator,
        member=actor.member,
        guild_id=actor.guild_id,
    )
    await inv.reply(f"🚫 Market #{cancelled.pk} is cancelled: all trades on it are being unwound.")


@handler("moderate cancel")
async def market_cancel_command(inv: Invocation, *, market: str) -> None:
    await _cancel(inv, market=market, moderators_only=True)


@handler("market cancel")
async def own_market_cancel_command(inv: Invocation, *, market: str) -> None:
    """A member's ``/market cancel``: their own market while nobody else traded (or a moderator)."""
    await _cancel(inv, market=market, moderators_only=False)


async def _adjust(inv: Invocation, *, member: Any, amount: int, reason: str, grant: bool) -> None:
    actor = await inv.actor()
    require_moderator(actor)
    target = await member_of(actor, member)
    service = points_grant if grant else points_deduct
    await call(
        service,
        member=target,
        amount=amount,
        reason=reason,
        actor=actor.name,
        idempotency_key=inv.idempotency_key,
    )
    verb = "Granted" if grant else "Deducted"
    direction = "to" if grant else "from"
    await inv.reply(
        f"✅ {verb} {points(amount)} points {direction} {safe(target.display_name, 100)}. "
        f"Reason: {safe(reason, 300)}"
    )


@handler("points grant")
async def points_grant_command(inv: Invocation, *, member: Any, amount: int, reason: str) -> None:
    await _adjust(inv, member=member, amount=amount, reason=reason, grant=True)


@handler("points deduct")
async def points_deduct_command(inv: Invocation, *, member: Any, amount: int, reason: str) -> None:
    await _adjust(inv, member=member, amount=amount, reason=reason, grant=False)


async def _freeze(inv: Invocation, *, member: Any, reason: str, frozen: bool) -> None:
    actor = await inv.actor()
    require_moderator(actor)
    target = await member_of(actor, member)
    await call(member_set_frozen, member=target, frozen=frozen, reason=reason, actor=actor.name)
    state = "frozen: no betting, tips or daily claims" if frozen else "unfrozen"
    await inv.reply(f"✅ {safe(target.display_name, 100)} is {state}. Reason: {safe(reason, 300)}")


@handler("points freeze")
async def points_freeze_command(inv: Invocation, *, member: Any, reason: str) -> None:
    await _freeze(inv, member=member, reason=reason, frozen=True)


@handler("points unfreeze")
async def points_unfreeze_command(inv: Invocation, *, member: Any, reason: str) -> None:
    await _freeze(inv, member=member, reason=reason, frozen=False)


def _member_option() -> Any:
    return nextcord.SlashOption(description="The member")


def _reason_option() -> Any:
    return nextcord.SlashOption(description="Why (kept in the audit log)", max_length=500)


class ModerationCog(commands.Cog, name="Moderation"):
    @nextcord.slash_command(
        name="resolve",
        description="Moderators: vote for the winning answer, or cancel",
        dm_permission=False,
        default_member_permissions=MODERATORS_ONLY,
    )
    async def resolve(
        self,
        interaction: nextcord.Interaction,
        market: str = nextcord.SlashOption(description="The market", autocomplete=True),
        outcome: str = nextcord.SlashOption(
            description="The winning answer, or cancel", autocomplete=True
        ),
    ) -> None:
        await resolve_command(interaction, market=market, outcome=outcome)

    @resolve.on_autocomplete("market")
    async def _resolve_market(self, interaction: nextcord.Interaction, market: str) -> None:
        await suggest_markets(interaction, market, UNDECIDED)

    @resolve.on_autocomplete("outcome")
    async def _resolve_outcome(
        self, interaction: nextcord.Interaction, outcome: str, market: str | None = None
    ) -> None:
        await suggest_outcomes(interaction, outcome, market, with_cancel=True)

    @nextcord.slash_command(
        name="moderate",
        description="Moderators: close a market early, cancel it, or correct its result",
        dm_permission=False,
        default_member_permissions=MODERATORS_ONLY,
    )
    async def moderate(self, interaction: nextcord.Interaction) -> None:
        """Group: the subcommands below do the work."""

    @moderate.subcommand(name="close", description="Stop betting on a market now")
    async def close(
        self,
        interaction: nextcord.Interaction,
        market: str = nextcord.SlashOption(description="The market", autocomplete=True),
    ) -> None:
        await market_close_command(interaction, market=market)

    @close.on_autocomplete("market")
    async def _close_market(self, interaction: nextcord.Interaction, market: str) -> None:
        await suggest_markets(interaction, market, ("open",))

    @moderate.subcommand(name="cancel", description="Cancel a market and unwind all its trades")
    async def cancel(
        self,
        interaction: nextcord.Interaction,
        market: str = nextcord.SlashOption(description="The market", autocomplete=True),
    ) -> None:
        await market_cancel_command(interaction, market=market)

    @cancel.on_autocomplete("market")
    async def _cancel_market(self, interaction: nextcord.Interaction, market: str) -> None:
        await suggest_markets(interaction, market, UNDECIDED)

    @moderate.subcommand(
        name="correct", description="Vote to change a decided market's result (within its window)"
    )
    async def correct(
        self,
        interaction: nextcord.Interaction,
        market: str = nextcord.SlashOption(description="The decided market", autocomplete=True),
        outcome: str = nextcord.SlashOption(
            description="The right answer, or cancel", autocomplete=True
        ),
    ) -> None:
        await market_correct_command(interaction, market=market, outcome=outcome)

    @correct.on_autocomplete("market")
    async def _correct_market(self, interaction: nextcord.Interaction, market: str) -> None:
        await suggest_markets(interaction, market, DECIDED)

    @correct.on_autocomplete("outcome")
    async def _correct_outcome(
        self, interaction: nextcord.Interaction, outcome: str, market: str | None = None
    ) -> None:
        await suggest_outcomes(interaction, outcome, market, with_cancel=True)

    @nextcord.slash_command(
        name="points",
        description="Moderators: adjust or freeze points",
        dm_permission=False,
        default_member_permissions=MODERATORS_ONLY,
    )
    async def points(self, interaction: nextcord.Interaction) -> None:
        """Group: the subcommands below do the work."""

    @points.subcommand(name="grant", description="Give a member points from the house")
    async def grant(
        self,
        interaction: nextcord.Interaction,
        member: nextcord.Member = _member_option(),  # noqa: B008
        amount: int = nextcord.SlashOption(description="Points", min_value=1),
        reason: str = _reason_option(),
    ) -> None:
        await points_grant_command(interaction, member=member, amount=amount, reason=reason)

    @points.subcommand(name="deduct", description="Take points back to the house")
    async def deduct(
        self,
        interaction: nextcord.Interaction,
        member: nextcord.Member = _member_option(),  # noqa: B008
        amount: int = nextcord.SlashOption(description="Points", min_value=1),
        reason: str = _reason_option(),
    ) -> None:
        await points_deduct_command(interaction, member=member, amount=amount, reason=reason)

    @points.subcommand(name="freeze", description="Stop a member betting, tipping and claiming")
    async def freeze(
        self,
        interaction: nextcord.Interaction,
        member: nextcord.Member = _member_option(),  # noqa: B008
        reason: str = _reason_option(),
    ) -> None:
        await points_freeze_command(interaction, member=member, reason=reason)

    @points.subcommand(name="unfreeze", description="Let a frozen member trade again")
    async def unfreeze(
        self,
        interaction: nextcord.Interaction,
        member: nextcord.Member = _member_option(),  # noqa: B008
        reason: str = _reason_option(),
    ) -> None:
        await points_unfreeze_command(interaction, member=member, reason=reason)


def setup(bot: Any) -> None:
    bot.add_cog(ModerationCog())
