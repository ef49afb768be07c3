"""Leaderboards with 100,000 members: balance, net worth (1,000,000 open positions), profit.

    .venv/bin/python bench/leaderboard.py [--members N] [--quick]

Seeds one guild in bulk SQL (outside the services): N members with random
balances, each holding 10 positions on the guild's 2,000 open markets (so
10·N open positions: 1,000,000 for 100,000 members) and 10 positions on 3,650
markets settled over the past year (ten a day: another 10·N positions, the
year of trading the period boards read). Then it times, for callers spread
across the ranking (each lookup is the board plus the caller's own rank):

* the balance board;
* the net-worth board, **cold** (``READ_CACHE_ENABLED`` off: every lookup
  scores every member) and **cached** (the board from the cache, the caller's
  own figures live);
* the profit boards for the last week, the last month and all time, cold and
  cached;
* the season board (a season opened 90 days ago), cold and cached, and the
  board the period-end post computes (the last ISO week, bounded at its end);
* ``season_start`` asked for a reset while the open markets hold 1,000,000
  positions (refused: the time of that check), then without a reset (the
  archive of 100,000 standings in one INSERT … SELECT), then reads of the
  archived standings (top 10 and the caller's own place).

Cached figures use the cache the settings name (Redis with ``REDIS_URL``,
else local memory). The last line is machine-readable:

    RESULT members=<N> p50_ms=<balance> p99_ms=<balance> worth_cold_p99_ms=<…>
      worth_cached_p99_ms=<…> profit_week_cold_p99_ms=<…> profit_month_cold_p99_ms=<…>
      profit_all_cold_p99_ms=<…> profit_cached_p99_ms=<…> season_cold_p99_ms=<…>
      season_cached_p99_ms=<…> period_post_board_ms=<…> season_start_s=<…>
      reset_refused_s=<…> standings_p99_ms=<…>
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import percentile, setup_django

GUILD_ID = 900_000_000_000_000_004
OPEN_MARKETS = 2_000
SETTLED_MARKETS = 3_650  # ten a day for a year
POSITIONS_PER_MEMBER = 10  # on open markets, and as many again on settled ones


def seed(members: int) -> None:
    """Members, accounts, markets and positions, in a few INSERT … SELECT statements."""
    from django.db import connection
    from django.utils import timezone

    from markets.models import Market, MarketStatus, Outcome
    from points.models import Account, AccountKind, Member
    from points.services import guild_ensure

    guild_ensure(guild_id=GUILD_ID, name="bench")
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO points_member
                   (guild_id, discord_id, display_name, is_frozen, frozen_reason,
                    notify_results, created_at)
               SELECT %s, 100000000000000000 + i, 'member ' || i, false, '', false, now()
               FROM generate_series(1, %s) i""",
            [GUILD_ID, members],
        )
        cursor.execute(
            """INSERT INTO points_account (guild_id, kind, member_id, label, balance, created_at)
               SELECT %s, 'member', id, '', (random() * 50000)::int, now()
               FROM points_member WHERE guild_id = %s""",
            [GUILD_ID, GUILD_ID],
        )
    creator = Member.objects.filter(guild_id=GUILD_ID).order_by("pk").first()
    count = OPEN_MARKETS + SETTLED_MARKETS
    escrows = Account.objects.bulk_create(
        Account(guild_id=GUILD_ID, kind=AccountKind.ESCROW, label=f"escrow {i}")
        for i in range(count)
    )
    rng = random.Random(7)
    markets = []
    for i, escrow in enumerate(escrows):
        live = i < OPEN_MARKETS
        settled = now - timedelta(hours=24 * 365 * (i - OPEN_MARKETS) / SETTLED_MARKETS)
        markets.append(
            Market(
                guild_id=GUILD_ID,
                creator=creator,
                question=f"bench market {i}",
                status=MarketStatus.OPEN if live else MarketStatus.CANCELLED,
                opens_at=now - timedelta(days=400),
                closes_at=now + timedelta(days=30) if live else settled,
                resolved_at=None if live else settled,
                settled_at=None if live else settled,
                liquidity=1000,
                escrow_account=escrow,
            )
        )
    markets = Market.objects.bulk_create(markets, batch_size=2000)
    Outcome.objects.bulk_create(
        (
            Outcome(market=m, index=k, label=label, pool=rng.randint(200, 5000))
            for m in markets
            for k, label in enumerate(["Yes", "No"])
        ),
        batch_size=5000,
    )
    with connection.cursor() as cursor:
        for status, modulus, stride, spent in (
            ("open", OPEN_MARKETS, 211, "(random() * 400)::int"),
            ("cancelled", SETTLED_MARKETS, 367, "(random() * 400)::int"),
        ):
            # Member n's k-th position is on market (n·7 + k·stride) mod modulus: ten
            # different markets per member (stride·k mod modulus differs for k < 10).
            cursor.execute(
                f"""INSERT INTO betting_position
                       (market_id, member_id, outcome_id, shares, points_spent,
                        points_received, updated_at)
                   SELECT o.market_id, mem.id, o.id, round((random() * 500 + 1)::numeric, 6),
                          {spent}, (random() * 600)::int, now()
                   FROM (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n
                         FROM points_member WHERE guild_id = %s) mem
                   CROSS JOIN generate_series(0, %s) k
                   JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n
                         FROM markets_market WHERE guild_id = %s AND status = %s) mk
                     ON mk.n = (mem.n * 7 + k * %s) %% %s
                   JOIN markets_outcome o ON o.market_id = mk.id AND o.index = (mem.n + k) %% 2
                """,
                [GUILD_ID, POSITIONS_PER_MEMBER - 1, GUILD_ID, status, stride, modulus],
            )
        cursor.execute("VACUUM ANALYZE")


