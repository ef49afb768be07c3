"""Live market messages and announcements, fed by the event outbox.

The consumer reads events after its cursor (``outbox_read("discord")``), and:

* marks the market's posted message as stale for trades and status changes,
  then edits it at most once per ``debounce`` seconds per message: the edit
  renders the market as it is *now*, so one edit covers every trade since the
  last one (a busy market is edited every 5 s, not once per trade);
* posts new markets, closing-soon notices, results, refunds and reminders in
  the guild's announcement channel, and a market's updates in its thread too;
* sends each member who asked for it (``/notify on``) their result in a direct
  message (``member.result`` events). A member whose DMs are closed to the bot
  (Discord's 403, code 50007) is skipped quietly and counted, never retried.

Delivery is at least once. The cursor is acknowledged only up to events whose
effects are done: a message that is still waiting for its debounced edit holds
the cursor just before the event that made it stale, so after a crash the
event is read again and the edit made. Announcements are recorded in
``DeliveredAnnouncement`` (per channel) after they are posted, so an event
read again is not announced twice in the same place.

Discord answers 429 when the bot is too fast; nextcord already waits and
retries most of them, and whatever still reaches us is retried here after the
response's ``Retry-After``. ``sleep`` and ``clock`` are injectable for tests.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Collection
from typing import Any, TypeVar

import aiohttp
import nextcord

from botrunner.announcements import (
    ANNOUNCED_KINDS,
    THREAD_KINDS,
    Announcement,
    build_announcement,
)
from botrunner.calls import call
from botrunner.cards import render_market_message
from botrunner.metrics import MESSAGE_EDITS, OUTBOX_EVENTS, RESULT_DMS
from botrunner.reads import announcement_target, market_card, member_wants_result_dms
from botrunner.result_messages import RESULT_KIND, result_message
from botrunner.services import announcement_delivered, announcement_record
from botrunner.text import NO_MENTIONS
from predictmarket.models import OutboxEvent
from predictmarket.outbox import outbox_acknowledge, outbox_cursor_ensure, outbox_read

logger = logging.getLogger(__name__)
T = TypeVar("T")

CONSUMER = "discord"
# Result DMs have their own cursor: one big settlement's DMs (two requests each, and
# Discord's rate limits) never hold up announcements and live edits in other guilds.
RESULTS_CONSUMER = "discord-result-dms"
EDITED_KINDS = frozenset(
    {
        "market.trade",
        "market.closed",
        "market.resolved",
        "market.cancelled",
        "market.settled",
        "market.refunded",
        "market.auto_refunded",
        "market.description_edited",
        "market.corrected",
        "market.correction_settled",
    }
)
DEFAULT_RETRY_AFTER = 5.0
MAX_RETRY_AFTER = 300.0
# Discord's JSON error code for a DM the user does not accept from the bot
# (DMs from server members off, the bot blocked, or no server in common).
CANNOT_MESSAGE_USER = 50007
# A message whose edits keep failing is given up after this many flushes, so it
# cannot hold the cursor (and every later announcement) back for ever.
MAX_EDIT_FAILURES = 5


class RetryLater(Exception):
    """Discord or the network is not taking requests now; try this event again later."""


def retry_after_seconds(exc: nextcord.HTTPException) -> float:
    headers = getattr(getattr(exc, "response", None), "headers", None) or {}
    value = headers.get("Retry-After") or headers.get("retry-after")
    try:
        seconds = float(value) if value is not None else DEFAULT_RETRY_AFTER
    except (TypeError, ValueError):
        seconds = DEFAULT_RETRY_AFTER
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


class OutboxConsumer:
    def __init__(
        self,
        client: Any,
        *,
        consumer: str = CONSUMER,
        batch: int = 200,
        debounce: float = 5.0,
        poll_interval: float = 2.0,
        attempts: int = 3,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        with_charts: bool = True,
        only: Collection[str] | None = None,
        skip: Collection[str] = (),
        start_from: str | None = None,
    ) -> None:
        self.client = client  # anything with get_partial_messageable(channel_id, type=...)
        self.consumer = consumer
        # Which kinds this consumer handles (every other event is passed over); a
        # consumer with a cursor of its own never waits behind another's events.
        self.only = frozenset(only) if only is not None else None
        self.skip = frozenset(skip)
        # A consumer new to this deployment starts where that one's cursor is,
        # instead of reading the whole outbox's history.
        self.start_from = start_from
        self.batch = batch
        self.debounce = debounce
        self.poll_interval = poll_interval
        self.attempts = attempts
        self.clock = clock
        self.sleep = sleep
        self.with_charts = with_charts
        self._stale: dict[int, int] = {}  # market id → first event id not yet shown
        self._failures: dict[int, int] = {}
        self._last_edit: dict[int, float] = {}
        # market id → its message Discord said is gone (404) or closed to the bot (403):
        # not edited again until the market is posted anew (a new message id).
        self._gone: dict[int, int] = {}
        self._handled_upto = 0
        self._acknowledged = 0

    # -- the loop --------------------------------------------------------------
    async def run(self) -> None:
        if self.start_from is not None:
            await call(outbox_cursor_ensure, self.consumer, start_from=self.start_from)
        while True:
            try:
                await self.poll_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("outbox poll failed")
                await self.sleep(self.poll_interval * 5)
            await self.sleep(self.poll_interval)

    async def poll_once(self) -> int:
        """Handle new events, make the edits now due, move the cursor; the events handled."""
        events = await call(outbox_read, self.consumer, limit=self.batch)
        handled = 0
        for event in events:
            if event.id <= self._handled_upto:
                continue  # read again while the cursor waits for a debounced edit
            if not await self._handle(event):
                break  # Discord is busy: this event and the ones after it wait for the next poll
            self._handled_upto = event.id
            handled += 1
            OUTBOX_EVENTS.labels(event.kind).inc()
        await self.flush_edits()
        await self._acknowledge()
        return handled

    async def _handle(self, event: OutboxEvent) -> bool:
        if event.kind in self.skip or (self.only is not None and event.kind not in self.only):
            return True
        if event.kind in EDITED_KINDS and event.aggregate_type == "market":
            self._stale.setdefault(int(event.aggregate_id), event.id)
        if event.kind in ANNOUNCED_KINDS:
            return await self._announce(event)
        if event.kind == RESULT_KIND:
            return await self._send_result(event)
        return True

    async def _acknowledge(self) -> None:
        position = self._handled_upto
        if self._stale:
            position = min(position, min(self._stale.values()) - 1)
        if position > self._acknowledged:
            await call(outbox_acknowledge, self.consumer, position)
            self._acknowledged = position

    def channel(self, channel_id: int) -> Any:
        """A channel to send to or edit in by id, without the guild cache or a fetch.

        The type matters only inside nextcord: without one, the partial channel's
        ``get_partial_message`` raises ``TypeError`` ("Expected TextChannel,
        DMChannel or Thread"), which the local Discord emulator caught on every
        live edit. The REST routes are the same for every text-like channel, so
        a market posted in a thread or a news channel is edited alike.
        """
        return self.client.get_partial_messageable(channel_id, type=nextcord.ChannelType.text)

    # -- live messages -------------------------------------------------------
    async def flush_edits(self) -> int:
        """Edit every stale message whose debounce window has passed."""
        now = self.clock()
        edited = 0
        for market_id in list(self._stale):
            last = self._last_edit.get(market_id)
            if last is not None and now - last < self.debounce:
                continue
            try:
                done = await self._edit(market_id)
            except Exception as exc:
                if not isinstance(exc, RetryLater):
                    logger.exception("editing the message of market %s failed", market_id)
                MESSAGE_EDITS.labels("retry_later").inc()
                failures = self._failures.get(market_id, 0) + 1
                self._failures[market_id] = failures
                if failures < MAX_EDIT_FAILURES:
                    continue
                logger.warning("giving up editing the message of market %s", market_id)
                done = False
            self._stale.pop(market_id, None)
            self._failures.pop(market_id, None)
            if done:
                self._last_edit[market_id] = now
                edited += 1
        # Forget windows long past, so the map does not grow with every market ever traded.
        for market_id, at in list(self._last_edit.items()):
            if now - at > self.debounce * 10:
                del self._last_edit[market_id]
        return edited

    async def _edit(self, market_id: int) -> bool:
        card = await call(market_card, market_id)
        if not card.channel_id or not card.message_id:
            return False  # never posted: nothing to keep live
        if self._gone.get(market_id) == card.message_id:
            return False  # deleted or forbidden: asking again would only be refused again
        rendered = await render_market_message(card, with_chart=self.with_charts)
        channel = self.channel(card.channel_id)
        message = channel.get_partial_message(card.message_id)
        try:
            await self._with_retries(
                lambda: message.edit(**rendered.edit_kwargs(), allowed_mentions=NO_MENTIONS)
            )
        except (nextcord.NotFound, nextcord.Forbidden):
            # Deleted, or the bot lost access: stop trying until it is shown again.
            logger.info("market %s message is gone or forbidden; not editing it", market_id)
            self._gone[market_id] = card.message_id
            MESSAGE_EDITS.labels("gone").inc()
            return False
        except nextcord.HTTPException:
            # Refused for good (a 4xx other than 429): retrying would be refused again.
            logger.exception("Discord refused the edit of market %s's message", market_id)
            MESSAGE_EDITS.labels("refused").inc()
            return False
        MESSAGE_EDITS.labels("edited").inc()
        return True

    # -- announcements -------------------------------------------------------
    async def _announce(self, event: OutboxEvent) -> bool:
        market_id = int(event.aggregate_id) if event.aggregate_type == "market" else None
        target = await call(announcement_target, event.guild_id, market_id)
        announcement = build_announcement(
            event.kind, event.payload, moderator_role_id=target.moderator_role_id
        )
        if announcement is None:
            return True
        # The guild's feed first, then the market's own thread: members who follow
        # the market there see its updates without watching the whole server.
        places = [target.channel_id]
        if event.kind in THREAD_KINDS and target.thread_id:
            places.append(target.thread_id)
        for channel_id in dict.fromkeys(p for p in places if p):
            if not await self._post(event, announcement, channel_id):
                return False
        return True

    async def _post(self, event: OutboxEvent, announcement: Announcement, channel_id: int) -> bool:
        """Post one announcement in one channel, once; False when Discord asks to wait."""
        if await call(announcement_delivered, event_id=event.id, channel_id=channel_id):
            return True  # posted there before a restart
        channel = self.channel(channel_id)
        kwargs: dict[str, Any] = {
            "embed": announcement.embed,
            "allowed_mentions": announcement.allowed_mentions,
        }
        if announcement.content:
            kwargs["content"] = announcement.content
        try:
            message = await self._with_retries(lambda: channel.send(**kwargs))
        except RetryLater:
            return False
        except (nextcord.NotFound, nextcord.Forbidden):
            logger.warning(
                "guild %s channel %s for announcements is missing or forbidden",
                event.guild_id,
                channel_id,
            )
            return True
        except nextcord.HTTPException:
            logger.exception("Discord refused announcement of event %s", event.id)
            return True
        await call(
            announcement_record,
            event_id=event.id,
            kind=event.kind,
            guild_id=event.guild_id,
            channel_id=channel_id,
            message_id=getattr(message, "id", None),
        )
        return True

    # -- result DMs ------------------------------------------------------------
    async def _send_result(self, event: OutboxEvent) -> bool:
        """DM one member their result; False only when Discord asks us to come back later."""
        if await call(announcement_delivered, event_id=event.id):
            return True  # sent before a restart
        if not await call(member_wants_result_dms, int(event.payload.get("member_id") or 0)):
            RESULT_DMS.labels("unwanted").inc()
            return True  # /notify off since the settlement queued it
        discord_id = str(event.payload.get("discord_id") or "")
        embed = result_message(event.payload)

        async def send() -> Any:
            # Discord's spec types recipient_id as a snowflake string; nextcord's
            # create_dm would send the int, so the id goes to its HTTP call as a string.
            dm = await self.client.http.start_private_message(discord_id)
            channel = self.client.get_partial_messageable(
                int(dm["id"]), type=nextcord.ChannelType.private
            )
            return await channel.send(embed=embed, allowed_mentions=NO_MENTIONS)

        try:
            message = await self._with_retries(send)
        except RetryLater:
            return False
        except nextcord.HTTPException as exc:
            if exc.status == 403 and exc.code == CANNOT_MESSAGE_USER:
                # The member closed their DMs: a retry would be refused too, and
                # every refusal counts toward Discord's invalid-request limit.
                logger.info("member %s does not accept DMs; result not sent", discord_id)
                RESULT_DMS.labels("refused").inc()
            else:
                logger.warning(
                    "Discord refused the result DM of event %s (%s, code %s)",
                    event.id,
                    exc.status,
                    exc.code,
                )
                RESULT_DMS.labels("failed").inc()
            return True
        await call(
            announcement_record,
            event_id=event.id,
            kind=event.kind,
            guild_id=event.guild_id,
            channel_id=getattr(getattr(message, "channel", None), "id", None),
            message_id=getattr(message, "id", None),
        )
        RESULT_DMS.labels("sent").inc()
        return True

    # -- Discord's rate limits -------------------------------------------------
    async def _with_retries(self, request: Callable[[], Awaitable[T]]) -> T:
        """Run a Discord request, waiting ``Retry-After`` on 429 and backing off on 5xx."""
        for attempt in range(1, self.attempts + 1):
            try:
                return await request()
            except (nextcord.NotFound, nextcord.Forbidden):
                raise
            except nextcord.HTTPException as exc:
                if exc.status == 429:
                    wait = retry_after_seconds(exc)
                    logger.warning("Discord rate limit: retrying in %.1f s", wait)
                elif exc.status >= 500:
                    wait = float(2**attempt)
                else:
                    raise
            except (TimeoutError, aiohttp.ClientError):
                wait = float(2**attempt)
            if attempt < self.attempts:
                await self.sleep(wait)
        raise RetryLater()
