"""Servers of the fault tests' own, to break: a private Redis and a private PostgreSQL cluster.

Other suites share the machine's PostgreSQL (5432) and Redis (6379); a fault
test never stops those. It starts its own on a free loopback port, kills or
restarts it on the same port, and removes it at teardown whatever happened.
"""

from __future__ import annotations

import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import redis

from tests.api.gunicorn_server import free_port


def wait_for(condition, what: str, *, timeout: float = 60, every: float = 0.1, log=None):  # type: ignore[no-untyped-def]
    """Poll ``condition`` until it returns something truthy; that value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    tail = f":\n{Path(log).read_text(errors='replace')[-4000:]}" if log else ""
    raise AssertionError(f"timed out after {timeout} s waiting for {what}{tail}")


# ------------------------------------------------------------------------------
# Redis
# ------------------------------------------------------------------------------
@dataclass
class PrivateRedis:
    port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [
                    _tool("redis-server"),
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--daemonize",
                    "no",
                    "--maxmemory-policy",
                    "noeviction",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        wait_for(lambda: self._pings(client), "the private Redis to answer", log=self.log)

    def stop(self) -> None:
        """SIGKILL: the outage of a crash, not a polite shutdown."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None

    @staticmethod
    def _pings(client: redis.Redis) -> bool:
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False


@contextmanager
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(port=free_port(), log=tmp_path / "redis.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


# ------------------------------------------------------------------------------
# PostgreSQL
# ------------------------------------------------------------------------------
def _tool(name: str) -> str:
    """The absolute path of a server binary or of a Debian postgresql-common wrapper."""
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} not found: the fault tests need it installed")
    return path


def _postgres_version() -> str:
    versions = sorted(Path("/etc/postgresql").iterdir(), key=lambda p: int(p.name))
    return versions[-1].name


@dataclass
class PrivateCluster:
    version: str
    name: str
    port: int

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/pmfaults"

    def ctl(self, action: str) -> None:
        # --skip-systemctl-redirect: CI has no systemd; pg_ctlcluster runs pg_ctl itself.
        subprocess.run(
            [_tool("pg_ctlcluster"), "--skip-systemctl-redirect", self.version, self.name, action],
            check=True,
            capture_output=True,
            timeout=120,
        )

    def accepts_connections(self) -> bool:
        try:
            with psycopg.connect(self.url, connect_timeout=1):
                return True
        except psycopg.OperationalError:
            return False


@contextmanager
def private_postgres() -> Iterator[PrivateCluster]:
    """A fresh cluster (trust on loopback) with an empty ``pmfaults`` database; dropped after."""
    cluster = PrivateCluster(
        version=_postgres_version(), name=f"pmfaults-{secrets.token_hex(4)}", port=free_port()
    )
    subprocess.run(
        [
            _tool("pg_createcluster"),
            cluster.version,
            cluster.name,
            "--port",
            str(cluster.port),
            "--",
            "--auth=trust",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    try:
        cluster.ctl("start")
        maintenance = f"postgres://postgres@127.0.0.1:{cluster.port}/postgres"
        wait_for(lambda: _connects(maintenance), "the private PostgreSQL to start")
        with psycopg.connect(maintenance, autocommit=True) as conn:
            conn.execute("CREATE DATABASE pmfaults")
        yield cluster
    finally:
        subprocess.run(
            [_tool("pg_dropcluster"), "--stop", cluster.version, cluster.name],
            check=False,
            capture_output=True,
            timeout=120,
        )


def _connects(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=1):
            return True
    except psycopg.OperationalError:
        return False
