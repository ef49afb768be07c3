"""Shared set-up for benchmarks: a scratch PostgreSQL database, Django, pgbench.

Benchmarks print figures; they are not tests. Each runs against its own
database (created fresh) on the server named by ``BENCH_DATABASE_URL`` or, by
default, the local one CI uses. When that URL names a database other than
``postgres`` (``…/pm_d``), its name prefixes the bench's own (``pm_d_bench_bets``),
so people sharing a server never drop each other's bench database.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SERVER = "postgres://predictmarket@127.0.0.1:5432/postgres"


def scratch_database(db_name: str) -> str:
    """Create an empty database for ``db_name`` (dropping any left over); its URL."""
    parts = urlsplit(os.environ.get("BENCH_DATABASE_URL", DEFAULT_SERVER))
    owner = parts.path.strip("/")
    if owner and owner != "postgres":
        db_name = f"{owner}_{db_name.removeprefix('predictmarket_')}"
    admin = parts._replace(path="/postgres").geturl()
    _psql(admin, f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
    _psql(admin, f'CREATE DATABASE "{db_name}"')
    return parts._replace(path=f"/{db_name}").geturl()


def drop_database(url: str) -> None:
    parts = urlsplit(url)
    admin = parts._replace(path="/postgres").geturl()
    _psql(admin, f'DROP DATABASE IF EXISTS "{parts.path.strip("/")}" WITH (FORCE)')


def setup_django(db_name: str) -> str:
    """Create a fresh database for ``db_name``, point Django at it and migrate."""
    url = scratch_database(db_name)
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
    scale: int = 1,
) -> float:
    """The server's transactions per second for TPC-B-like or a custom script.

    ``latencies``, when given, receives every transaction's latency in seconds
    (pgbench's per-transaction log). TPC-B (no ``script``) first initialises
    pgbench's tables at ``scale`` (that many branches, the rows its
    transactions contend on).
    """
    if script is None:
        subprocess.run(
            ["pgbench", "-i", "-q", "-s", str(scale), url], check=True, capture_output=True
        )
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


def _timed_loop(args: tuple[int, float]) -> list[float]:
    """Call ``_WORK`` back to back until ``deadline`` (time.monotonic()); each call's latency."""
    from django.db import connections

    worker, deadline = args
    connections.close_all()  # never share the parent's socket
    latencies = []
    try:
        i = 0
        while time.monotonic() < deadline:
            started = time.perf_counter()
            assert _WORK is not None
            _WORK(worker, i)
            latencies.append(time.perf_counter() - started)
            i += 1
    finally:
        connections.close_all()
    return latencies


def run_workers_for(
    work: Callable[[int, int], None], *, workers: int, seconds: float
) -> tuple[float, list[float]]:
    """Like ``run_workers``, for ``seconds`` instead of a count (as pgbench -T runs).

    The rate counts the calls finished over the time until the last one finished.
    """
    global _WORK
    from django.db import connections

    _WORK = work
    connections.close_all()
    context = multiprocessing.get_context("fork")
    with context.Pool(workers) as pool:
        started = time.monotonic()
        deadline = started + seconds
        chunks = pool.map(_timed_loop, [(w, deadline) for w in range(workers)])
        elapsed = time.monotonic() - started
    flat = [value for chunk in chunks for value in chunk]
    return len(flat) / elapsed, flat


def poisson_arrivals(rate: float, seconds: float, *, seed: int) -> list[float]:
    """Arrival offsets (seconds from the start) of a Poisson process at ``rate`` per second."""
    rng = random.Random(seed)
    arrivals = []
    at = rng.expovariate(rate)
    while at < seconds:
        arrivals.append(at)
        at += rng.expovariate(rate)
    return arrivals


