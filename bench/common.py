"""Shared set-up for benchmarks: a scratch PostgreSQL database, Django, pgbench.

Benchmarks print figures; they are not tests. Each runs against its own
database (created fresh) on the server named by ``BENCH_DATABASE_URL`` or, by
default, the local one CI uses.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SERVER = "postgres://predictmarket@127.0.0.1:5432/postgres"


def setup_django(db_name: str) -> str:
    """Create a fresh database ``db_name``, point Django at it and migrate."""
    server = os.environ.get("BENCH_DATABASE_URL", DEFAULT_SERVER)
    parts = urlsplit(server)
    url = parts._replace(path=f"/{db_name}").geturl()
    admin = parts._replace(path="/postgres").geturl()
    _psql(admin, f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
    _psql(admin, f'CREATE DATABASE "{db_name}"')
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "predictmarket.settings")
    os.environ["RATE_LIMITS_ENABLED"] = "false"  # measure the ledger, not the limiter
    # Production mode: DEBUG would record every query in memory.
    os.environ["DJANGO_DEBUG"] = "false"
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-" + "x7Yq2" * 12)
    os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost")
    os.environ.setdefault("LOG_LEVEL", "warning")
    # Workers are forked processes (like gunicorn and Celery workers); a psycopg
    # pool must not cross a fork, so each process keeps its own connection.
    os.environ["DATABASE_POOL"] = "false"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return url


def _psql(url: str, sql: str) -> None:
    subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql], check=True)


def pgbench_tps(
    url: str,
    *,
    clients: int,
    seconds: int,
    script: str | None = None,
    prepared: bool = False,
    latencies: list[float] | None = None,
) -> float:
    """The server's transactions per second for TPC-B-like or a custom script.

    ``latencies``, when given, receives every transaction's latency in seconds
    (pgbench's per-transaction log).
    """
    if script is None:
        subprocess.run(["pgbench", "-i", "-q", "-s", "1", url], check=True, capture_output=True)
        args = ["pgbench", "-c", str(clients), "-j", str(min(clients, 2)), "-T", str(seconds), url]
    else:
        path = ROOT / "bench" / "out" / "pgbench_script.sql"
        path.parent.mkdir(exist_ok=True)
        path.write_text(script)
        args = [
            "pgbench",
            "-n",
            "-f",
            str(path),
            "-c",
            str(clients),
            "-j",
            str(min(clients, 2)),
            "-T",
            str(seconds),
            url,
        ]
    if prepared:
        args[1:1] = ["-M", "prepared"]
    with tempfile.TemporaryDirectory() as logs:
        if latencies is not None:
            args[1:1] = ["-l", "--log-prefix", str(Path(logs) / "pgbench")]
        result = subprocess.run(args, check=True, capture_output=True, text=True)
        for log in Path(logs).iterdir():
            for line in log.read_text().splitlines():
                latencies.append(int(line.split()[2]) / 1e6)  # type: ignore[union-attr]
    match = re.search(r"tps = ([0-9.]+)", result.stdout)
    if not match:
        raise RuntimeError(f"pgbench printed no tps:\n{result.stdout}\n{result.stderr}")
    return float(match.group(1))


_WORK: Callable[[int, int], None] | None = None


def _worker_loop(args: tuple[int, int]) -> list[float]:
    from django.db import connections

    worker, count = args
    connections.close_all()  # never share the parent's socket
    latencies = []
    try:
        for i in range(count):
            started = time.perf_counter()
            assert _WORK is not None
            _WORK(worker, i)
            latencies.append(time.perf_counter() - started)
    finally:
        connections.close_all()
    return latencies


def run_workers(
    work: Callable[[int, int], None], *, workers: int, operations: int
) -> tuple[float, list[float]]:
    """Run ``operations`` calls of ``work(worker, i)`` on ``workers`` forked processes.

    Processes, not threads: production runs gunicorn and Celery worker
    processes, and threads would measure the GIL instead of the database.
    Returns (operations per second, per-call latencies in seconds).
    """
    global _WORK
    from django.db import connections

    _WORK = work
    connections.close_all()
    per_worker = operations // workers
    context = multiprocessing.get_context("fork")
    with context.Pool(workers) as pool:
        started = time.perf_counter()
        chunks = pool.map(_worker_loop, [(w, per_worker) for w in range(workers)])
        elapsed = time.perf_counter() - started
    flat = [value for chunk in chunks for value in chunk]
    return len(flat) / elapsed, flat


def percentile(values: Sequence[float], pct: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else 0.0
