"""Bets per second through ``bet_place``, closed and open loop, against pgbench.

    .venv/bin/python bench/bets.py [--quick] [--operations N] [--pgbench-seconds N] ...

In one run, on one server:

1. Closed loop on ONE hot market (the market row is the lock every bet takes):
   1, 4 and 8 worker processes place bets back to back; rate, p50/p99.
2. pgbench with 8 clients runs a hot-row transaction (one locked row updated,
   two account rows updated, one insert): ``ratio`` is the 8-worker rate
   over it. And pgbench replays the very statements one ``bet_place`` sent
   (recorded, parameters inlined, fresh keys): what a client with no work of
   its own would get for this transaction on this machine, the ceiling for
   the Python figures; ``replay_ratio`` is the 8-worker rate over it.
3. Open loop on the hot market: bets OFFERED at 150 per second (Poisson
   arrivals from a fixed seed) for 20 s, whatever the answers do. Enough
   worker processes (each with its own connection) take the arrivals that
   one waits for a free worker only when all are busy ("late to start");
   latency is from the scheduled arrival to the answer, so queueing counts.
   Run twice: from warm connections (each worker placed one bet on a market
   of its own first, as the pooled connections of a running process have),
   then from cold ones (each worker's first trade compiles the trade function
   while it holds the market lock); ``open_p99_ms`` is the warm run's.
4. Many markets: 8 workers trading across 100 markets for a fixed time,
   against pgbench's TPC-B (``pgbench -i`` in a scratch database, scale 8 so
   its 8 clients do not all queue on one branch row, same clients, same
   time): ``many_ratio``.
5. A market with 10,000 winning positions is settled and timed.

Figures depend on the machine and on what else runs on it. ``--quick``
shortens every phase for development; the default durations are the ones the
targets are stated for. The last line is machine-readable:

    RESULT bets_per_s=<8 workers, hot> ratio=<vs pgbench hot-row>
      replay_ratio=<vs pgbench replaying the bet's statements> open_p99_ms=<...>
      many_ratio=<vs TPC-B> settle_10k_s=<...> open_cold_p99_ms=<...>     (one line)
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    LockHolderSampler,
    WorkCpu,
    drop_database,
    percentile,
    pgbench_tps,
    poisson_arrivals,
    run_open_loop,
    run_workers,
    run_workers_for,
    scratch_database,
    setup_django,
)

GUILD_ID = 900_000_000_000_000_002
BENCH_DB = "predictmarket_bench_bets"
MEMBERS = 400
LATE_MS = 1.0  # an arrival begun more than this after its time is "late to start"

HOT_ROW_SCRIPT = """\\set aid random(1, 100000)
\\set other random(1, 100000)
BEGIN;
UPDATE pgbench_branches SET bbalance = bbalance + 1 WHERE bid = 1;
UPDATE pgbench_accounts SET abalance = abalance - 1 WHERE aid = :aid;
UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = :other;
INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (1, 1, :aid, 1, CURRENT_TIMESTAMP);
END;
"""


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="short phases, for development")
    parser.add_argument("--operations", type=int, help="bets per closed-loop run (2400)")
    parser.add_argument("--pgbench-seconds", type=int, help="each pgbench run (10)")
    parser.add_argument("--open-rate", type=float, default=150.0, help="offered bets/s (150)")
    parser.add_argument("--open-seconds", type=float, help="open-loop duration (20)")
    parser.add_argument("--open-workers", type=int, default=32, help="open-loop processes (32)")
    parser.add_argument("--markets", type=int, default=100, help="many-markets run (100)")
    parser.add_argument("--many-seconds", type=int, help="many-markets and TPC-B runs (10)")
    parser.add_argument("--tpcb-scale", type=int, default=8, help="pgbench -i -s (8)")
    parser.add_argument("--settle-positions", type=int, default=10_000)
    args = parser.parse_args()
    quick = {"operations": 400, "pgbench_seconds": 3, "open_seconds": 5, "many_seconds": 3}
    full = {"operations": 2400, "pgbench_seconds": 10, "open_seconds": 20, "many_seconds": 10}
    for name, value in (quick if args.quick else full).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


def main() -> None:
    args = _arguments()
    url = setup_django(BENCH_DB)
    from django.db import connections

    from markets.services import market_create
    from points.models import Guild
    from points.services import guild_ensure, member_ensure

    guild_ensure(guild_id=GUILD_ID, name="bench")
    Guild.objects.filter(pk=GUILD_ID).update(starting_balance=10**9, default_liquidity=100_000)
    members = [member_ensure(guild_id=GUILD_ID, discord_id=10**17 + i) for i in range(MEMBERS)]

    def new_market(question: str) -> int:
        return market_create(
            creator=members[0],
            question=question,
            options=["A", "B", "C", "D"],
            duration=timedelta(days=1),
            actor="bench",
            bypass_rate_limit=True,
        ).pk

    hot = new_market("Hot market")

    # 1. Closed loop, one hot market.
    results: dict[int, tuple[float, list[float]]] = {}
    for workers in (1, 4, 8):
        plan = _plan(random.Random(workers), members, [hot], args.operations)
        per_worker = args.operations // workers
        with WorkCpu(url, BENCH_DB) as closed_cpu:
            rate, latencies = run_workers(
                _placer(plan, f"closed{workers}", lambda w, i, n=per_worker: w * n + i),
                workers=workers,
                operations=args.operations,
            )
        results[workers] = (rate, latencies)
        client_ms, server_ms = closed_cpu.per_operation_ms(len(latencies))
        print(
            f"bet_place on one market, {workers} worker(s): {rate:7.0f} bets/s  "
            f"p50 {percentile(latencies, 50) * 1000:.2f} ms  "
            f"p99 {percentile(latencies, 99) * 1000:.2f} ms  "
            f"CPU per bet: client {client_ms:.2f} ms + server {server_ms:.2f} ms "
            f"(CPU-bound ceiling {closed_cpu.ceiling_per_s(len(latencies)):.0f} bets/s)"
        )
    rate8 = results[8][0]
    lock_shares = sample_lock_holder(url, members, hot, args.operations // 2)

    # 2. pgbench on the same server: the hot-row transaction, then the bet's own statements.
    connections.close_all()
    pgbench_tps(url, clients=1, seconds=1)  # initialises the pgbench tables
    pg = pgbench_tps(url, clients=8, seconds=args.pgbench_seconds, script=HOT_ROW_SCRIPT)
    print(f"pgbench hot-row transaction, 8 clients: {pg:7.0f} tps")
    ceiling_latencies: list[float] = []
    replay_script = bet_replay_script(members[1], hot)
    with WorkCpu(url, BENCH_DB) as replay_cpu:
        ceiling = pgbench_tps(
            url,
            clients=8,
            seconds=args.pgbench_seconds,
            script=replay_script,
            prepared=True,
            latencies=ceiling_latencies,
        )
    replay_client, replay_server = replay_cpu.per_operation_ms(len(ceiling_latencies))
    print(
        f"pgbench replaying a bet's own statements (C client, prepared), 8 clients: "
        f"{ceiling:7.0f} tps  p99 {percentile(ceiling_latencies, 99) * 1000:.2f} ms "
        f"({ceiling / pg:.1%} of the hot-row rate: the ceiling for any client on this machine)  "
        f"CPU per transaction: pgbench {replay_client:.2f} ms + server {replay_server:.2f} ms"
    )

    # 3. Open loop, the hot market: from cold connections, then from warm ones.
    arrivals = poisson_arrivals(args.open_rate, args.open_seconds, seed=16)
    open_plan = _plan(random.Random(150), members, [hot], len(arrivals))
    warm_markets = [new_market(f"Warm-up {n}") for n in range(args.open_workers)]
    open_runs = {}
    # Warm first: the cold run then trades on a market with more rows and warmer
    # buffers, so whatever it loses is the cold connections' own doing.
    for start in ("warm", "cold"):
        connections.close_all()
        with WorkCpu(url, BENCH_DB) as open_cpu:
            open_run = open_runs[start] = run_open_loop(
                _placer(open_plan, f"open-{start}", lambda w, i: i),
                arrivals=arrivals,
                workers=args.open_workers,
                warm_up=_connect if start == "cold" else _bet_once(members[1], warm_markets),
            )
        print(
            f"open loop on one market, {start} connections, {args.open_rate:.0f} bets/s offered "
            f"(Poisson) for {args.open_seconds:.0f} s on {args.open_workers} workers: "
            f"{open_run.offered / args.open_seconds:.0f} offered/s, "
            f"{open_run.achieved_per_s:.0f} answered/s  "
            f"arrival to answer p50 {percentile(open_run.latencies, 50) * 1000:.2f} ms  "
            f"p99 {percentile(open_run.latencies, 99) * 1000:.2f} ms  late to start "
            f"(> {LATE_MS:g} ms): {open_run.late(LATE_MS / 1000)} of {open_run.offered} "
            f"(worst {max(open_run.start_delays, default=0) * 1000:.1f} ms; "
            f"{open_run.waited_for_worker} found every worker busy)"
        )
    # A connection's first trade compiles betting_trade_write and plans its
    # statements while it holds the market lock (measured on a 2-core machine:
    # 17.4 ms from the lock to the answer for the first bet on a new
    # connection, 6.6 ms for later ones): 32 connections opened together queue
    # every arrival behind them. A long-running process's pooled connections are warm; the cold
    # run shows the start of a deployment.
    open_p99 = percentile(open_runs["warm"].latencies, 99) * 1000
    open_cold_p99 = percentile(open_runs["cold"].latencies, 99) * 1000
    # For scale: a single queue served at the hot market's own closed-loop
    # rate (mu) with Poisson arrivals (lambda) and exponential service has a
    # p99 response time of ln(100) / (mu - lambda).
    mm1_p99 = (
        math.log(100) / (rate8 - args.open_rate) * 1000 if rate8 > args.open_rate else math.inf
    )
    print(
        f"  an M/M/1 queue served at the 8-worker rate ({rate8:.0f}/s) would answer "
        f"{args.open_rate:.0f}/s with p99 {mm1_p99:.1f} ms"
    )
    open_client, open_server = open_cpu.per_operation_ms(len(open_runs["warm"].latencies))
    print(
        f"  CPU per bet in the open loop: client {open_client:.2f} ms + server "
        f"{open_server:.2f} ms (warm run; start-up and warm-up of {args.open_workers} processes "
        f"included); "
        f"{args.open_rate:.0f} bets/s of it would keep "
        f"{args.open_rate * (open_client + open_server) / 1000:.2f} of {open_cpu.cores} cores busy"
    )

    # 4. Many markets, closed loop for a fixed time, against TPC-B for the same time.
    markets = [new_market(f"Market {n}") for n in range(args.markets)]
    # Each worker walks its own slice of the plan (round again if it gets to the end).
    slice_size = 20_000
    many_plan = _plan(random.Random(100), members, markets, 8 * slice_size)
    connections.close_all()
    with WorkCpu(url, BENCH_DB) as many_cpu:
        many_rate, many_latencies = run_workers_for(
            _placer(many_plan, "many", lambda w, i: w * slice_size + i % slice_size),
            workers=8,
            seconds=args.many_seconds,
        )
    print(
        f"bet_place across {args.markets} markets, 8 workers, {args.many_seconds} s: "
        f"{many_rate:7.0f} bets/s  p50 {percentile(many_latencies, 50) * 1000:.2f} ms  "
        f"p99 {percentile(many_latencies, 99) * 1000:.2f} ms"
    )
    tpcb_url = scratch_database("predictmarket_bench_tpcb")
    try:
        with WorkCpu(tpcb_url, "predictmarket_bench_tpcb") as tpcb_cpu:
            tpcb = pgbench_tps(
                tpcb_url, clients=8, seconds=args.many_seconds, scale=args.tpcb_scale
            )
    finally:
        drop_database(tpcb_url)
    print(
        f"pgbench TPC-B, scale {args.tpcb_scale}, 8 clients, {args.many_seconds} s: {tpcb:7.0f} tps"
    )
    # What each side costs in CPU: on a machine where both saturate the cores,
    # many_ratio can be no better than the ratio of their CPU-bound ceilings.
    bets_done, tpcb_done = len(many_latencies), round(tpcb * args.many_seconds)
    bet_client, bet_server = many_cpu.per_operation_ms(bets_done)
    tx_client, tx_server = tpcb_cpu.per_operation_ms(tpcb_done)
    bet_ceiling, tpcb_ceiling = many_cpu.ceiling_per_s(bets_done), tpcb_cpu.ceiling_per_s(tpcb_done)
    print(
        f"  CPU per bet across markets: client {bet_client:.2f} ms + server {bet_server:.2f} ms "
        f"(ceiling {bet_ceiling:.0f} bets/s on {many_cpu.cores} cores); per TPC-B transaction: "
        f"pgbench {tx_client:.2f} ms + server {tx_server:.2f} ms (ceiling {tpcb_ceiling:.0f} tps); "
        f"ceilings' ratio {bet_ceiling / tpcb_ceiling:.3f}"
    )

    # 5. Settlement.
    settle_seconds = bench_settlement(members[0], args.settle_positions)
    print(f"settlement, {args.settle_positions} winning positions: {settle_seconds:.2f} s")

    ratio, replay_ratio, many_ratio = rate8 / pg, rate8 / ceiling, many_rate / tpcb
    print(
        f"hot market, 8 workers: {ratio:.1%} of pgbench's hot-row rate (target >= 22%), "
        f"{replay_ratio:.1%} of the replay (>= 75%; the Python client held the lock for "
        f"{lock_shares['client']:.0%} of its hold, work the replay does not have); "
        f"open-loop p99 {open_p99:.1f} ms (< 50); "
        f"many markets {many_ratio:.1%} of TPC-B (>= 30%); settlement {settle_seconds:.2f} s (< 3)"
    )
    print(
        f"RESULT bets_per_s={rate8:.0f} ratio={ratio:.3f} replay_ratio={replay_ratio:.3f} "
        f"open_p99_ms={open_p99:.1f} many_ratio={many_ratio:.3f} settle_10k_s={settle_seconds:.2f} "
        f"open_cold_p99_ms={open_cold_p99:.1f}"
    )


def sample_lock_holder(
    url: str, members: Sequence[object], hot: int, operations: int
) -> dict[str, float]:
    """One more 8-worker run on the hot market, with what the market lock's holder does sampled.

    The replay (pgbench) has no client time under the lock; this shows how
    much of the Python client's hold is spent waiting for Python (idle in
    transaction: the lock read's answer parsed, the market maker, the write's
    arguments, and the operating system's scheduling of eight Python
    processes on the machine's cores) against the server's own work.
    """
    from django.db import connections

    plan = _plan(random.Random(88), members, [hot], operations)
    per_worker = operations // 8
    connections.close_all()
    with LockHolderSampler(
        url, BENCH_DB, holding=["WITH m AS (", "SELECT transaction_id, trade_id"]
    ) as sampler:
        rate, _ = run_workers(
            _placer(plan, "sampled", lambda w, i: w * per_worker + i),
            workers=8,
            operations=operations,
        )
    shares = sampler.shares()
    print(
        f"  market lock's holder, sampled every 2 ms over another 8-worker run ({rate:.0f} bets/s "
        f"with the sampler's own load): held {sampler.held_share():.0%} of the time; of that, "
        f"waiting for the Python client {shares['client']:.0%}, running statements "
        f"{shares['server']:.0%}, flushing the WAL {shares['wal']:.0%}, other waits "
        f"{shares['other']:.0%}"
    )
    return shares


def _plan(
    rng: random.Random, members: Sequence[object], markets: list[int], count: int
) -> list[tuple[object, int, int, int]]:
    """``count`` bets drawn in advance: (member, market, outcome, points)."""
    return [
        (rng.choice(members), rng.choice(markets), rng.randrange(4), rng.randint(1, 50))
        for _ in range(count)
    ]


def _placer(
    plan: list[tuple[object, int, int, int]], run: str, pick: Callable[[int, int], int]
) -> Callable[[int, int], None]:
    """``work(worker, i)`` placing the bet ``plan[pick(worker, i)]``, with a key of its own."""
    from betting.services import bet_place

    def work(worker: int, i: int) -> None:
        member, market_id, outcome, amount = plan[pick(worker, i)]
        bet_place(
            member=member,  # type: ignore[arg-type]
            market_id=market_id,
            outcome_index=outcome,
            amount=amount,
            idempotency_key=f"bench:{run}:{worker}:{i}",
            bypass_rate_limit=True,
        )

    return work


def _connect(worker: int) -> None:
    """Open this process's connection before the first arrival (not on a bet's clock)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _bet_once(member: object, markets: list[int]) -> Callable[[int], None]:
    """``warm_up(worker)`` placing one bet on a market of the worker's own (not the hot one)."""
    from betting.services import bet_place

    def warm_up(worker: int) -> None:
        bet_place(
            member=member,  # type: ignore[arg-type]
            market_id=markets[worker],
            outcome_index=0,
            amount=1,
            idempotency_key=f"bench:warm-up:{worker}",
            bypass_rate_limit=True,
        )

    return warm_up


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
