"""A ``pg_dump -Fc`` of a database with live markets restores into a fresh database that reconciles.

The procedure is README's "Backups": ``pg_dump --format=custom`` of the live
database, ``pg_restore --no-owner --no-acl`` into a new one, then the ledger
reconciliation on the copy. The copy must hold the same ledger (every
account's balance and entries, every market, trade and position), reconcile
with zero differences, and take new bets.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import pytest
from django.db import connection

from betting.models import Position, Trade
from betting.settlement import settle_resolved_market
from markets.models import Market, MarketStatus, Outcome
from markets.services import market_close, resolution_vote
from points.models import Account, LedgerEntry, LedgerTransaction
from tests.api.gunicorn_server import (
    drop_database,
    recreate_database,
    run_django,
    server_environment,
)
from tests.betting.helpers import bet, sell, shares_held
from tests.markets.helpers import MODERATORS, decide, make_guild, make_market, make_member

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _database_url(name: str) -> str:
    """A libpq URL of the test database's server, for database ``name``."""
    db = connection.settings_dict
    credentials = quote(db["USER"], safe="")
    if db.get("PASSWORD"):
        credentials += ":" + quote(db["PASSWORD"], safe="")
    return f"postgresql://{credentials}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{name}"


def _run(args: list[str]) -> None:
    result = subprocess.run(args, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, f"{args[0]} failed ({result.returncode}):\n{result.stderr}"


def _ledger_and_markets(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """The money in one database, read with plain SQL so both databases are read alike."""
    account, entry = Account._meta.db_table, LedgerEntry._meta.db_table
    queries = {
        "accounts": (
            f"SELECT a.id, a.guild_id, a.balance, COALESCE(SUM(e.amount), 0), COUNT(e.id)"
            f" FROM {account} a LEFT JOIN {entry} e ON e.account_id = a.id"
            f" GROUP BY a.id, a.guild_id, a.balance ORDER BY a.id"
        ),
        "ledger": (
            f"SELECT COUNT(*), COALESCE(SUM(amount), 0), COALESCE(SUM(ABS(amount)), 0) FROM {entry}"
        ),
        "transactions": (
            f"SELECT id, guild_id, kind, idempotency_key"
            f" FROM {LedgerTransaction._meta.db_table} ORDER BY id"
        ),
        "markets": f"SELECT id, status, volume FROM {Market._meta.db_table} ORDER BY id",
        "pools": f"SELECT id, pool FROM {Outcome._meta.db_table} ORDER BY id",
        "trades": f"SELECT id, member_id, shares, points FROM {Trade._meta.db_table} ORDER BY id",
        # The money rules restored with the data: CHECKs, UNIQUEs, foreign keys and
        # the ledger's triggers come in pg_restore's post-data section.
        "constraints": (
            # By name and type: PostgreSQL may print a restored CHECK's expression
            # differently (an equivalent cast order), so definitions are not compared.
            "SELECT conrelid::regclass::text, conname, contype::text, condeferred"
            " FROM pg_constraint WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2"
        ),
        "triggers": (
            "SELECT tgrelid::regclass::text, tgname, pg_get_triggerdef(oid)"
            " FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1, 2"
        ),
        "positions": (
            f"SELECT id, member_id, shares, points_spent, points_received"
            f" FROM {Position._meta.db_table} ORDER BY id"
        ),
    }
    with psycopg.connect(url) as conn:
        return {name: conn.execute(sql).fetchall() for name, sql in queries.items()}


@pytest.fixture
def live_markets(db: None) -> dict[str, Any]:
    """Open markets with bets and positions, one settled, one closed awaiting its second vote."""
    guild = make_guild(min_resolution_votes=2)
    creator = make_member(guild, "creator")
    members = [make_member(guild, f"trader{n}") for n in range(5)]
    bettor, rival = members[0], members[1]
    weather = make_market(creator, question="Rain on Saturday?")
    final = make_market(creator, question="Who wins the final?", options=["Ana", "Ben", "Cleo"])
    for n, member in enumerate(members):
        bet(member, weather, n % 2, 40 + 15 * n)
        bet(member, final, n % 3, 25 + 10 * n)
    sell(rival, final, 1, shares_held(rival, final, 1) / 2)
    sell(bettor, weather, 0, "all")

    settled = make_market(creator, question="Does the bake sale raise 500?")
    bet(members[2], settled, 0, 120)
    bet(members[3], settled, 1, 80)
    decide(settled, outcome_index=0)
    settle_resolved_market(market_id=settled.pk)

    waiting = make_market(creator, question="Snow on Friday?")
    bet(members[4], waiting, 1, 60)
    market_close(market_id=waiting.pk, actor=MODERATORS[0])
    resolution_vote(market_id=waiting.pk, voter=MODERATORS[0], outcome_index=1)

    statuses = dict(Market.objects.values_list("pk", "status"))
    assert [statuses[m.pk] for m in (weather, final, waiting)] == [
        MarketStatus.OPEN,
        MarketStatus.OPEN,
        MarketStatus.CLOSED,
    ]
    assert Market.objects.get(pk=settled.pk).settled_at is not None
    assert Position.objects.filter(market__status=MarketStatus.OPEN, shares__gt=0).count() >= 6
    return {"open_market": final, "bettor": members[3]}


def test_a_restored_dump_reconciles_clean_with_the_same_ledger(
    live_markets: dict[str, Any], tmp_path: Path
) -> None:
    source_url = _database_url(connection.settings_dict["NAME"])
    copy_url = _database_url(f"{connection.settings_dict['NAME']}_restored")
    dump = tmp_path / "predictmarket.dump"
    entry_table = LedgerEntry._meta.db_table

    _run(["pg_dump", "--format=custom", f"--file={dump}", f"--dbname={source_url}"])
    recreate_database(copy_url)
    try:
        _run(
            [
                "pg_restore",
                "--no-owner",
                "--no-acl",
                "--exit-on-error",
                f"--dbname={copy_url}",
                str(dump),
            ]
        )
        source = _ledger_and_markets(source_url)
        copy = _ledger_and_markets(copy_url)
        for part, rows in source.items():
            missing, extra = set(rows) - set(copy[part]), set(copy[part]) - set(rows)
            assert copy[part] == rows, f"{part}: not restored {missing}, only in the copy {extra}"
        (entries, total, turnover) = source["ledger"][0]
        assert entries > 40 and total == 0 and turnover > 0
        assert entry_table in {table for table, *_ in source["triggers"]}

        env = server_environment(copy_url)
        env.update(
            MARKET_ID=str(live_markets["open_market"].pk),
            MEMBER_ID=str(live_markets["bettor"].pk),
        )
        # The README's check of a restored copy: exit 0, or run_django raises.
        run_django(["manage.py", "pm_reconcile"], env)
        output = run_django(["-m", "tests.ops.restored_copy"], env)
        checked = json.loads(output.strip().splitlines()[-1])

        clean = {
            "ok": True,
            "accounts_checked": len(source["accounts"]),
            "ledger_total": 0,
            "mismatches": [],
        }
        assert checked["before_bet"] == clean
        assert checked["after_bet"] == clean
        assert checked["unbalanced_entry_refused"] is True
        # The copy took a new trade after the restored ones; the source never saw it.
        assert checked["trade_id"] > max(trade[0] for trade in source["trades"])
        assert _ledger_and_markets(source_url) == source
        after = _ledger_and_markets(copy_url)
        assert len(after["trades"]) == len(source["trades"]) + 1
        assert after["ledger"][0][1] == 0
    finally:
        drop_database(copy_url)


def test_the_dump_tools_match_the_server() -> None:
    """pg_dump refuses a newer server; the README procedure needs matching major versions."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version_num")
        (server_version,) = cursor.fetchone()
    for tool in ("pg_dump", "pg_restore"):
        version = subprocess.run(
            [tool, "--version"], capture_output=True, text=True, check=True
        ).stdout
        found = re.search(r"\(PostgreSQL\) (\d+)", version)
        assert found, version
        assert int(found[1]) >= int(server_version) // 10_000, f"{tool}: {version.strip()}"
