"""Start-up: the real bot registers its commands with bodies Discord accepts, once."""

from __future__ import annotations

import pytest

from tests.botrunner.e2e.bot_process import BotProcess
from tests.discord_emulator import DiscordEmulator

pytestmark = [
    pytest.mark.discord_e2e,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]


def test_start_up_registers_every_command(emulator: DiscordEmulator, bot: BotProcess) -> None:
    names = emulator.command_names()
    for name in ("bet", "sell", "market", "portfolio", "leaderboard", "daily", "resolve"):
        assert name in names, names
    writes = [r for r in emulator.requests if r.is_write and "/commands" in r.path]
    assert writes, "no command was registered"
    assert all(r.status in (200, 201) for r in writes), [(r.path, r.status) for r in writes]
