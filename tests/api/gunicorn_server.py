"""A real ``gunicorn predictmarket.wsgi`` on a scratch PostgreSQL database, for black-box tests.

The pytest-django test database lives inside the test's transaction, invisible
to another process, so the server gets a database of its own: created fresh,
migrated with ``manage.py migrate`` and seeded by ``tests/api/live_seed.py``.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import requests
from psycopg import sql

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def scratch_database_url(suffix: str) -> str:
    """``DATABASE_URL``'s server, database ``<its name>_<suffix>`` (one per checkout's database)."""
    parts = urlsplit(os.environ["DATABASE_URL"])
    return parts._replace(path=f"{parts.path.rstrip('/')}_{suffix}").geturl()


def _maintenance(url: str) -> psycopg.Connection:
    return psycopg.connect(urlsplit(url)._replace(path="/postgres").geturl(), autocommit=True)


def recreate_database(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    with _maintenance(url) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    with _maintenance(url) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def server_environment(database_url: str) -> dict[str, str]:
    """Production settings on loopback, without the limiter, with tasks run inline."""
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE="predictmarket.settings",
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="false",
        LOG_LEVEL="error",  # 5xx only: 4xx are the point of these tests
        # Rate limits off: a fuzzer or a benchmark would only measure 429s.
        RATE_LIMITS_ENABLED="false",
        # Settlement runs inside the request instead of queueing on a shared broker.
        CELERY_TASK_ALWAYS_EAGER="true",
    )
    return env


def run_django(args: list[str], env: dict[str, str], *, timeout: float = 300) -> str:
    result = subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def migrate_and_seed(env: dict[str, str]) -> dict[str, object]:
    """Migrate, then seed; the seed prints what it made as JSON on its last line."""
    run_django(["manage.py", "migrate", "--noinput", "-v", "0"], env)
    output = run_django(["-m", "tests.api.live_seed"], env)
    return json.loads(output.strip().splitlines()[-1])


@dataclass
class Server:
    base_url: str
    process: subprocess.Popen[bytes]
    log: Path

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@contextmanager
def gunicorn(
    env: dict[str, str], log: Path, *, workers: int = 2, threads: int = 2
) -> Iterator[Server]:
    """Start gunicorn on a free loopback port; stop it (SIGTERM, then SIGKILL) on exit."""
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "predictmarket.wsgi",
                # Production's settings (request limits, preloading, timeouts); the
                # command line overrides where it listens, the pool size and the access log.
                "--config",
                "python:predictmarket.gunicorn_conf",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(workers),
                "--threads",
                str(threads),
                "--access-logfile",
                os.devnull,
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = Server(f"http://127.0.0.1:{port}", process, log)
    try:
        _wait_until_live(server)
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _wait_until_live(server: Server, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"gunicorn exited with {server.process.returncode}:\n{server.log_tail()}"
            )
        try:
            if requests.get(f"{server.base_url}/health/live", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer within {timeout} s:\n{server.log_tail()}")
