"""A read storm on one hot market while it trades: with the read caches, without, and writers alone.

    .venv/bin/python bench/reads.py [--seconds 30] [--readers 64] [--writers 8] [--quick]

Starts gunicorn with ``predictmarket/gunicorn_conf.py`` (its workers and
threads, ``PROMETHEUS_MULTIPROC_DIR`` so ``/metrics`` sums the workers) on a
scratch PostgreSQL database and Redis (``BENCH_REDIS_URL``, default
``redis://127.0.0.1:6379/14``, emptied first; the cache and the rate-limit keys
live there under the ``pm`` prefix). Then, for ``--seconds`` each:

1. **cached**: ``--writers`` processes place bets through ``bet_place`` on
   ONE hot market (as the bot and the API workers do) while ``--readers``
   concurrent HTTP clients (aiohttp, in two processes) poll that market's API
   detail, the API market list and the public market page in turn (sending
   ``If-None-Match`` with the last ``ETag`` a page gave them, as pollers do);
2. **uncached**: the same, with gunicorn restarted with
   ``READ_CACHE_ENABLED=false``;
3. **writers alone**: no readers, no server.

Each phase has a hot market of its own, made at seeding with the others, so
each starts from no trades (a market's reads cost more as its trades grow:
the chart's history is read from them) and the list polled is the same in
every phase.

Reported: reads/s, read p50/p99 and gunicorn's CPU per read (its master and
workers, from ``/proc``) for 1 and 2, the cache hit rate of 1 (from
``/metrics``: ``predictmarket_cache_reads_total{kind,result}``, all kinds),
the writers' rate in 1 against 3, and the net-worth leaderboard's p99 from
``bench/leaderboard.py`` (run as a subprocess; ``--quick`` runs its quick
mode). Every read must answer 200 (or 304); any other status fails the run.
The last line is machine-readable:

    RESULT hit_rate=<…> read_p99_ms=<…> read_speedup=<…> writer_keep=<…> worth_lb_p99_ms=<…>
      worth_lb_cold_p99_ms=<…>

``read_p99_ms`` is the cached phase's; ``worth_lb_p99_ms`` is the net-worth
board served from its cache (the caller's own rank live),
``worth_lb_cold_p99_ms`` the same board computed from the database each time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, median, percentile, process_cpu_seconds, setup_django

GUILD_ID = 900_000_000_000_000_005
READER_PROCESSES = 2
METRIC = re.compile(
    r'^predictmarket_cache_reads_total\{kind="([^"]*)",result="([^"]*)"\} ([0-9.e+]+)$',
    re.MULTILINE,
)
TARGETS = {"hit_rate": 0.80, "read_p99_ms": 50.0, "read_speedup": 5.0, "writer_keep": 0.90}


# Each phase trades on a hot market of its own, all made at seeding: every phase starts
# from no trades (a market's reads cost more as its trades grow: the chart's history is
# read from them) and polls the same market list.
PHASES = ("cached", "uncached", "alone")


@dataclass(frozen=True)
class Scene:
    market_id: int
    reader_key: str
    writer_ids: list[int]
    hot_markets: dict[str, int]

    def phase(self, name: str) -> Scene:
        """The scene with ``name``'s own hot market."""
        return replace(self, market_id=self.hot_markets[name])


