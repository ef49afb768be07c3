"""``python manage.py runbot`` as a subprocess, pointed at the Discord emulator.

The process gets the production-like environment of the live-server tests
(``tests.api.gunicorn_server.server_environment``: settings from the
environment, settlement inline, rate limits off) with the pytest test database,
the emulator's base URL and its token.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from django.db import connection

from tests.api.gunicorn_server import ROOT, server_environment
from tests.discord_emulator import DiscordEmulator, EmulatorTimeout


def test_database_url() -> str:
    """``DATABASE_URL`` with the name of the database pytest-django created for this run."""
    parts = urlsplit(os.environ["DATABASE_URL"])
    return parts._replace(path="/" + str(connection.settings_dict["NAME"])).geturl()


class BotProcess:
    def __init__(self, emulator: DiscordEmulator, log: Path, *extra_args: str) -> None:
        self.emulator = emulator
        self.log = log
        self.args = list(extra_args)
        self.process: subprocess.Popen[bytes] | None = None
        self.started_at_request = 0
        self._log_offset = 0  # where this run's lines start in the (shared) log file

    def environment(self) -> dict[str, str]:
        env = server_environment(test_database_url())
        env.update(
            DISCORD_TOKEN=self.emulator.token,
            DISCORD_API_BASE_URL=self.emulator.base_url,
            BOT_METRICS_PORT="0",
            LOG_LEVEL="info",
            LOG_FORMAT="console",
            PYTHONUNBUFFERED="1",
        )
        return env

    def start(self, *, wait: bool = True) -> BotProcess:
        with self.emulator.lock:
            self.started_at_request = len(self.emulator.requests)
        identifies = len(self.emulator.gateway.identifies)
        self._log_offset = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "runbot", *self.args],
                cwd=ROOT,
                env=self.environment(),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        if wait:
            self.wait_until_ready(identifies)
        return self

    def wait_until_ready(self, identifies_before: int = 0, timeout: float = 60) -> None:
        """Connected (READY sent, ``on_ready`` logged) and done registering commands."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(
                    f"runbot exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            if (
                len(self.emulator.gateway.identifies) > identifies_before
                and "connected as" in self.run_log()
                and self.quiet_for(1.0)
            ):
                return
            time.sleep(0.1)
        raise EmulatorTimeout(
            f"runbot did not get ready:\n{self.log_tail()}\n{self.emulator.describe()}"
        )

    def quiet_for(self, seconds: float) -> bool:
        """No request reached the emulator in the last ``seconds``."""
        with self.emulator.lock:
            last = self.emulator.requests[-1].at if self.emulator.requests else 0.0
        return self.emulator.clock() - last >= seconds

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> int:
        process = self.process
        if process is None:
            return 0
        if process.poll() is None:
            process.send_signal(sig)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        self.process = None
        return process.returncode

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def run_log(self) -> str:
        """The log of the current run only."""
        with self.log.open("rb") as log:
            log.seek(self._log_offset)
            return log.read().decode(errors="replace")

    def log_tail(self, lines: int = 80) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])
