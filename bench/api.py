"""Bets per second through the REST API (gunicorn on PostgreSQL), against the service alone.

    .venv/bin/python bench/api.py [--bets N] [--clients 8] [--workers 4] [--threads 1]

Starts ``gunicorn predictmarket.wsgi`` (gthread workers, so keep-alive works) on
a loopback port with a scratch database, then 8 client processes, each with its
own member's key and a keep-alive ``requests`` session, place bets with
``POST /api/v1/markets/<id>/bets/`` on ONE hot market (4 options, as in
bench/bets.py). Rate limits are off (``setup_django`` sets
RATE_LIMITS_ENABLED=false): this measures the API, not the limiter.

Then, with the server stopped, ``bench/bets.py`` runs as a subprocess with
fewer operations, and its 8-worker service-level rate is the yardstick: the
API should keep at least half of it, with p99 under 50 ms. The last line is
machine-readable:

    RESULT api_bets_per_s=<...> service_bets_per_s=<...> ratio=<...> p99_ms=<...>
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, percentile, setup_django

GUILD_ID = 900_000_000_000_000_003
WARMUP_BETS = 5
TARGET_RATIO = 0.5
TARGET_P99_MS = 50.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bets", type=int, default=2400, help="API bets, all clients together")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=1, help="threads per gunicorn worker")
    parser.add_argument(
        "--service-operations", type=int, default=1600, help="bets per run of bench/bets.py"
    )
    args = parser.parse_args()

    setup_django("predictmarket_bench_api")
    keys, market_id = seed(args.clients)
    from django.db import connections

    connections.close_all()  # the server and the clients must not share this socket

    with gunicorn(workers=args.workers, threads=args.threads) as base_url:
        rate, latencies = run_clients(base_url, market_id, keys, args.bets // args.clients)
    check_trades(market_id, expected=len(latencies) + WARMUP_BETS * len(keys))
    p50, p99 = percentile(latencies, 50) * 1000, percentile(latencies, 99) * 1000
    print(
        f"API, {args.clients} clients, gunicorn {args.workers} worker(s) x {args.threads} "
        f"thread(s): {rate:7.0f} bets/s  p50 {p50:.2f} ms  p99 {p99:.2f} ms"
    )

    service = service_rate(args.service_operations)
    ratio = rate / service
    print(f"service (bench/bets.py, 8 workers): {service:7.0f} bets/s")
    print(
        f"ratio API/service: {ratio:.2%} (target >= {TARGET_RATIO:.0%}; "
        f"p99 {p99:.1f} ms, target < {TARGET_P99_MS:.0f} ms)"
    )
    print(
        f"RESULT api_bets_per_s={rate:.0f} service_bets_per_s={service:.0f} "
        f"ratio={ratio:.3f} p99_ms={p99:.1f}"
    )


def seed(clients: int) -> tuple[list[str], int]:
    """A rich guild, one member and key per client, one hot 4-option market."""
    from markets.services import market_create
    from points.api_tokens import api_token_issue
    from points.models import Guild
    from points.services import guild_ensure, member_ensure

    guild_ensure(guild_id=GUILD_ID, name="bench")
    Guild.objects.filter(pk=GUILD_ID).update(starting_balance=10**9, default_liquidity=100_000)
    members = [member_ensure(guild_id=GUILD_ID, discord_id=10**17 + i) for i in range(clients)]
    market = market_create(
        creator=members[0],
        question="Hot market",
        options=["A", "B", "C", "D"],
        duration=timedelta(days=1),
        actor="bench",
        bypass_rate_limit=True,
    )
    keys = [api_token_issue(member=m, actor="bench").key for m in members]
    return keys, market.pk


@contextmanager
def gunicorn(*, workers: int, threads: int) -> Iterator[str]:
    """gunicorn on a free loopback port with this process's (bench) settings."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "SECURE_SSL_REDIRECT": "false", "LOG_LEVEL": "error"}
    log = ROOT / "bench" / "out" / "api_gunicorn.log"
    log.parent.mkdir(exist_ok=True)
    with log.open("wb") as out:
        server = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "predictmarket.wsgi",
                "--bind",
                f"127.0.0.1:{port}",
                # gthread, even with one thread: the sync worker closes every connection.
                "--worker-class",
                "gthread",
                "--workers",
                str(workers),
                "--threads",
                str(threads),
                "--keep-alive",
                "30",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"gunicorn exited; see {log}")
            with contextlib.suppress(requests.RequestException):  # not listening yet
                if requests.get(f"{base_url}/health/live", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not start; see {log}")
            time.sleep(0.2)
        yield base_url
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _client(
    base_url: str,
    market_id: int,
    key: str,
    client: int,
    bets: int,
    start: multiprocessing.synchronize.Barrier,
    results: multiprocessing.Queue,
) -> None:
    rng = random.Random(client)
    session = requests.Session()  # keep-alive: one connection for all of this client's bets
    session.headers["Authorization"] = f"Bearer {key}"
    bet_url = f"{base_url}/api/v1/markets/{market_id}/bets/"

    def bet(key_suffix: str) -> None:
        body = {"outcome": rng.randrange(4), "amount": rng.randint(1, 50)}
        response = session.post(
            bet_url, json=body, headers={"Idempotency-Key": f"c{client}-{key_suffix}"}, timeout=30
        )
        if response.status_code != 201:
            raise RuntimeError(f"bet refused: {response.status_code} {response.text[:300]}")

    for i in range(WARMUP_BETS):  # open the connection, warm the worker's caches
        bet(f"warm-{i}")
    start.wait(timeout=60)
    latencies = []
    began = time.perf_counter()
    for i in range(bets):
        sent = time.perf_counter()
        bet(str(i))
        latencies.append(time.perf_counter() - sent)
    results.put((began, time.perf_counter(), latencies))


def run_clients(
    base_url: str, market_id: int, keys: list[str], bets_each: int
) -> tuple[float, list[float]]:
    """Bets per second over all clients (first start to last finish), and every latency.

    Client processes, not threads: requests' per-call CPU under one GIL would
    cap the clients before the server.
    """
    context = multiprocessing.get_context("fork")
    start = context.Barrier(len(keys))
    results = context.Queue()
    processes = [
        context.Process(
            target=_client, args=(base_url, market_id, key, n, bets_each, start, results)
        )
        for n, key in enumerate(keys)
    ]
    for process in processes:
        process.start()
    finished = [results.get(timeout=600) for _ in processes]
    for process in processes:
        process.join(timeout=30)
        if process.exitcode != 0:
            raise RuntimeError(f"a client failed (exit code {process.exitcode})")
    began = min(f[0] for f in finished)
    ended = max(f[1] for f in finished)
    latencies = [value for f in finished for value in f[2]]
    return len(latencies) / (ended - began), latencies


def check_trades(market_id: int, *, expected: int) -> None:
    """Every 201 is one trade: no lost or doubled bets behind the throughput."""
    from betting.models import Trade

    trades = Trade.objects.filter(market_id=market_id).count()
    if trades != expected:
        raise RuntimeError(f"{trades} trades on the market, expected {expected}")


def service_rate(operations: int) -> float:
    """bench/bets.py's 8-worker rate (its RESULT line), on its own scratch database."""
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "bets.py"),
            "--operations",
            str(operations),
            "--pgbench-seconds",
            "2",
            "--settle-positions",
            "200",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=900,
    )
    match = re.search(r"^RESULT bets_per_s=([0-9.]+)", result.stdout, re.MULTILINE)
    if not match:
        raise RuntimeError(f"bench/bets.py printed no RESULT:\n{result.stdout}\n{result.stderr}")
    for line in result.stdout.splitlines():
        if line.startswith("bet_place"):
            print(f"  {line}")
    return float(match.group(1))


if __name__ == "__main__":
    main()
