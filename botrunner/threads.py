"""A market's Discord thread: where its live message and its updates are posted.

When a guild turns ``market_threads`` on, posting a market (``/market create``,
``/market show``) leaves a short public line in the channel, starts a thread
from it (``POST /channels/{channel}/messages/{message}/threads``: the thread
hangs under that line, and Discord gives it the line's id) and posts the live
market message inside the thread. The thread is recorded on the market once
(``market_set_discord_thread``), so posting the market again, or a retried
interaction, uses the same thread and never starts a second one. The outbox
consumer then edits the live message there and posts the market's updates
(closing soon, result, correction, refund) in the thread as well as in the
announcement channel.

Where no thread can hold it (the command ran inside a thread, the bot may not
create threads, the thread was deleted) the market is posted in the channel as
without threads, and the reason is logged.
"""

from __future__ import annotations

import logging
from typing import Any

import nextcord

from botrunner.calls import call
from botrunner.cards import MarketMessage
from botrunner.invocation import Invocation
from botrunner.reads import MarketCard
from botrunner.text import NO_MENTIONS, clip, safe
from markets.services import market_set_discord_thread

logger = logging.getLogger(__name__)

THREAD_TYPES = frozenset(
    {
        nextcord.ChannelType.public_thread,
        nextcord.ChannelType.private_thread,
        nextcord.ChannelType.news_thread,
    }
)
# The longest inactivity Discord allows before it archives a thread (a week): a
# market often stays quiet for days between its creation and its result.
AUTO_ARCHIVE_MINUTES = 10080


def thread_name(card: MarketCard) -> str:
    """``#12 Will it rain?``: Discord's thread names are plain text of 1 to 100 characters."""
    question = " ".join(card.question.split())
    return clip(f"#{card.market_id} {question}", 100)


def wants_thread(inv: Invocation, card: MarketCard) -> bool:
    """Whether this post goes to the market's thread (one it has, or one to start now).

    Only while the guild has threads on: after a manager turns them off, a market
    is posted where it is asked for (its thread, if any, still hears its result).
    """
    if not card.market_threads:
        return False
    if card.thread_id:
        return True
    channel_type = getattr(getattr(inv.interaction, "channel", None), "type", None)
    # Discord has no thread inside a thread: a market posted in one stays there.
    return channel_type not in THREAD_TYPES


async def post_in_thread(
    inv: Invocation, card: MarketCard, message: MarketMessage
) -> tuple[int, int] | None:
    """Post the live market message in the market's thread, starting it if needed.

    Returns ``(thread id, message id)``, or None when no thread can hold it: the
    caller then posts the message in the channel.
    """
    client = inv.interaction.client
    title = f"📈 Market #{card.market_id}: **{safe(card.question, 300)}**"
    thread_id = card.thread_id
    if thread_id is None:
        line = await inv.reply(f"{title}\nOdds, trading and talk: in its thread.", ephemeral=False)
        channel_id = getattr(inv.interaction, "channel_id", None)
        if line is None or not channel_id:
            return None
        try:
            thread = await client.http.start_thread_with_message(
                int(channel_id),
                int(line.id),
                name=thread_name(card),
                auto_archive_duration=AUTO_ARCHIVE_MINUTES,
            )
        except nextcord.HTTPException as exc:
            logger.warning(
                "could not start a thread for market %s in channel %s (%s %s)",
                card.market_id,
                channel_id,
                exc.status,
                exc.text,
            )
            await line.edit(content=title, allowed_mentions=NO_MENTIONS)
            return None
        # Kept once: had another post recorded a thread first, that one stays the market's.
        thread_id = await call(
            market_set_discord_thread, market_id=card.market_id, thread_id=int(thread["id"])
        )
    else:
        await inv.reply(f"{title}\nLive in its thread: <#{thread_id}>", ephemeral=False)
    return await _send_live_message(client, card, message, thread_id)


async def _send_live_message(
    client: Any, card: MarketCard, message: MarketMessage, thread_id: int
) -> tuple[int, int] | None:
    thread = client.get_partial_messageable(thread_id, type=nextcord.ChannelType.public_thread)
    try:
        posted = await thread.send(**message.send_kwargs(), allowed_mentions=NO_MENTIONS)
    except (nextcord.NotFound, nextcord.Forbidden):
        logger.warning(
            "market %s thread %s is gone or closed to the bot", card.market_id, thread_id
        )
        return None
    return thread_id, int(posted.id)