@dataclass(frozen=True)
class OpenLoopResult:
    offered: int  # arrivals scheduled
    seconds: float  # from the first scheduled arrival's origin to the last answer
    # Per arrival, seconds from its scheduled time until a worker began it, and until answered.
    start_delays: list[float]
    latencies: list[float]
    # Arrivals no worker was free to take at their time (the others began late,
    # if at all, only by the operating system's wake-up delay).
    waited_for_worker: int

    @property
    def achieved_per_s(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def late(self, threshold: float) -> int:
        return sum(1 for delay in self.start_delays if delay > threshold)


_OPEN_SCHEDULE: Sequence[float] = ()


def _open_loop_worker(
    worker: int,
    start: Any,
    origin: Any,
    claimed: Any,
    results: Any,
    warm_up: Callable[[int], None],
) -> None:
    """Take the next unclaimed arrival, wait for its time, run it; until none is left.

    The schedule is fixed before the run, so arrivals never depend on
    completions; a free worker claims the earliest arrival not yet taken, so an
    arrival waits only when every worker is busy (it is then "late to start").
    """
    from django.db import connections

    connections.close_all()  # never share the parent's socket
    rows: list[tuple[float, float, bool]] = []
    error = ""
    try:
        warm_up(worker)  # the connection is open (and warm, if it bets) before the first arrival
        start.wait()  # every worker is ready, and the origin is set
        zero = origin.value
        while True:
            with claimed.get_lock():
                index = claimed.value
                claimed.value += 1
            if index >= len(_OPEN_SCHEDULE):
                break
            due = zero + _OPEN_SCHEDULE[index]
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            started = time.monotonic()
            assert _WORK is not None
            _WORK(worker, index)
            rows.append((started - due, time.monotonic() - due, pause < 0))
    except Exception:  # reported to the parent, which fails the run
        error = traceback.format_exc(limit=4)
        start.abort()  # the others are not left waiting for this one
        raise
    finally:
        connections.close_all()
        results.put((rows, error, time.monotonic()))


def run_open_loop(
    work: Callable[[int, int], None],
    *,
    arrivals: Sequence[float],
    workers: int,
    warm_up: Callable[[int], None],
) -> OpenLoopResult:
    """Run ``work(worker, i)`` for each arrival at its scheduled time, on ``workers`` processes.

    Latency is measured from the scheduled arrival, not from when a worker got
    to it: time spent waiting for a free worker counts (the coordinated-omission
    trap a closed loop falls into).
    """
    global _WORK, _OPEN_SCHEDULE
    from django.db import connections

    _WORK, _OPEN_SCHEDULE = work, arrivals
    connections.close_all()
    context = multiprocessing.get_context("fork")
    claimed = context.Value("i", 0)
    results = context.Queue()
    # The clock starts once every process has forked, connected and warmed up
    # (the barrier's action runs once, in the last process to arrive).
    origin = context.Value("d", 0.0)

    def set_origin() -> None:
        origin.value = time.monotonic() + 0.1

    start = context.Barrier(workers, action=set_origin)
    processes = [
        context.Process(
            target=_open_loop_worker, args=(w, start, origin, claimed, results, warm_up)
        )
        for w in range(workers)
    ]
    for process in processes:
        process.start()
    outcomes = [results.get() for _ in processes]
    for process in processes:
        process.join()
    errors = [error for _, error, _ in outcomes if error]
    if errors:
        raise RuntimeError(f"open-loop workers failed: {errors[:3]}")
    rows = [row for chunk, _, _ in outcomes for row in chunk]
    finished = max(end for _, _, end in outcomes)
    return OpenLoopResult(
        offered=len(arrivals),
        seconds=finished - origin.value,
        start_delays=[delay for delay, _, _ in rows],
        latencies=[latency for _, latency, _ in rows],
        waited_for_worker=sum(1 for _, _, waited in rows if waited),
    )


def percentile(values: Sequence[float], pct: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else 0.0


def process_cpu_seconds(pid: int, ticks: int | None = None) -> float | None:
    """User + system CPU of a live process (all its threads), from /proc; None once gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            # The fields after the command's closing parenthesis: utime, stime are 14 and 15.
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / (ticks or os.sysconf("SC_CLK_TCK"))


class WorkCpu:
    """CPU time the benchmark's own processes spend while a ``with`` block runs.

    The clients are this process's children (forked workers, pgbench), counted
    by ``getrusage`` once they are reaped; the server side is every
    PostgreSQL backend connected to ``database`` during the block, sampled
    from ``/proc`` by a thread (the last sample of each backend counts, so a
    backend's last tenth of a second may be missed). Other work on the
    machine is not counted, so the cost per operation holds on a shared
    machine; the ceiling ``cores / cost`` is what this work alone could reach
    if CPU were its only limit.
    """

    cores = os.cpu_count() or 1

    def __init__(self, url: str, database: str) -> None:
        self.url, self.database = url, database

    def __enter__(self) -> WorkCpu:
        import resource
        import threading

        import psycopg

        self._children = resource.getrusage(resource.RUSAGE_CHILDREN)
        self._backends: dict[int, float] = {}
        self._stop = threading.Event()
        self._conn = psycopg.connect(self.url, autocommit=True)
        self._mine = self._conn.info.backend_pid
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        ticks = os.sysconf("SC_CLK_TCK")
        while not self._stop.wait(0.1):
            pids = [
                pid
                for (pid,) in self._conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = %s", [self.database]
                )
                if pid != self._mine
            ]
            for pid in pids:
                seconds = process_cpu_seconds(pid, ticks)
                if seconds is not None:
                    self._backends[pid] = seconds

    def __exit__(self, *exc: object) -> None:
        import resource

        self._stop.set()
        self._thread.join()
        self._conn.close()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.client_seconds = (after.ru_utime - self._children.ru_utime) + (
            after.ru_stime - self._children.ru_stime
        )
        self.server_seconds = sum(self._backends.values())

    def per_operation_ms(self, operations: int) -> tuple[float, float]:
        """(client, server) CPU milliseconds per operation."""
        n = max(operations, 1)
        return self.client_seconds / n * 1000, self.server_seconds / n * 1000

    def ceiling_per_s(self, operations: int) -> float:
        client, server = self.per_operation_ms(operations)
        return self.cores / ((client + server) / 1000)


class LockHolderSampler:
    """What the backend holding a hot row's lock is doing, sampled while a ``with`` block runs.

    Every ``interval`` seconds a thread reads ``pg_stat_activity`` for
    ``database``'s client backends. The holder is the backend, in a
    transaction and not waiting for a lock, whose current (or, idle, last)
    statement starts with one of ``holding``: the locking read (first; done,
    the backend holds the lock) or a statement sent after it in the same
    transaction. A transaction just begun, or any other, is not the holder.
    Each sample counts once: no one holds the lock (``free``); the holder
    waits for its client (``client``: idle in transaction, or reading the
    client's next message); it runs a statement on the CPU (``server``); it
    writes or flushes the WAL at commit, or waits for another backend's
    flush (``wal``); any other wait (``other``). The sampling costs a little
    CPU, so run it apart from the runs whose rate is reported.
    """

    def __init__(self, url: str, database: str, *, holding: Sequence[str], interval: float = 0.002):
        self.url, self.database, self.holding, self.interval = url, database, holding, interval
        self.counts: dict[str, int] = dict.fromkeys(("free", "client", "server", "wal", "other"), 0)

    def __enter__(self) -> LockHolderSampler:
        import threading

        import psycopg

        self._stop = threading.Event()
        self._conn = psycopg.connect(self.url, autocommit=True)
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        query = (
            "SELECT state, wait_event_type, wait_event, query FROM pg_stat_activity"
            " WHERE datname = %s AND backend_type = 'client backend'"
            " AND pid <> pg_backend_pid() AND xact_start IS NOT NULL"
            " AND wait_event_type IS DISTINCT FROM 'Lock'"
        )
        locking = self.holding[0]
        while not self._stop.wait(self.interval):
            rows = [
                row
                for row in self._conn.execute(query, [self.database])
                if row[3].lstrip().startswith(tuple(self.holding))
            ]
            # A locking read still running may be about to wait behind the holder:
            # a backend past it (idle after it, or in a later statement) holds the lock.
            past = [r for r in rows if r[0] != "active" or not r[3].lstrip().startswith(locking)]
            holder = (past or rows or [None])[0]
            self.counts[self._kind(holder)] += 1

    @staticmethod
    def _kind(holder: tuple[str, str | None, str | None, str] | None) -> str:
        if holder is None:
            return "free"
        state, wait_type, wait, _ = holder
        if state == "idle in transaction" or wait_type == "Client":
            return "client"
        if wait_type is None:
            return "server"
        if wait in ("WALSync", "WALWrite", "WALInsert"):  # IO, or LWLock for another's flush
            return "wal"
        return "other"

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._conn.close()

    def shares(self) -> dict[str, float]:
        """Each kind's share of the samples in which the lock was held."""
        held = sum(n for kind, n in self.counts.items() if kind != "free") or 1
        return {kind: n / held for kind, n in self.counts.items() if kind != "free"}

    def held_share(self) -> float:
        total = sum(self.counts.values()) or 1
        return 1 - self.counts["free"] / total
