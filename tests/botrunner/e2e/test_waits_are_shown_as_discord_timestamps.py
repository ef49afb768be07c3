"""A refusal that says when to come back uses a Discord timestamp (``<t:…:R>``), not "in 37 s".

Discord shows ``<t:UNIX:R>`` to each reader as a live countdown in their own
language ("in 37 seconds", "in 23 hours"), so the wait stays true however long
the reply sits on screen. This module's bot runs with the limiter on and a
per-member limit of a few commands a minute.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from django.core.cache import cache

from tests.botrunner.e2e.bot_process import BotProcess
from tests.botrunner.e2e.conftest import Personas, member_row
from tests.discord_emulator import DiscordEmulator, GuildSetup

pytestmark = [
    pytest.mark.discord_e2e,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]

COMMANDS_PER_MINUTE = 3
TIMESTAMP = re.compile(r"<t:(\d+):R>")
PLAIN_WAIT = re.compile(r"\bin \d+ s\b|\d{4}-\d\d-\d\d \d\d:\d\d|UTC")


class RateLimitedBot(BotProcess):
    def environment(self) -> dict[str, str]:
        env = super().environment()
        env.update(
            RATE_LIMITS_ENABLED="true",
            RATE_LIMIT_COMMANDS_PER_MINUTE=str(COMMANDS_PER_MINUTE),
        )
        return env


@pytest.fixture(scope="module")
def bot(
    django_db_setup: None, emulator: DiscordEmulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BotProcess]:
    process = RateLimitedBot(emulator, tmp_path_factory.mktemp("runbot") / "runbot.log")
    process.start()
    try:
        yield process
    finally:
        process.stop()


def fresh_limits(guild: GuildSetup, persona) -> None:
    """Forget the member's counts: a database made anew reuses member ids a past run counted.

    Starts well inside a minute, so the limiter's window cannot restart mid-test.
    """
    if time.time() % 60 > 45:
        time.sleep(60.5 - time.time() % 60)
    pk = member_row(guild, persona).pk
    window = int(time.time() // 60) * 60
    cache.delete_many([f"rl:command:{pk}:{w}" for w in (window - 60, window, window + 60)])


def the_timestamp(text: str) -> int:
    found = TIMESTAMP.findall(text)
    assert len(found) == 1, text
    return int(found[0])


def test_the_command_limit_says_when_to_retry_with_a_timestamp(
    emulator: DiscordEmulator, bot: BotProcess, people: Personas, discord_guild: GuildSetup
) -> None:
    fresh_limits(discord_guild, people.alice)
    for _ in range(COMMANDS_PER_MINUTE):
        asked = emulator.slash(people.alice, "balance")
        emulator.wait_for_reply(asked, contains="balance")

    before = time.time()
    refused = emulator.wait_for_reply(emulator.slash(people.alice, "balance"), contains="Slow")
    text = refused["content"]

    assert "at most 3 commands per minute" in text, text
    retry_at = the_timestamp(text)
    assert before <= retry_at <= before + 61, (retry_at, before)
    assert not PLAIN_WAIT.search(text), text


def test_a_second_daily_claim_says_when_the_next_opens_with_a_timestamp(
    emulator: DiscordEmulator, bot: BotProcess, people: Personas, discord_guild: GuildSetup
) -> None:
    fresh_limits(discord_guild, people.bob)
    claimed = emulator.wait_for_reply(emulator.slash(people.bob, "daily"), contains="claimed")
    first = the_timestamp(claimed["content"])

    refused = emulator.wait_for_reply(emulator.slash(people.bob, "daily"), contains="already")
    text = refused["content"]

    next_at = the_timestamp(text)
    assert abs(next_at - first) <= 1, (next_at, first)  # the same moment both times
    assert next_at >= time.time() + 23 * 3600
    assert not PLAIN_WAIT.search(text), text
