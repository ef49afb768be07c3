"""``/help``: what the bot does, in one ephemeral embed."""

from __future__ import annotations

from typing import Any

import nextcord
from nextcord.ext import commands

from botrunner.embeds import key_value_embed
from botrunner.invocation import Invocation, handler

HELP_ROWS = [
    (
        "/market create · /market cancel",
        "Ask a question with 2 to 10 answers and a closing time (name an arbitrator with "
        "arbitrator: when this server's markets are resolved by one); cancel your own market "
        "while nobody else has traded on it.",
    ),
    (
        "/market describe",
        "Clarify a market's description: its creator until anyone else trades, moderators "
        "until it is decided. Every version is kept and shown (edited); the question and "
        "answers never change.",
    ),
    ("/market list · /market show", "Browse markets; post one with its odds, chart and buttons."),
    ("/bet · /sell", "Buy shares of an answer (you see a quote first) or sell them back."),
    (
        "/portfolio · /balance · /history",
        "Your shares, points and movements (only you see them); /history market: shows your "
        "trades on one market and what became of them (paid, refunded, corrected or still "
        "open) with your profit.",
    ),
    ("/daily · /tip", "Claim daily points; give points to another member."),
    (
        "/leaderboard",
        "Top members by balance, net worth or profit: all time, the last week or month, or "
        "this season (profit on the markets settled in the period). season:<number> shows an "
        "ended season's final standings.",
    ),
    (
        "Periods and seasons",
        "Each Monday and on the 1st (UTC) the announcement channel gets the top traders of "
        "the week or month just ended. A moderator starts a new season with /season start: "
        "the old season's standings are kept, and with reset:True every balance starts again "
        "from the server's starting balance (only when no unsettled market holds shares, "
        "so points parked in shares cannot escape it; frozen members keep theirs; only "
        "another season undoes a reset).",
    ),
    ("/apikey", "Your personal key for the REST API (shown once, only to you)."),
    (
        "/notify on · /notify off",
        "Get a direct message with your own result (what you were paid, got back or gave "
        "back, and your profit on the market) whenever a market you traded is paid out, "
        "refunded or corrected. Off until you turn it on; Discord delivers it only if you "
        "allow DMs from this server's members.",
    ),
    (
        "Moderators",
        "/resolve (vote the winning answer, or cancel), /moderate close, /moderate cancel, "
        "/moderate correct (vote to change a decided market's result, within the server's "
        "correction window), "
        "/points grant|deduct|freeze|unfreeze with a reason, /season start [reset]. "
        "Discord hides these from members until a server manager adds the moderator role to "
        "them (Server Settings → Integrations → this bot).",
    ),
    (
        "Server managers",
        "/config show and /config set for this server's market settings (including "
        "announcements and market threads); /config drip to use "
        "DRIP points, /config local-points to go back.",
    ),
    (
        "Announcements and threads",
        "A server may announce each new market, and each market once a set time before it "
        "closes, in its announcement channel (/config set announce_new_markets, "
        "closing_soon_minutes). With market_threads on, each market gets a thread: its live "
        "message is there, and so are its updates (closing soon, result, correction, refund), "
        "so the talk stays with the market.",
    ),
    (
        "How prices work",
        "An answer's price is the community's probability. Each winning share pays 1 point.",
    ),
    (
        "Cancelled or never resolved",
        "If a market is cancelled (or nobody resolves it within its refund delay after "
        "closing), all trades on it are unwound: members who are down get their loss back, "
        "members who are up give their gain back, as far as their balance holds then.",
    ),
    (
        "Corrections",
        "Moderators may correct a decided market to another answer, or to cancel, within the "
        "server's correction window (7 days unless changed; 0 turns it off), with the same "
        "votes as resolving it. The earlier payouts or refunds are reversed, as far as each "
        "member's balance holds, and the market pays as if the new result had been the first. "
        "The market's card shows its history.",
    ),
    (
        "Who decides",
        "Each market is resolved by the number of agreeing moderator votes shown on its card. "
        "A server may also let a market's creator, or an arbitrator named at creation, resolve "
        "it with /market resolve (two-answer and 3+ answer markets each have their own rule); "
        "if they hold shares in it, a moderator must agree. A correction is decided the same "
        "way (they vote for one with /market resolve on the decided market). One person, one "
        "vote: voting through Discord, the API and the web counts once.",
    ),
]


@handler("help")
async def help_command(inv: Invocation) -> None:
    await inv.reply(embed=key_value_embed("Prediction markets", HELP_ROWS))


class HelpCog(commands.Cog, name="Help"):
    @nextcord.slash_command(name="help", description="How the prediction markets work")
    async def help(self, interaction: nextcord.Interaction) -> None:
        await help_command(interaction)


def setup(bot: Any) -> None:
    bot.add_cog(HelpCog())
