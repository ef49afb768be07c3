"""Bets per second on ONE hot market through ``bet_place``, against pgbench.

    .venv/bin/python bench/bets.py [--operations N] [--pgbench-seconds N]

1, 4 and 8 worker processes place bets through the service on a single market
(the market row is the hot lock every bet takes), p50/p99 latency. A market
with 10,000 winning positions is settled and timed. Then, on the same server,
pgbench with 8 clients runs a hot-row transaction (one locked row updated, two
account rows updated, one insert) and the ratio is printed; and pgbench runs
the very statements one ``bet_place`` sent (recorded, parameters inlined,
fresh keys): what a client with no work of its own would get for this
transaction on this machine, the ceiling for the Python figures. The last
line is machine-readable:

    RESULT bets_per_s=<at 8 workers> pgbench_tps=<...> ratio=<...> p99_ms=<...> settle_10k_s=<...>
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import percentile, pgbench_tps, run_workers, setup_django

GUILD_ID = 900_000_000_000_000_002
MEMBERS = 400

HOT_ROW_SCRIPT = """\\set aid random(1, 100000)
\\set other random(1, 100000)
BEGIN;
UPDATE pgbench_branches SET bbalance = bbalance + 1 WHERE bid = 1;
UPDATE pgbench_accounts SET abalance = abalance - 1 WHERE aid = :aid;
UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = :other;
INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (1, 1, :aid, 1, CURRENT_TIMESTAMP);
END;
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--operations", type=int, default=2400, help="bets per run")
    parser.add_argument("--pgbench-seconds", type=int, default=10)
    parser.add_argument("--settle-positions", type=int, default=10_000)
    args = parser.parse_args()

    url = setup_django("predictmarket_bench_bets")
    from betting.services import bet_place
    from markets.services import market_create
    from points.models import Guild
    from points.services import guild_ensure, member_ensure

    guild_ensure(guild_id=GUILD_ID, name="bench")
    Guild.objects.filter(pk=GUILD_ID).update(starting_balance=10**9, default_liquidity=100_000)
    members = [member_ensure(guild_id=GUILD_ID, discord_id=10**17 + i) for i in range(MEMBERS)]
    market = market_create(
        creator=members[0],
        question="Hot market",
        options=["A", "B", "C", "D"],
        duration=timedelta(days=1),
        actor="bench",
        bypass_rate_limit=True,
    )

    results: dict[int, tuple[float, list[float]]] = {}
    for workers in (1, 4, 8):
        rng = random.Random(workers)
        plan = [
            (rng.choice(members), rng.randrange(4), rng.randint(1, 50))
            for _ in range(args.operations)
        ]

        def work(worker: int, i: int, workers: int = workers, plan: list = plan) -> None:
            member, outcome, amount = plan[worker * (args.operations // workers) + i]
            bet_place(
                member=member,
                market_id=market.pk,
                outcome_index=outcome,
                amount=amount,
                idempotency_key=f"bench:{workers}:{worker}:{i}",
                bypass_rate_limit=True,
            )

        rate, latencies = run_workers(work, workers=workers, operations=args.operations)
        results[workers] = (rate, latencies)
        print(
            f"bet_place on one market, {workers} worker(s): {rate:7.0f} bets/s  "
            f"p50 {percentile(latencies, 50) * 1000:.2f} ms  "
            f"p99 {percentile(latencies, 99) * 1000:.2f} ms"
        )

    settle_seconds = bench_settlement(members[0], args.settle_positions)
    print(f"settlement, {args.settle_positions} winning positions: {settle_seconds:.2f} s")

    from django.db import connections

    connections.close_all()
    pgbench_tps(url, clients=1, seconds=1)  # initialises the pgbench tables
    pg = pgbench_tps(url, clients=8, seconds=args.pgbench_seconds, script=HOT_ROW_SCRIPT)
    rate8, latencies8 = results[8]
    ratio = rate8 / pg
    p99 = percentile(latencies8, 99) * 1000
    print(f"pgbench hot-row transaction, 8 clients: {pg:7.0f} tps")
    ceiling_latencies: list[float] = []
    ceiling = pgbench_tps(
        url,
        clients=8,
        seconds=args.pgbench_seconds,
        script=bet_replay_script(members[1], market.pk),
        prepared=True,
        latencies=ceiling_latencies,
    )
    print(
        f"pgbench replaying a bet's own statements (C client, prepared), 8 clients: "
        f"{ceiling:7.0f} tps  p99 {percentile(ceiling_latencies, 99) * 1000:.2f} ms "
        f"({ceiling / pg:.1%} of the hot-row rate: the ceiling for any client on this machine)"
    )
    print(f"ratio at 8 workers: {ratio:.2%} (target >= 25% or >= 1,000 bets/s; p99 < 25 ms)")
    print(
        f"RESULT bets_per_s={rate8:.0f} pgbench_tps={pg:.0f} ratio={ratio:.3f} "
        f"p99_ms={p99:.1f} settle_10k_s={settle_seconds:.2f}"
    )


def bet_replay_script(member: object, market_id: int) -> str:
    """A pgbench script of the statements one ``bet_place`` sends, with fresh keys per run.

    Recorded from a real bet, parameters inlined: the retry check, then in a
    transaction the market lock and the trade statement. (bet_place sends the
    COMMIT with the trade statement; pgbench needs one round trip more for END,
    so this slightly understates the ceiling.)
    """
    import psycopg
    from django.db import connection

    from betting.services import bet_place
    from predictmarket.db import statements_recorded

    marker = "REPLAY-KEY"
    with statements_recorded() as statements:
        bet_place(
            member=member,
            market_id=market_id,
            outcome_index=0,
            amount=10,
            idempotency_key=marker,
            bypass_rate_limit=True,
        )
    precheck, lock, write = statements
    inline = psycopg.ClientCursor(connection.connection)

    def sql(statement: object) -> str:
        text = inline.mogrify(statement.sql, statement.params)  # type: ignore[attr-defined]
        # A fresh key per run. (No colon inside the literals: pgbench would take
        # ":name" in 'trade:…' for one of its variables.)
        key = "(:client_id::text || '-' || :rnd::text)"
        text = text.replace(f"'trade:{marker}'", f"('trade-' || {key})")
        text = text.replace(f"'{marker}'", key)
        return " ".join(text.split()) + ";"

    return "\n".join(
        [
            "\\set rnd random(1, 1000000000000)",
            sql(precheck),
            "BEGIN;",
            sql(lock),
            sql(write),
            "END;",
            "",
        ]
    )


def bench_settlement(creator: object, positions: int) -> float:
    """Seed a resolved market with ``positions`` winners (bulk set-up), then time settling it."""
    from django.utils import timezone

    from betting.models import Position
    from betting.settlement import settle_resolved_market
    from markets.models import Market, MarketStatus
    from markets.services import market_create
    from points.ledger import Leg, ledger_post
    from points.models import Account, AccountKind, Member
    from points.services import house_account

    market = market_create(
        creator=creator,
        question="Settlement benchmark",
        options=["Win", "Lose"],
        duration=timedelta(minutes=5),
        actor="bench",
        bypass_rate_limit=True,
    )
    base = 2 * 10**17
    new_members = Member.objects.bulk_create(
        Member(guild_id=GUILD_ID, discord_id=base + i, display_name=f"w{i}")
        for i in range(positions)
    )
    Account.objects.bulk_create(
        Account(guild_id=GUILD_ID, kind=AccountKind.MEMBER, member=m, label=m.display_name)
        for m in new_members
    )
    win = market.outcomes.get(index=0)
    Position.objects.bulk_create(
        Position(market=market, member=m, outcome=win, shares=Decimal("3.5"), points_spent=2)
        for m in new_members
    )
    # Collateral for the winning shares (a bench shortcut: real trades would have paid it in).
    ledger_post(
        guild_id=GUILD_ID,
        legs=[
            Leg(house_account(GUILD_ID).pk, -4 * positions),
            Leg(market.escrow_account_id, 4 * positions),
        ],
        kind="grant",
        actor="bench",
        idempotency_key=f"bench:collateral:{market.pk}",
    )
    Market.objects.filter(pk=market.pk).update(
        status=MarketStatus.RESOLVED, winning_outcome=win, resolved_at=timezone.now()
    )
    started = time.perf_counter()
    result = settle_resolved_market(market_id=market.pk)
    elapsed = time.perf_counter() - started
    assert result.performed and result.members_paid == positions, result
    assert Account.objects.get(pk=market.escrow_account_id).balance == 0
    return elapsed


if __name__ == "__main__":
    main()
