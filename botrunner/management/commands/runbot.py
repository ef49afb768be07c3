"""``python manage.py runbot``: the Discord bot, inside the Django process.

    manage.py runbot [--shard-ids 0 1 --shard-count 4] [--no-sync-commands] [--guild ID]

Runs ``asyncio.run(bot.start(token))`` rather than ``bot.run`` so this command
owns shutdown: SIGTERM and SIGINT close the bot (gateway, HTTP session,
background tasks) and the process exits 0. A missing or rejected token ends
the process with one line on stderr and a non-zero status, no traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from typing import Any

import aiohttp
import nextcord
import nextcord.http
from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from botrunner.metrics import serve_metrics
from predictmarket.tracing import init_tracing

logger = logging.getLogger("botrunner.runbot")

EXIT_NO_TOKEN = 2
EXIT_TOKEN_REJECTED = 3
EXIT_UNREACHABLE = 4
EXIT_BAD_OPTIONS = 5


def default_bot_factory(**options: Any) -> Any:
    from botrunner.bot import PredictBot

    return PredictBot(**options)


def use_discord_api(base_url: str) -> None:
    """Send every REST call (interaction callbacks and webhooks too) to ``base_url``.

    nextcord builds each route on the class attribute ``Route.BASE`` and finds
    the gateway through ``GET /gateway/bot``, so this one setting moves the
    whole bot, e.g. onto the local Discord emulator of the e2e tests.
    """
    nextcord.http.Route.BASE = base_url.rstrip("/")


class Command(BaseCommand):
    help = "Run the Discord bot (slash commands, live market messages, announcements)."

    # Tests pass a factory whose bot fails the way Discord would; production builds PredictBot.
    bot_factory: Callable[..., Any] = staticmethod(default_bot_factory)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--shard-ids",
            type=int,
            nargs="+",
            metavar="ID",
            help="Run only these shards (needs --shard-count).",
        )
        parser.add_argument("--shard-count", type=int, help="Total number of shards.")
        parser.add_argument(
            "--sync-commands",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="Register the slash commands with Discord (default: only the process that "
            "runs shard 0, or the only process).",
        )
        parser.add_argument(
            "--guild",
            type=int,
            action="append",
            default=[],
            metavar="ID",
            help="Register the commands in this guild only (development; instant updates).",
        )

    def fail(self, message: str, code: int) -> None:
        self.stderr.write(f"runbot: {message}")
        raise SystemExit(code)

    def handle(self, *args: Any, **options: Any) -> None:
        token = settings.DISCORD_TOKEN
        if not token:
            self.fail(
                "DISCORD_TOKEN is not set; create a bot in the Discord developer portal and "
                "set DISCORD_TOKEN (see README, 'Discord application').",
                EXIT_NO_TOKEN,
            )
        shard_ids: list[int] | None = options.get("shard_ids")
        shard_count: int | None = options.get("shard_count")
        if shard_ids is not None:
            if shard_count is None:
                self.fail("--shard-ids needs --shard-count.", EXIT_BAD_OPTIONS)
            bad = [s for s in shard_ids if not 0 <= s < shard_count]
            if bad:
                self.fail(f"shard ids {bad} are outside 0..{shard_count - 1}.", EXIT_BAD_OPTIONS)
        runs_shard_zero = shard_ids is None or 0 in shard_ids
        sync = options.get("sync_commands")
        bot_options = {
            "shard_ids": shard_ids,
            "shard_count": shard_count,
            "sync_commands": runs_shard_zero if sync is None else sync,
            "guild_ids": options.get("guild") or [],
            # One process reads the outbox, or messages would be edited and
            # announcements posted once per process.
            "run_outbox": runs_shard_zero,
        }
        use_discord_api(settings.DISCORD_API_BASE_URL)
        # Before any database thread opens a connection (only those opened later are traced).
        init_tracing("bot")
        serve_metrics(settings.BOT_METRICS_PORT)
        try:
            asyncio.run(self._serve(token, bot_options))
        except nextcord.LoginFailure:
            self.fail(
                "Discord rejected DISCORD_TOKEN (login failed); check the bot token.",
                EXIT_TOKEN_REJECTED,
            )
        except (aiohttp.ClientConnectionError, OSError) as exc:
            self.fail(f"cannot reach Discord: {type(exc).__name__}: {exc}", EXIT_UNREACHABLE)

    async def _serve(self, token: str, bot_options: dict[str, Any]) -> None:
        # Built inside the running loop: nextcord binds the loop it finds at construction.
        bot = self.bot_factory(**bot_options)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, stop.set)
        runner = asyncio.create_task(bot.start(token), name="bot")
        stopper = asyncio.create_task(stop.wait(), name="signals")
        try:
            done, _ = await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
            signalled = stopper in done
            if signalled:
                logger.info("signal received: closing the bot")
            await bot.close()
            if not runner.done():
                # close() ends the gateway loop; a bot still logging in is cancelled.
                finished, _ = await asyncio.wait({runner}, timeout=2)
                if not finished:
                    runner.cancel()
            await asyncio.wait({runner})
            if signalled:
                if not runner.cancelled() and runner.exception() is not None:
                    logger.warning("the bot stopped with %r", runner.exception())
            elif not runner.cancelled():
                runner.result()  # a LoginFailure or connection error surfaces here
        finally:
            stopper.cancel()
            for sig in (signal.SIGTERM, signal.SIGINT):
                with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                    loop.remove_signal_handler(sig)
        logger.info("bot stopped")
