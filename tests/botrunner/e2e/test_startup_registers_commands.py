"""Start-up: the real bot registers its commands with bodies Discord accepts, and only once.

Every body is validated against Discord's OpenAPI description by the emulator
(an invalid one is refused and fails the test through ``_discord_rules_kept``).
"""

from __future__ import annotations

import pytest

from tests.botrunner.e2e.bot_process import BotProcess
from tests.discord_emulator import DiscordEmulator

pytestmark = [
    pytest.mark.discord_e2e,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]

COMMANDS = {"bet", "sell", "market", "portfolio", "leaderboard", "daily", "tip", "resolve"}


def command_writes(emulator: DiscordEmulator, since: int) -> list[str]:
    with emulator.lock:
        return [
            f"{r.method} {r.path}"
            for r in emulator.requests[since:]
            if r.is_write and "/commands" in r.path
        ]


def test_start_up_registers_every_command(emulator: DiscordEmulator, bot: BotProcess) -> None:
    assert set(emulator.command_names()) >= COMMANDS
    assert command_writes(emulator, bot.started_at_request), "no command was registered"
    with emulator.lock:
        refused = [r for r in emulator.requests if "/commands" in r.path and r.status >= 300]
    assert refused == []


def test_a_restart_with_unchanged_commands_writes_nothing(
    emulator: DiscordEmulator, bot: BotProcess
) -> None:
    registered = emulator.command_names()
    assert bot.stop() == 0  # SIGTERM: a clean exit

    bot.start()

    assert command_writes(emulator, bot.started_at_request) == []
    assert emulator.command_names() == registered
    with emulator.lock:
        listed = [r for r in emulator.requests[bot.started_at_request :] if r.method == "GET"]
    assert any(r.path.endswith("/commands") for r in listed)  # it did compare


def test_guild_registration_writes_in_that_guild_and_deletes_nothing_global(
    emulator: DiscordEmulator, bot: BotProcess, tmp_path: object
) -> None:
    global_commands = emulator.command_names()
    guild_id = emulator.guild.guild_id
    bot.stop()
    developing = BotProcess(emulator, bot.log, "--guild", str(guild_id))
    try:
        developing.start()
        writes = command_writes(emulator, developing.started_at_request)
    finally:
        developing.stop()
        bot.start()  # the module's bot, for any test after this one

    assert writes, "nothing was registered in the guild"
    assert all(f"/guilds/{guild_id}/commands" in w for w in writes), writes
    assert not any(w.startswith("DELETE") for w in writes), writes
    assert set(emulator.command_names(guild_id)) >= COMMANDS
    assert emulator.command_names() == global_commands


def test_a_process_running_several_shards_syncs_once(
    emulator: DiscordEmulator, bot: BotProcess
) -> None:
    bot.stop()
    sharded = BotProcess(emulator, bot.log, "--shard-ids", "0", "1", "--shard-count", "2")
    identifies = len(emulator.gateway.identifies)
    try:
        sharded.start()
        emulator.wait_for(
            lambda: len(emulator.gateway.identifies) >= identifies + 2, what="both shards"
        )
        sharded.wait_until_ready(identifies)
        shards = sorted(emulator.gateway.identifies[identifies:])
        with emulator.lock:
            listed = [
                r
                for r in emulator.requests[sharded.started_at_request :]
                if r.method == "GET" and r.path.endswith(f"/{emulator.application_id}/commands")
            ]
    finally:
        sharded.stop()
        bot.start()
    assert shards == [(0, 2), (1, 2)]
    assert len(listed) == 1  # one global sync for the process, not one per shard