def plan_report(member_id: int, since: object) -> None:
    """Which indexes each leaderboard statement's plan uses (EXPLAIN, not run)."""
    import re

    from django.db import connection
    from django.utils import timezone

    from betting import leaderboards

    statements = {
        "net worth board": leaderboards._board_sql("net_worth", None),
        "profit week board": leaderboards._board_sql("profit", since),
        "profit all board": leaderboards._board_sql("profit", None),
        "own net worth": leaderboards._own_sql("net_worth", None),
        "own profit week": leaderboards._own_sql("profit", since),
        "ended week board": leaderboards._board_sql("profit", since, bounded=True),
    }
    with connection.cursor() as cursor:
        cursor.execute("SET jit = off")
        for name, sql in statements.items():
            params = leaderboards._params(GUILD_ID, since, member_id, until=timezone.now())
            cursor.execute("EXPLAIN " + sql, params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
            indexes = sorted(
                set(re.findall(r"Index(?: Only)? Scan(?: Backward)? using (\w+)", plan))
            )
            indexes += sorted(set(re.findall(r"Bitmap Index Scan on (\w+)", plan)))
            scans = sorted(set(re.findall(r"Seq Scan on (\w+)", plan)))
            print(f"  plan {name:<18} indexes {', '.join(indexes)}; seq scans {', '.join(scans)}")


def time_lookups(lookup: Callable[[int], object], rounds: int) -> list[float]:
    timings = []
    for i in range(rounds):
        started = time.perf_counter()
        lookup(i)
        timings.append(time.perf_counter() - started)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--lookups", type=int, default=200, help="cached and balance lookups")
    parser.add_argument("--cold-lookups", type=int, default=20, help="uncached lookups per board")
    parser.add_argument("--quick", action="store_true", help="10,000 members, fewer lookups")
    args = parser.parse_args()
    if args.quick:
        args.members, args.lookups, args.cold_lookups = 10_000, 50, 5

    setup_django("predictmarket_bench_leaderboard")
    from django.conf import settings
    from django.core.cache import cache
    from django.db import connection
    from django.utils import timezone

    from betting.leaderboards import compute_board, period_start
    from betting.models import Position, Season
    from betting.period_posts import ended_span
    from betting.seasons import season_standings, season_start
    from betting.selectors import worth_leaderboard
    from points.models import Member
    from points.selectors import balance_leaderboard
    from predictmarket.errors import InvalidState

    started = time.perf_counter()
    seed(args.members)
    positions = Position.objects.filter(member__guild_id=GUILD_ID).count()
    print(
        f"seeded {args.members:,} members, {positions:,} positions "
        f"in {time.perf_counter() - started:.0f} s; cache: {settings.CACHES['default']['BACKEND']}"
    )
    rng = random.Random(11)
    callers = rng.sample(list(Member.objects.filter(guild_id=GUILD_ID)), args.lookups)
    now = timezone.now()
    periods = {
        "week": now - timedelta(days=7),
        "month": now - timedelta(days=30),
        "all": None,
    }

    def balance(i: int) -> None:
        board = balance_leaderboard(GUILD_ID, limit=10, member=callers[i])
        assert len(board.rows) == 10 and board.own is not None

    def board(by: str, since: object) -> Callable[[int], None]:
        def lookup(i: int) -> None:
            rows, own = worth_leaderboard(
                GUILD_ID, by=by, limit=10, member=callers[i % len(callers)], since=since
            )
            assert len(rows) == 10 and own is not None

        return lookup

    plan_report(callers[0].pk, periods["week"])
    results: dict[str, float] = {}

    def report(name: str, timings: list[float]) -> float:
        p50, p99 = percentile(timings, 50) * 1000, percentile(timings, 99) * 1000
        print(f"{name:<34} n={len(timings):<4} p50 {p50:8.1f} ms  p99 {p99:8.1f} ms")
        return p99

    settings.READ_CACHE_ENABLED = True
    cache.clear()
    balance_timings = time_lookups(balance, args.lookups)
    results["balance_p50"] = percentile(balance_timings, 50) * 1000
    results["balance_p99"] = report("balance (top cached, own live)", balance_timings)

    settings.READ_CACHE_ENABLED = False
    results["worth_cold"] = report(
        "net worth, cold (uncached)",
        time_lookups(board("net_worth", None), args.cold_lookups),
    )
    for name, since in periods.items():
        results[f"profit_{name}_cold"] = report(
            f"profit {name}, cold (uncached)",
            time_lookups(board("profit", since), args.cold_lookups),
        )

    # Cached: one miss fills the cache (a TTL that outlasts the run), then every
    # lookup is a hit for the board plus the caller's own figures read live.
    settings.READ_CACHE_ENABLED = True
    settings.LEADERBOARD_CACHE_SECONDS = 3600
    cache.clear()
    worth = board("net_worth", None)
    worth(0)
    results["worth_cached"] = report(
        "net worth, cached board + own live", time_lookups(worth, args.lookups)
    )
    profit = board("profit", periods["week"])
    profit(0)
    results["profit_cached"] = report(
        "profit week, cached board + own live", time_lookups(profit, args.lookups)
    )

    # Seasons: one opened 90 days ago (seeded, like the rest), read as members read it.
    Season.objects.create(
        guild_id=GUILD_ID,
        number=1,
        started_at=now - timedelta(days=90),
        started_by="bench",
        idempotency_key="bench-season-1",
    )
    season_since = period_start("season", guild_id=GUILD_ID)
    settings.READ_CACHE_ENABLED = False
    results["season_cold"] = report(
        "profit season, cold (uncached)",
        time_lookups(board("profit", season_since), args.cold_lookups),
    )
    settings.READ_CACHE_ENABLED = True
    season = board("profit", season_since)
    season(0)
    results["season_cached"] = report(
        "profit season, cached board + own live", time_lookups(season, args.lookups)
    )
    week = ended_span("week", now=now)
    ended_week = []
    for _ in range(args.cold_lookups):
        started = time.perf_counter()
        compute_board(GUILD_ID, board="profit", since=week.starts_at, until=week.ends_at)
        ended_week.append(time.perf_counter() - started)
    results["period_post_board"] = report("ended ISO week board (the post)", ended_week)

    # A reset is refused while open markets hold shares (this guild's do): the
    # time to find that out under every member account's lock. Then the next
    # season without a reset: the archive of every member's standing.
    started = time.perf_counter()
    try:
        season_start(
            guild_id=GUILD_ID,
            actor="bench",
            is_moderator=True,
            reset=True,
            idempotency_key="bench-season-2-reset",
        )
    except InvalidState:
        results["reset_refused"] = time.perf_counter() - started
    else:
        raise SystemExit("a reset with open positions was not refused")
    print(f"season_start with reset, refused (open positions): {results['reset_refused']:.1f} s")
    started = time.perf_counter()
    season_start(
        guild_id=GUILD_ID,
        actor="bench",
        is_moderator=True,
        reset=False,
        idempotency_key="bench-season-2",
    )
    results["season_start"] = time.perf_counter() - started
    print(
        f"season_start without reset: {results['season_start']:.1f} s "
        f"({args.members:,} standings archived)"
    )

    def standings(i: int) -> None:
        archived = season_standings(
            guild_id=GUILD_ID, number=1, limit=10, member_id=callers[i % len(callers)].pk
        )
        assert len(archived.rows) == 10 and archived.own is not None

    standings_timings = time_lookups(standings, args.lookups)
    results["standings"] = report("archived season standings + own", standings_timings)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
        print(f"database size {cursor.fetchone()[0]}")
    print(
        f"RESULT members={args.members} p50_ms={results['balance_p50']:.2f} "
        f"p99_ms={results['balance_p99']:.2f} worth_cold_p99_ms={results['worth_cold']:.1f} "
        f"worth_cached_p99_ms={results['worth_cached']:.1f} "
        f"profit_week_cold_p99_ms={results['profit_week_cold']:.1f} "
        f"profit_month_cold_p99_ms={results['profit_month_cold']:.1f} "
        f"profit_all_cold_p99_ms={results['profit_all_cold']:.1f} "
        f"profit_cached_p99_ms={results['profit_cached']:.1f} "
        f"season_cold_p99_ms={results['season_cold']:.1f} "
        f"season_cached_p99_ms={results['season_cached']:.1f} "
        f"period_post_board_ms={results['period_post_board']:.1f} "
        f"season_start_s={results['season_start']:.1f} "
        f"reset_refused_s={results['reset_refused']:.1f} "
        f"standings_p99_ms={results['standings']:.1f}"
    )


if __name__ == "__main__":
    main()
