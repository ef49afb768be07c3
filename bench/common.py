"""Shared set-up for benchmarks: a scratch PostgreSQL database, Django, pgbench.

Benchmarks print figures; they are not tests. Each runs against its own
database (created fresh) on the server named by ``BENCH_DATABASE_URL`` or, by
default, the local one CI uses.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
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
    os.environ.setdefault("DATABASE_POOL_MAX_SIZE", "32")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return url


def _psql(url: str, sql: str) -> None:
    subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql], check=True)


def pgbench_tps(url: str, *, clients: int, seconds: int, script: str | None = None) -> float:
    """The server's transactions per second for TPC-B-like or a custom script."""
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
    result = subprocess.run(args, check=True, capture_output=True, text=True)
    match = re.search(r"tps = ([0-9.]+)", result.stdout)
    if not match:
        raise RuntimeError(f"pgbench printed no tps:\n{result.stdout}\n{result.stderr}")
    return float(match.group(1))


def run_workers(
    work: Callable[[int, int], None], *, workers: int, operations: int
) -> tuple[float, list[float]]:
    """Run ``operations`` calls of ``work(worker, i)`` on ``workers`` threads.

    Returns (operations per second, per-call latencies in seconds).
    """
    from django.db import connection

    per_worker = operations // workers
    latencies: list[list[float]] = [[] for _ in range(workers)]

    def loop(worker: int) -> None:
        try:
            for i in range(per_worker):
                started = time.perf_counter()
                work(worker, i)
                latencies[worker].append(time.perf_counter() - started)
        finally:
            connection.close()

    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(loop, range(workers)))
    elapsed = time.perf_counter() - started
    flat = [value for chunk in latencies for value in chunk]
    return len(flat) / elapsed, flat


def percentile(values: Sequence[float], pct: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else 0.0
