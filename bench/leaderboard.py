"""The balance leaderboard (top 10 and the caller's own rank) with 100,000 members.

    .venv/bin/python bench/leaderboard.py [--members N]

Seeds N members with random balances in one guild (bulk set-up, outside the
services), then times ``balance_leaderboard`` for callers spread across the
ranking. The last line is machine-readable:

    RESULT members=<N> p50_ms=<…> p99_ms=<…>
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import percentile, setup_django

GUILD_ID = 900_000_000_000_000_004


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--lookups", type=int, default=200)
    args = parser.parse_args()

    setup_django("predictmarket_bench_leaderboard")
    from django.db import connection

    from points.models import Account, AccountKind, Member
    from points.selectors import balance_leaderboard
    from points.services import guild_ensure

    guild_ensure(guild_id=GUILD_ID, name="bench")
    rng = random.Random(7)
    members = Member.objects.bulk_create(
        (Member(guild_id=GUILD_ID, discord_id=10**17 + i) for i in range(args.members)),
        batch_size=5000,
    )
    Account.objects.bulk_create(
        (
            Account(
                guild_id=GUILD_ID, kind=AccountKind.MEMBER, member=m, balance=rng.randint(0, 50_000)
            )
            for m in members
        ),
        batch_size=5000,
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE points_account")
    sample = rng.sample(members, args.lookups)
    timings = []
    for member in sample:
        started = time.perf_counter()
        board = balance_leaderboard(GUILD_ID, limit=10, member=member)
        timings.append(time.perf_counter() - started)
        assert len(board.rows) == 10 and board.own is not None
    p50, p99 = percentile(timings, 50) * 1000, percentile(timings, 99) * 1000
    print(f"balance leaderboard, {args.members} members: p50 {p50:.2f} ms  p99 {p99:.2f} ms")
    print(f"RESULT members={args.members} p50_ms={p50:.2f} p99_ms={p99:.2f}")


if __name__ == "__main__":
    main()
