"""``manage.py runbot``: one clear line and a non-zero status when it cannot run; clean stops.

There is no network here, so Discord's answers are injected where nextcord
talks to Discord: ``HTTPClient.static_login`` (the login request) fails as
Discord fails it for a bad token, or hangs as a slow connection would.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
from pathlib import Path

import nextcord
import nextcord.http
import pytest
from django.core.management import call_command
from django.test import override_settings

from botrunner.management.commands import runbot

ROOT = Path(__file__).resolve().parents[2]


def _env(**overrides: str) -> dict[str, str]:
    env = {**os.environ, "BOT_METRICS_PORT": "0", "PYTHONPATH": str(ROOT)}
    env.update(overrides)
    return env


def test_without_a_token_it_exits_non_zero_with_one_line() -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "runbot"],
        cwd=ROOT,
        env=_env(DISCORD_TOKEN=""),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == runbot.EXIT_NO_TOKEN
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("runbot: DISCORD_TOKEN is not set")
    assert "Traceback" not in result.stderr


def test_a_rejected_token_exits_non_zero_with_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    closed: list[bool] = []

    async def rejected(self: nextcord.http.HTTPClient, token: str) -> None:
        raise nextcord.LoginFailure("Improper token has been passed.")

    def factory(**options: object) -> object:
        bot = runbot.default_bot_factory(**options)
        real_close = bot.close

        async def close() -> None:
            closed.append(True)
            await real_close()

        bot.close = close
        return bot

    monkeypatch.setattr(nextcord.http.HTTPClient, "static_login", rejected)
    command = runbot.Command()
    command.bot_factory = factory
    stderr = io.StringIO()
    with (
        override_settings(DISCORD_TOKEN="not-a-real-token", BOT_METRICS_PORT=0),
        pytest.raises(SystemExit) as exit_info,
    ):
        call_command(command, stderr=stderr)
    assert exit_info.value.code == runbot.EXIT_TOKEN_REJECTED
    lines = stderr.getvalue().strip().splitlines()
    assert lines == ["runbot: Discord rejected DISCORD_TOKEN (login failed); check the bot token."]
    assert closed  # the bot's session and tasks were closed on the way out
    assert "not-a-real-token" not in stderr.getvalue()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--shard-ids", "0"], "--shard-ids needs --shard-count."),
        (["--shard-ids", "3", "--shard-count", "2"], "shard ids [3] are outside 0..1."),
    ],
)
def test_bad_shard_options_are_refused(arguments: list[str], message: str) -> None:
    stderr = io.StringIO()
    with (
        override_settings(DISCORD_TOKEN="x", BOT_METRICS_PORT=0),
        pytest.raises(SystemExit) as exit_info,
    ):
        call_command("runbot", *arguments, stderr=stderr)
    assert exit_info.value.code == runbot.EXIT_BAD_OPTIONS
    assert stderr.getvalue().strip() == f"runbot: {message}"


def test_only_the_process_with_shard_zero_registers_commands_and_reads_the_outbox() -> None:
    built: list[dict[str, object]] = []

    class Stopped(Exception):
        pass

    def factory(**options: object) -> object:
        built.append(options)
        raise Stopped

    command = runbot.Command()
    command.bot_factory = factory
    with override_settings(DISCORD_TOKEN="x", BOT_METRICS_PORT=0):
        for arguments in (
            [],
            ["--shard-ids", "0", "1", "--shard-count", "4"],
            ["--shard-ids", "2", "3", "--shard-count", "4"],
            ["--shard-ids", "2", "--shard-count", "4", "--sync-commands"],
            ["--no-sync-commands", "--guild", "123456789012345678"],
        ):
            with pytest.raises(Stopped):
                call_command(command, *arguments)
    assert [(o["sync_commands"], o["run_outbox"]) for o in built] == [
        (True, True),
        (True, True),
        (False, False),
        (True, False),
        (False, True),
    ]
    assert built[1]["shard_ids"] == [0, 1] and built[1]["shard_count"] == 4
    assert built[4]["guild_ids"] == [123456789012345678]


SLOW_LOGIN = """
import asyncio, os, django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "predictmarket.settings")
django.setup()
import nextcord.http

async def connecting(self, token):
    print("connecting", flush=True)
    await asyncio.Event().wait()

nextcord.http.HTTPClient.static_login = connecting
from django.core.management import call_command
call_command("runbot")
print("runbot returned", flush=True)
"""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_bot_cleanly(sig: signal.Signals) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", SLOW_LOGIN],
        cwd=ROOT,
        env=_env(DISCORD_TOKEN="token-for-the-test"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "connecting"
        process.send_signal(sig)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr
    assert "runbot returned" in stdout
    assert "Traceback" not in stderr
