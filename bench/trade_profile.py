"""Where one bet's time goes while it holds the market lock, phase by phase.

    .venv/bin/python bench/trade_profile.py [--bets N] [--explain]

A hot market's throughput is bounded by how long each bet holds the market
row's lock: from the locking read (round trip 1) through the market maker's
arithmetic in Python to the write that carries the COMMIT (round trip 2).
This places ``--bets`` bets one after another (one process, no contention)
and times each phase of ``bet_place`` with wall-clock and process-CPU clocks:

* ``lock_read``: ``lock_market_with_outcomes`` (round trip 1);
* ``python``: from its answer to the write call (checks, ``amm.buy``, the
  posting and the write's arguments) — Python work done under the lock;
* ``write``: the ``betting_trade_write`` call with its COMMIT (round trip 2);
* ``outside``: the rest of ``bet_place`` (before the lock and after commit).

For scale it also times, on the same connection, a bare round trip
(``SELECT 1``) and a one-row insert committed in the same round trip (the
fsync every commit pays). With ``--explain`` (needs a superuser
``BENCH_DATABASE_URL``: ``LOAD 'auto_explain'``) the server logs every
statement the function runs with its time, and the script prints the server
log's per-statement means.

Figures depend on the machine and on what else runs on it; compare the
phases of one run with each other.
"""

from __future__ import annotations

import argparse
import glob
import re
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import setup_django

GUILD_ID = 900_000_000_000_000_007
MEMBERS = 50


def _timed(phases: dict[str, list[tuple[float, float]]], name: str, fn: Callable[..., Any]):
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            phases[name].append((time.perf_counter() - wall, time.process_time() - cpu))

    return wrapper


def _ms(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"mean {statistics.fmean(samples) * 1000:6.3f} ms  p99 {p99 * 1000:6.3f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bets", type=int, default=2000)
    parser.add_argument("--explain", action="store_true")
    args = parser.parse_args()
    setup_django("predictmarket_bench_trade_profile")

    from django.db import connection, transaction

    import betting.services as services
    import betting.trade_writes as trade_writes
    from markets.services import market_create
    from points.models import Guild
    from points.services import guild_ensure, member_ensure

    guild_ensure(guild_id=GUILD_ID, name="bench")
    Guild.objects.filter(pk=GUILD_ID).update(starting_balance=10**9, default_liquidity=100_000)
    members = [member_ensure(guild_id=GUILD_ID, discord_id=10**17 + i) for i in range(MEMBERS)]
    market_id = market_create(
        creator=members[0],
        question="Where does the time go?",
        options=["A", "B", "C", "D"],
        duration=timedelta(days=1),
        actor="bench",
        bypass_rate_limit=True,
    ).pk

    phases: dict[str, list[tuple[float, float]]] = defaultdict(list)
    marks: dict[str, float] = {}
    real_lock = services.lock_market_with_outcomes
    real_write = trade_writes.fetch_all_prepared

    def lock(*a: Any, **k: Any) -> Any:
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            return real_lock(*a, **k)
        finally:
            now = time.perf_counter()
            phases["lock_read"].append((now - wall, time.process_time() - cpu))
            marks["locked"], marks["locked_cpu"] = now, time.process_time()

    def write(*a: Any, **k: Any) -> Any:
        wall, cpu = time.perf_counter(), time.process_time()
        phases["python"].append((wall - marks["locked"], cpu - marks["locked_cpu"]))
        try:
            return real_write(*a, **k)
        finally:
            phases["write"].append((time.perf_counter() - wall, time.process_time() - cpu))

    services.lock_market_with_outcomes = lock  # type: ignore[assignment]
    trade_writes.fetch_all_prepared = write  # type: ignore[assignment]
    place = _timed(phases, "bet_place", services.bet_place)

    if args.explain:
        with connection.cursor() as cursor:
            cursor.execute("LOAD 'auto_explain'")
            cursor.execute("SET auto_explain.log_min_duration = 0")
            cursor.execute("SET auto_explain.log_nested_statements = on")
            cursor.execute("SET auto_explain.log_analyze = on")
            cursor.execute("SET auto_explain.log_timing = off")
            cursor.execute("SET auto_explain.log_format = 'text'")
    warm = 200
    for i in range(args.bets + warm):
        if i == warm:
            phases.clear()
        place(
            member=members[i % MEMBERS],
            market_id=market_id,
            outcome_index=i % 4,
            amount=10 + i % 7,
            idempotency_key=f"profile-{i}",
            bypass_rate_limit=True,
        )

    bare: list[float] = []
    committed: list[float] = []
    for _ in range(500):
        start = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        bare.append(time.perf_counter() - start)
    from predictmarket.db import fetch_all_prepared

    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS profile_probe_log (id bigserial, at timestamptz)"
        )
    for _ in range(500):
        start = time.perf_counter()
        with transaction.atomic():
            fetch_all_prepared(
                "INSERT INTO profile_probe_log (at) VALUES (now()) RETURNING id",
                [],
                commit=True,
                prepare=True,
            )
        committed.append(time.perf_counter() - start)

    print(f"{args.bets} bets, one process, market #{market_id}")
    under_lock = list(zip(phases["lock_read"], phases["python"], phases["write"], strict=True))
    # The rest of bet_place: its whole time less the three phases under the lock.
    phases["outside"] = [
        (total[0] - sum(p[0] for p in locked), total[1] - sum(p[1] for p in locked))
        for total, locked in zip(phases["bet_place"], under_lock, strict=True)
    ]
    for name in ("bet_place", "outside", "lock_read", "python", "write"):
        wall = [s[0] for s in phases[name]]
        cpu = [s[1] for s in phases[name]]
        print(
            f"  {name:10s} wall {_ms(wall)}"
            f"   python cpu mean {statistics.fmean(cpu) * 1000:6.3f} ms"
        )
    held = [sum(p[0] for p in locked) for locked in under_lock]
    print(
        f"  lock held  wall {_ms(held)}"
        f"  → at most {1 / statistics.fmean(held):6.0f} bets/s on one market"
    )
    print(f"  SELECT 1 round trip       {_ms(bare)}")
    print(f"  one-row insert + COMMIT   {_ms(committed)}")
    if args.explain:
        _print_server_log()


def _print_server_log() -> None:
    """Mean duration of each statement auto_explain logged (the newest server log)."""
    logs = sorted(glob.glob("/var/log/postgresql/postgresql-*-main.log"))
    if not logs:
        print("  (no server log found)")
        return
    durations: dict[str, list[float]] = defaultdict(list)
    pending: float | None = None
    for line in Path(logs[-1]).read_text(errors="replace").splitlines():
        if match := re.search(r"duration: ([0-9.]+) ms  plan:", line):
            pending = float(match.group(1))
        elif pending is not None and (match := re.search(r"Query Text: (.*)", line)):
            durations[" ".join(match.group(1).split())[:90]].append(pending)
            pending = None
    for text, values in sorted(durations.items(), key=lambda kv: -statistics.fmean(kv[1])):
        if len(values) >= 100:
            print(f"  {statistics.fmean(values):7.3f} ms  x{len(values):5d}  {text}")


if __name__ == "__main__":
    main()