@dataclass(frozen=True)
class Reads:
    count: int
    seconds: float
    latencies: list[float]
    statuses: dict[int, int]

    @property
    def per_second(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--readers", type=int, default=64)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument(
        "--leaderboard-members", type=int, default=100_000, help="0 skips the leaderboard"
    )
    parser.add_argument("--quick", action="store_true", help="5 s phases, a smaller leaderboard")
    args = parser.parse_args()
    if args.quick:
        args.seconds = 5

    os.environ["REDIS_URL"] = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
    os.environ.pop("CELERY_BROKER_URL", None)  # the broker follows REDIS_URL (database 14)
    setup_django("predictmarket_bench_reads")
    from django.core.cache import cache

    # The database is new, the cache is not: a previous run's latest-version pointers
    # (forward only) would stand ahead of this run's markets, which reuse their ids, and
    # every read of the hot market would miss and rebuild until they expired.
    cache.clear()
    scene = seed(args.writers)
    from django.db import connections

    connections.close_all()  # the server, writers and readers must not share this socket

    phases: dict[str, tuple[Reads, float, dict[str, float]]] = {}
    server_cpu: dict[str, float] = {}
    for name, cache_on in (("cached", True), ("uncached", False)):
        with gunicorn(read_cache=cache_on) as (base_url, server_pid):
            warm(base_url, scene.phase(name))
            before = cache_reads(base_url)
            cpu_before = process_tree_cpu_seconds(server_pid)
            reads, writes = storm(base_url, scene.phase(name), args)
            server_cpu[name] = process_tree_cpu_seconds(server_pid) - cpu_before
            after = cache_reads(base_url)
        delta = {key: after.get(key, 0.0) - before.get(key, 0.0) for key in after}
        phases[name] = (reads, writes, delta)
    _, alone = storm(None, scene.phase("alone"), args)

    for name, (reads, writes, _) in phases.items():
        p50, p99 = median(reads.latencies) * 1000, percentile(reads.latencies, 99) * 1000
        cpu_per_read = server_cpu[name] / reads.count * 1000 if reads.count else 0.0
        print(
            f"{name:<9} {reads.per_second:8.0f} reads/s  p50 {p50:7.1f} ms  p99 {p99:7.1f} ms"
            f"   writers {writes:6.1f} bets/s   statuses {dict(sorted(reads.statuses.items()))}"
            f"   gunicorn CPU {cpu_per_read:5.1f} ms/read"
        )
    print(f"writers alone                                             {alone:6.1f} bets/s")
    cached, cached_writes, counts = phases["cached"]
    uncached = phases["uncached"][0]
    hit_rate = hit_rate_of(counts)
    for kind in sorted({k for k, _ in counts}):
        hits, misses = counts.get((kind, "hit"), 0), counts.get((kind, "miss"), 0)
        errors = counts.get((kind, "error"), 0)
        print(f"  cache {kind:<18} hit {hits:8.0f}  miss {misses:8.0f}  error {errors:6.0f}")
    figures = {
        "hit_rate": hit_rate,
        "read_p99_ms": percentile(cached.latencies, 99) * 1000,
        "read_speedup": cached.per_second / uncached.per_second if uncached.per_second else 0.0,
        "writer_keep": cached_writes / alone if alone else 0.0,
    }
    for name, target in TARGETS.items():
        ok = figures[name] < target if name == "read_p99_ms" else figures[name] >= target
        print(f"  {name:<13} {figures[name]:9.3f}  target {target}  {'ok' if ok else 'MISSED'}")
    worth, worth_cold = leaderboard_p99(args)
    print(
        f"RESULT hit_rate={figures['hit_rate']:.3f} read_p99_ms={figures['read_p99_ms']:.1f} "
        f"read_speedup={figures['read_speedup']:.2f} writer_keep={figures['writer_keep']:.3f} "
        f"worth_lb_p99_ms={worth:.1f} worth_lb_cold_p99_ms={worth_cold:.1f}"
    )


def seed(writers: int) -> Scene:
    """A public guild, a rich member per writer, a reader's API key, a hot market per phase."""
    from markets.services import market_create
    from points.api_tokens import api_token_issue
    from points.models import Guild
    from points.services import guild_ensure, member_ensure

    guild_ensure(guild_id=GUILD_ID, name="bench")
    Guild.objects.filter(pk=GUILD_ID).update(
        starting_balance=10**9, default_liquidity=100_000, public_pages=True
    )
    members = [member_ensure(guild_id=GUILD_ID, discord_id=10**17 + i) for i in range(writers + 1)]
    hot = {
        name: market_create(
            creator=members[0],
            question=f"Hot market ({name})",
            options=["A", "B", "C", "D"],
            duration=timedelta(days=1),
            actor="bench",
            bypass_rate_limit=True,
        ).pk
        for name in PHASES
    }
    for n in range(20):  # a few quieter markets, so the list is not a single row
        market_create(
            creator=members[0],
            question=f"Quiet market {n}",
            options=["Yes", "No"],
            duration=timedelta(days=2),
            actor="bench",
            bypass_rate_limit=True,
        )
    reader_key = api_token_issue(member=members[0], actor="bench").key
    return Scene(hot["cached"], reader_key, [m.pk for m in members[1:]], hot)


