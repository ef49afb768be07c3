"""Seasons: ``/season start`` (moderators) and an ended season's standings.

``/season`` is registered hidden from members like every moderator command
(``default_member_permissions`` = Manage Server); ``require_moderator`` is the
check, and the service checks again. Members read the current season with
``/leaderboard by:Profit period:This season`` and an ended one with
``/leaderboard season:<number>`` (``botrunner.cogs.points``).
"""

from __future__ import annotations

from typing import Any

import nextcord
from nextcord.ext import commands

from betting.seasons import season_start
from botrunner.calls import call
from botrunner.cogs.moderation import MODERATORS_ONLY
from botrunner.context import require_moderator
from botrunner.invocation import Invocation, handler
from botrunner.text import points


@handler("season start")
async def season_start_command(inv: Invocation, *, reset: bool = False) -> None:
    actor = await inv.actor()
    require_moderator(actor)
    started = await call(
        season_start,
        guild_id=actor.guild_id,
        actor=actor.name,
        is_moderator=actor.is_moderator,
        reset=reset,
        idempotency_key=inv.idempotency_key,
    )
    number = started.season.number
    parts = [f"🏁 Season {number} has started."]
    if started.ended is not None:
        parts.append(
            f"Season {started.ended.number}'s standings are archived "
            f"(`/leaderboard season:{started.ended.number}`)."
        )
    if reset:
        parts.append(
            f"{points(started.members_reset)} member balance"
            f"{'s' if started.members_reset != 1 else ''} reset to the starting balance."
        )
    await inv.reply(" ".join(parts))


class SeasonsCog(commands.Cog, name="Seasons"):
    @nextcord.slash_command(
        name="season",
        description="Moderators: start a new season of the leaderboards",
        dm_permission=False,
        default_member_permissions=MODERATORS_ONLY,
    )
    async def season(self, interaction: nextcord.Interaction) -> None:
        """Group: the subcommands below do the work."""

    @season.subcommand(
        name="start", description="End this season (its standings are kept) and start the next"
    )
    async def start(
        self,
        interaction: nextcord.Interaction,
        reset: bool = nextcord.SlashOption(
            description="Also reset every member's balance to the starting balance",
            required=False,
            default=False,
        ),
    ) -> None:
        await season_start_command(interaction, reset=bool(reset))


def setup(bot: Any) -> None:
    bot.add_cog(SeasonsCog())
