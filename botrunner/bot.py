"""The bot: one ``AutoShardedBot`` subclass with every cog, the component dispatcher,
the outbox consumer and the heartbeat.

No business logic lives here or in the cogs: they call the services of the
points, markets and betting apps through ``botrunner.calls.call``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from typing import Any

import nextcord
from nextcord.ext import commands

from botrunner.ackfirst import ACKS, count_interactions_as_they_arrive
from botrunner.calls import call
from botrunner.dispatch import dispatch_interaction
from botrunner.heartbeat import INTERVAL, heartbeat_write
from botrunner.metrics import (
    record_command,
    record_gateway_latency,
    record_heartbeat,
    record_shards_connected,
)
from botrunner.outbox_consumer import CONSUMER, RESULTS_CONSUMER, OutboxConsumer
from botrunner.replies import unexpected_error_text
from botrunner.result_messages import RESULT_KIND
from botrunner.text import NO_MENTIONS

logger = logging.getLogger(__name__)

EXTENSIONS = (
    "botrunner.cogs.markets",
    "botrunner.cogs.trading",
    "botrunner.cogs.points",
    "botrunner.cogs.moderation",
    "botrunner.cogs.seasons",
    "botrunner.cogs.config",
    "botrunner.cogs.help",
)


def bot_intents() -> nextcord.Intents:
    # Slash commands need no privileged intent. "guilds" keeps guild names and
    # roles in the cache; messages, members and presences are not needed.
    return nextcord.Intents(guilds=True)


class PredictBot(commands.AutoShardedBot):
    def __init__(
        self,
        *,
        shard_ids: Sequence[int] | None = None,
        shard_count: int | None = None,
        sync_commands: bool = True,
        guild_ids: Sequence[int] = (),
        run_outbox: bool = True,
    ) -> None:
        super().__init__(
            help_command=None,
            intents=bot_intents(),
            # Nothing the bot sends pings anyone unless a send says so explicitly
            # (the moderator role on a reminder is the one case).
            allowed_mentions=NO_MENTIONS,
            max_messages=None,  # no message cache: the bot never reads messages
            chunk_guilds_at_startup=False,
            shard_ids=list(shard_ids) if shard_ids is not None else None,
            shard_count=shard_count,
            # Only one process registers the commands with Discord; the others
            # only associate the registered ones with their handlers.
            rollout_register_new=sync_commands,
            rollout_update_known=sync_commands,
            rollout_delete_unknown=sync_commands,
            # --guild: register in one guild (instant updates while developing).
            default_guild_ids=list(guild_ids) or None,
        )
        self.run_outbox = run_outbox
        self.guild_ids = list(guild_ids)
        self._synced_once = False
        self._shards_down: set[int] = set()
        count_interactions_as_they_arrive(self._connection)
        # Announcements and live edits on one cursor, result DMs on another: a
        # settlement's many DMs (and their rate limits) never delay the feed.
        self.outbox = OutboxConsumer(self, skip={RESULT_KIND})
        self.result_dms = OutboxConsumer(
            self, consumer=RESULTS_CONSUMER, only={RESULT_KIND}, start_from=CONSUMER
        )
        self._background: list[asyncio.Task[Any]] = []
        for extension in EXTENSIONS:
            self.load_extension(extension)
        self.add_listener(dispatch_interaction, "on_interaction")

    async def start(self, token: str, *, reconnect: bool = True) -> None:
        self._background = [asyncio.create_task(self._vitals(), name="bot-heartbeat")]
        if self.run_outbox:
            self._background.append(asyncio.create_task(self._outbox(), name="bot-outbox"))
            self._background.append(asyncio.create_task(self._result_dms(), name="bot-result-dms"))
        await super().start(token, reconnect=reconnect)

    async def close(self) -> None:
        for task in self._background:
            task.cancel()
        for task in self._background:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._background = []
        await super().close()

    async def on_connect(self) -> None:
        """Register the global commands once per process, and never with ``--guild``.

        nextcord calls this for every shard that connects (and again after a
        reconnect that is not a resume); one sync per process is enough. With
        ``--guild`` the commands are registered in those guilds as they become
        available; a global sync with ``delete_unknown`` would then delete every
        global command, which the Discord emulator saw this process do.
        """
        if self._synced_once:
            return
        self._synced_once = True
        if self.guild_ids:
            self.add_all_application_commands()
            return
        await super().on_connect()

    def shards_connected(self) -> int:
        """Shards whose socket is open and which have not disconnected since they last resumed."""
        return sum(
            1
            for shard_id, shard in self.shards.items()
            if shard_id not in self._shards_down and not shard.is_closed()
        )

    async def on_shard_ready(self, shard_id: int) -> None:
        self._shards_down.discard(shard_id)
        record_shards_connected(self.shards_connected())

    async def on_shard_resumed(self, shard_id: int) -> None:
        self._shards_down.discard(shard_id)
        record_shards_connected(self.shards_connected())

    async def on_shard_disconnect(self, shard_id: int) -> None:
        # A socket asked to reconnect may still look open: the event is what counts.
        self._shards_down.add(shard_id)
        record_shards_connected(self.shards_connected())

    async def on_ready(self) -> None:
        logger.info(
            "connected as %s to %d guilds (shards %s of %s)",
            self.user,
            len(self.guilds),
            self.shard_ids,
            self.shard_count,
        )

    async def on_application_command_error(
        self, interaction: nextcord.Interaction, exception: Exception
    ) -> None:
        """Errors outside our handlers (option conversion, checks): an error id, never silence."""
        name = getattr(interaction.application_command, "qualified_name", "command")
        _, text = unexpected_error_text(exception, command=str(name))
        record_command(str(name), "unexpected", 0.0)
        try:
            with contextlib.suppress(nextcord.HTTPException):
                if interaction.response.is_done():
                    await interaction.followup.send(
                        text, ephemeral=True, allowed_mentions=NO_MENTIONS
                    )
                else:
                    await interaction.response.send_message(
                        text, ephemeral=True, allowed_mentions=NO_MENTIONS
                    )
        finally:
            ACKS.acknowledged(interaction.id)  # answered: no one's work waits for it

    async def _vitals(self) -> None:
        """Heartbeat for the web's health check, and the gateway latency gauge."""
        await self.wait_until_ready()
        while not self.is_closed():
            try:
                record_shards_connected(self.shards_connected())
                if self.is_ready():
                    now = time.time()
                    await call(heartbeat_write, now)
                    record_heartbeat(now)
                record_gateway_latency(self.latency)
            except Exception:
                logger.exception("writing the heartbeat failed")
            await asyncio.sleep(INTERVAL)

    async def _outbox(self) -> None:
        await self.wait_until_ready()
        await self.outbox.run()

    async def _result_dms(self) -> None:
        await self.wait_until_ready()
        await self.result_dms.run()