@contextmanager
def gunicorn(*, read_cache: bool) -> Iterator[tuple[str, int]]:
    """gunicorn with predictmarket/gunicorn_conf.py on a free loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    metrics_dir = tempfile.mkdtemp(prefix="pm-bench-metrics-")
    env = {
        **os.environ,
        "PORT": str(port),
        "SECURE_SSL_REDIRECT": "false",
        "READ_CACHE_ENABLED": "true" if read_cache else "false",
        "PROMETHEUS_MULTIPROC_DIR": metrics_dir,
    }
    log = ROOT / "bench" / "out" / f"reads_gunicorn_{'cached' if read_cache else 'uncached'}.log"
    log.parent.mkdir(exist_ok=True)
    with log.open("wb") as out:
        server = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "-c",
                str(ROOT / "predictmarket" / "gunicorn_conf.py"),
                "--bind",
                f"127.0.0.1:{port}",
                "predictmarket.wsgi",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_live(server, base_url, log)
        yield base_url, server.pid
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        shutil.rmtree(metrics_dir, ignore_errors=True)


def process_tree_cpu_seconds(pid: int) -> float:
    """CPU of a process and its live children (gunicorn's master and workers), from /proc."""
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        total += process_cpu_seconds(current) or 0.0
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{current}/task").iterdir():
                pending.extend(int(child) for child in (task / "children").read_text().split())
    return total


def wait_until_live(server: subprocess.Popen, base_url: str, log: Path) -> None:
    import requests

    deadline = time.monotonic() + 60
    while True:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited; see {log}")
        with contextlib.suppress(requests.RequestException):  # not listening yet
            if requests.get(f"{base_url}/health/live", timeout=2).status_code == 200:
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"gunicorn did not start; see {log}")
        time.sleep(0.2)


def read_urls(base_url: str, scene: Scene) -> list[str]:
    return [
        f"{base_url}/api/v1/markets/{scene.market_id}/",
        f"{base_url}/api/v1/markets/",
        f"{base_url}/g/{GUILD_ID}/markets/{scene.market_id}/",
    ]


def warm(base_url: str, scene: Scene) -> None:
    """One read of each URL per worker thread or so, so no phase times imports or connects."""
    import requests

    headers = {"Authorization": f"Bearer {scene.reader_key}"}
    for _ in range(8):
        for url in read_urls(base_url, scene):
            response = requests.get(url, headers=headers, timeout=30)
            if response.status_code != 200:
                raise RuntimeError(f"GET {url}: {response.status_code} {response.text[:300]}")


def cache_reads(base_url: str) -> dict[tuple[str, str], float]:
    import requests

    text = requests.get(f"{base_url}/metrics", timeout=30).text
    return {(kind, result): float(value) for kind, result, value in METRIC.findall(text)}


def hit_rate_of(counts: dict[tuple[str, str], float]) -> float:
    hits = sum(v for (_, result), v in counts.items() if result == "hit")
    lookups = sum(v for (_, result), v in counts.items() if result in {"hit", "miss", "error"})
    return hits / lookups if lookups else 0.0


# ------------------------------------------------------------------------------
# Writers: processes placing bets through the service, as the bot and API do
# ------------------------------------------------------------------------------
def _writer(
    member_id: int,
    market_id: int,
    seconds: float,
    start: multiprocessing.synchronize.Barrier,
    results: multiprocessing.Queue,
) -> None:
    from django.db import connections

    from betting.services import bet_place
    from points.models import Member

    connections.close_all()  # never the parent's socket
    member = Member.objects.get(pk=member_id)
    rng = random.Random(member_id)
    bets = 0
    start.wait(timeout=120)
    began = time.perf_counter()
    while time.perf_counter() - began < seconds:
        bet_place(
            member=member,
            market_id=market_id,
            outcome_index=rng.randrange(4),
            amount=rng.randint(1, 50),
            idempotency_key=f"reads-{member_id}-{time.time_ns()}-{bets}",
            bypass_rate_limit=True,
        )
        bets += 1
    results.put(("writer", bets, time.perf_counter() - began))
    connections.close_all()


