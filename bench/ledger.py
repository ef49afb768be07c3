"""Transfers per second through ``ledger_post`` on PostgreSQL, against pgbench.

    .venv/bin/python bench/ledger.py [--seconds N]

Runs 1, 4 and 8 worker threads doing member-to-member transfers through the
service (random pairs among 1,000 members), then pgbench's TPC-B-like
workload with 8 clients on the same server, and prints the ratio. The last line
is machine-readable:

    RESULT tps=<transfers/s at 8 workers> pgbench_tps=<...> ratio=<...>
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import percentile, pgbench_tps, run_workers, setup_django

GUILD_ID = 900_000_000_000_000_001
MEMBERS = 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--operations", type=int, default=4000, help="transfers per run")
    parser.add_argument("--pgbench-seconds", type=int, default=10)
    args = parser.parse_args()

    url = setup_django("predictmarket_bench_ledger")
    from points.ledger import Leg, ledger_post
    from points.models import Account, AccountKind
    from points.services import guild_ensure, member_ensure

    guild_ensure(guild_id=GUILD_ID, name="bench")
    for i in range(MEMBERS):
        member_ensure(guild_id=GUILD_ID, discord_id=10**17 + i)
    accounts = list(
        Account.objects.filter(guild_id=GUILD_ID, kind=AccountKind.MEMBER).values_list(
            "pk", flat=True
        )
    )

    results: dict[int, float] = {}
    for workers in (1, 4, 8):
        rng = random.Random(workers)
        pairs = [tuple(rng.sample(accounts, 2)) for _ in range(args.operations)]

        def work(worker: int, i: int, workers: int = workers, pairs: list = pairs) -> None:
            source, target = pairs[worker * (args.operations // workers) + i]
            ledger_post(
                guild_id=GUILD_ID,
                legs=[Leg(source, -1), Leg(target, 1)],
                kind="transfer",
                actor="bench",
                idempotency_key=f"bench:{workers}:{worker}:{i}",
            )

        rate, latencies = run_workers(work, workers=workers, operations=args.operations)
        results[workers] = rate
        print(
            f"ledger_post transfers, {workers} worker(s): {rate:8.0f}/s  "
            f"p50 {percentile(latencies, 50) * 1000:.2f} ms  "
            f"p99 {percentile(latencies, 99) * 1000:.2f} ms"
        )

    from django.db import connections

    connections.close_all()
    pg = pgbench_tps(url, clients=8, seconds=args.pgbench_seconds)
    ratio = results[8] / pg
    print(f"pgbench TPC-B-like, 8 clients: {pg:8.0f} tps")
    print(f"ratio at 8 workers: {ratio:.2%} (target >= 25%)")
    print(f"RESULT tps={results[8]:.0f} pgbench_tps={pg:.0f} ratio={ratio:.3f}")


if __name__ == "__main__":
    main()