# ------------------------------------------------------------------------------
# Readers: aiohttp clients, a share of them in each reader process
# ------------------------------------------------------------------------------
def _readers(
    base_url: str,
    scene: Scene,
    clients: int,
    seconds: float,
    start: multiprocessing.synchronize.Barrier,
    results: multiprocessing.Queue,
) -> None:
    results.put(("reader", *asyncio.run(_read_storm(base_url, scene, clients, seconds, start))))


async def _read_storm(
    base_url: str, scene: Scene, clients: int, seconds: float, start: object
) -> tuple[list[float], dict[int, int], float]:
    import aiohttp

    urls = read_urls(base_url, scene)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    headers = {"Authorization": f"Bearer {scene.reader_key}"}
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(
        connector=connector, headers=headers, timeout=aiohttp.ClientTimeout(total=60)
    ) as session:
        await asyncio.get_running_loop().run_in_executor(None, start.wait, 120)  # type: ignore[attr-defined]
        began = time.perf_counter()

        async def client(n: int) -> None:
            etags: dict[str, str] = {}  # a poller revalidates what it has (304 when unchanged)
            i = n
            while time.perf_counter() - began < seconds:
                url = urls[i % len(urls)]
                i += 1
                conditional = {"If-None-Match": etags[url]} if url in etags else {}
                sent = time.perf_counter()
                async with session.get(url, headers=conditional) as response:
                    await response.read()
                latencies.append(time.perf_counter() - sent)
                statuses[response.status] = statuses.get(response.status, 0) + 1
                if "ETag" in response.headers:
                    etags[url] = response.headers["ETag"]

        await asyncio.gather(*(client(n) for n in range(clients)))
        elapsed = time.perf_counter() - began
    return latencies, statuses, elapsed


def storm(base_url: str | None, scene: Scene, args: argparse.Namespace) -> tuple[Reads, float]:
    """Writers (and readers, given a server) for ``args.seconds``: reads and bets per second."""
    context = multiprocessing.get_context("fork")
    reader_processes = READER_PROCESSES if base_url else 0
    start = context.Barrier(len(scene.writer_ids) + reader_processes)
    results = context.Queue()
    processes = [
        context.Process(
            target=_writer, args=(member_id, scene.market_id, args.seconds, start, results)
        )
        for member_id in scene.writer_ids
    ]
    for n in range(reader_processes):
        share = args.readers // reader_processes + (n < args.readers % reader_processes)
        processes.append(
            context.Process(
                target=_readers, args=(base_url, scene, share, args.seconds, start, results)
            )
        )
    for process in processes:
        process.start()
    finished = [results.get(timeout=args.seconds + 300) for _ in processes]
    for process in processes:
        process.join(timeout=60)
        if process.exitcode != 0:
            raise RuntimeError(f"a writer or reader failed (exit code {process.exitcode})")
    bets = sum(f[1] / f[2] for f in finished if f[0] == "writer")
    latencies = [value for f in finished if f[0] == "reader" for value in f[1]]
    statuses: dict[int, int] = {}
    for f in finished:
        if f[0] == "reader":
            for status, count in f[2].items():
                statuses[status] = statuses.get(status, 0) + count
    bad = {s: c for s, c in statuses.items() if s not in {200, 304}}
    if bad:
        raise RuntimeError(f"reads answered {bad}; see bench/out/reads_gunicorn_*.log")
    seconds = max((f[3] for f in finished if f[0] == "reader"), default=0.0)
    return Reads(len(latencies), seconds, latencies, statuses), bets


def leaderboard_p99(args: argparse.Namespace) -> tuple[float, float]:
    """bench/leaderboard.py's net-worth p99, cached and cold (its RESULT line)."""
    command = [sys.executable, str(ROOT / "bench" / "leaderboard.py")]
    command += ["--quick"] if args.quick else ["--members", str(args.leaderboard_members)]
    if args.leaderboard_members == 0:
        return float("nan"), float("nan")
    result = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, check=True, timeout=3600
    )
    found = re.search(r"worth_cold_p99_ms=([0-9.]+) worth_cached_p99_ms=([0-9.]+)", result.stdout)
    if not found:
        raise RuntimeError(f"bench/leaderboard.py printed no RESULT:\n{result.stdout}")
    for line in result.stdout.splitlines():
        if line.startswith(("net worth", "seeded")):
            print(f"  leaderboard: {line}")
    return float(found.group(2)), float(found.group(1))


if __name__ == "__main__":
    main()
