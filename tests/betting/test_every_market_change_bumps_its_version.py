"""Nothing changes what a market shows without bumping its version and refreshing its snapshot.

Two guards. The walk takes one market through every service that changes its
row (create, bet, sell, close, vote, resolve, settle; cancel and refund; the
automatic refund) with real commits, and after each one checks that the
version went up and that the cached snapshot is exactly what the database
says now. The scan reads the project's source for every write to a market
row (``Market.objects….update(…)``, ``market.save(update_fields=…)``, a
hand-written ``UPDATE`` of the table) and fails on one that does not bump
the version, so a service added later cannot forget.
"""

from __future__ import annotations

import ast
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from pytest_django import Settings

from betting.settlement import settle_resolved_market
from betting.unwind import refund_market
from markets.models import Market, MarketStatus
from markets.services import market_cancel, market_close, resolution_vote
from markets.snapshots import market_snapshot, snapshot_build
from points.models import Member
from tests.betting.helpers import bet, sell
from tests.markets.helpers import MODERATORS, make_market

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True, params=[False, True], ids=["built-on-read", "built-on-commit"])
def _tasks_run_inline(settings: Settings, request: pytest.FixtureRequest) -> None:
    """A decision's settlement or refund task runs on its commit, as a worker would run it.

    Every walk runs with snapshots built by their first reader and by the writer.
    """
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.MARKET_SNAPSHOT_EAGER = request.param


ROOT = Path(__file__).resolve().parents[2]
APPS = ["betting", "botrunner", "markets", "points", "predictmarket"]


class Watch:
    def __init__(self, market: Market) -> None:
        self.market = market
        self.version = self._current()
        self.steps: list[str] = []

    def _current(self) -> int:
        return Market.objects.values_list("version", flat=True).get(pk=self.market.pk)

    def changed(self, step: str) -> None:
        version = self._current()
        assert version > self.version, f"{step} did not bump the version"
        self.version = version
        cached = market_snapshot(guild_id=self.market.guild_id, market_id=self.market.pk)
        assert cached == snapshot_build(guild_id=self.market.guild_id, market_id=self.market.pk), (
            f"after {step} the cached snapshot differs from the database"
        )
        assert cached.version == version
        self.steps.append(step)


def test_a_resolved_market_is_current_in_the_cache_after_every_step(
    creator: Member, bettor: Member, rival: Member
) -> None:
    market = make_market(creator)
    watch = Watch(market)
    assert market_snapshot(guild_id=market.guild_id, market_id=market.pk).version == 0

    bet(bettor, market, 0, 120)
    watch.changed("bet")
    bet(rival, market, 1, 80)
    watch.changed("a second bet")
    sell(rival, market, 1, "all")
    watch.changed("sell")
    market_close(market_id=market.pk, actor=MODERATORS[0])
    watch.changed("close")
    resolution_vote(market_id=market.pk, voter=MODERATORS[0], outcome_index=0)
    resolution_vote(market_id=market.pk, voter=MODERATORS[1], outcome_index=0)
    watch.changed("resolve, and the settlement its commit started")
    assert not settle_resolved_market(market_id=market.pk).performed  # settled once

    snapshot = market_snapshot(guild_id=market.guild_id, market_id=market.pk)
    assert snapshot.status == MarketStatus.RESOLVED
    assert snapshot.settled_at is not None
    assert [o.is_winner for o in snapshot.outcomes] == [True, False]


def test_a_cancelled_market_is_current_in_the_cache_after_its_refund(
    creator: Member, bettor: Member
) -> None:
    market = make_market(creator)
    watch = Watch(market)
    bet(bettor, market, 0, 50)
    watch.changed("bet")

    market_cancel(market_id=market.pk, actor=MODERATORS[0], is_moderator=True)
    watch.changed("cancel, and the refund its commit started")
    assert not refund_market(market_id=market.pk).performed  # refunded once
    assert market_snapshot(guild_id=market.guild_id, market_id=market.pk).settled_at is not None


@pytest.mark.postgres  # the sweep's deadline arithmetic fails on SQLite (also on main)
def test_an_abandoned_market_is_current_in_the_cache_after_the_automatic_refund(
    creator: Member, bettor: Member
) -> None:
    start = datetime(2031, 3, 1, 12, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as clock:
        market = make_market(creator, duration=timedelta(hours=1))
        watch = Watch(market)
        bet(bettor, market, 1, 70)
        watch.changed("bet")

        clock.move_to(market.closes_at + timedelta(hours=market.auto_refund_hours))
        assert refund_market(market_id=market.pk, automatic=True).performed
        watch.changed("automatic refund")

        snapshot = market_snapshot(guild_id=market.guild_id, market_id=market.pk)
        assert (snapshot.status, snapshot.volume) == (MarketStatus.REFUNDED, 70)


# ------------------------------------------------------------------------------
# The scan
# ------------------------------------------------------------------------------
# Writes to a market row that no view shows, so they need no new version.
NOT_SHOWN = [
    {"reminded_at"},
    {"discord_channel_id", "discord_message_id"},
    {"discord_thread_id"},
]


# Migrations that define the SQL functions the services call (a trade's writes).
SQL_FUNCTIONS = [ROOT / "betting" / "migrations" / "0005_trade_write_function.py"]


def _sources() -> list[Path]:
    return [
        path
        for app in APPS
        for path in sorted((ROOT / app).rglob("*.py"))
        if "migrations" not in path.parts
    ] + SQL_FUNCTIONS


def _is_market_queryset(node: ast.AST) -> bool:
    return "Market.objects" in ast.unparse(node)


def _unbumped_writes(text: str, name: str) -> list[str]:
    problems = []
    for node in ast.walk(ast.parse(text)):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        where = f"{name}:{node.lineno}"
        if node.func.attr == "update" and _is_market_queryset(node.func.value):
            fields = {k.arg for k in node.keywords if k.arg}
            if "version" not in fields and fields not in NOT_SHOWN:
                problems.append(f"{where} updates {sorted(fields)} without bumping the version")
        if node.func.attr == "save" and ast.unparse(node.func.value).endswith("market"):
            for keyword in node.keywords:
                if keyword.arg == "update_fields" and "'version'" not in ast.unparse(keyword):
                    problems.append(f"{where} saves a market without its version")
    table = Market._meta.db_table
    for match in re.finditer(rf"UPDATE\s+(\{{_MARKET\}}|{table})\s[^;]*?WHERE", text, re.S):
        if "version = version + 1" not in match.group():
            line = text.count("\n", 0, match.start()) + 1
            problems.append(f"{name}:{line} updates the market table by hand")
    return problems


def test_every_write_to_a_market_row_bumps_its_version() -> None:
    problems = [
        problem
        for path in _sources()
        for problem in _unbumped_writes(path.read_text(), str(path.relative_to(ROOT)))
    ]
    assert problems == []


def test_the_scan_flags_writes_that_forget_the_version() -> None:
    """The scan is not vacuous: take the bump out of real writes and it objects."""
    settlement = (ROOT / "betting" / "settlement.py").read_text()
    trades = SQL_FUNCTIONS[0].read_text()
    lifecycle = (ROOT / "markets" / "services.py").read_text()

    flagged = _unbumped_writes(settlement.replace(', version=F("version") + 1', ""), "s")
    assert [p.split(" ", 1)[1] for p in flagged] == [
        "updates ['settled_at'] without bumping the version"
    ]
    assert len(_unbumped_writes(trades.replace(",\n        version = version + 1", ""), "t")) == 1
    assert len(_unbumped_writes(lifecycle.replace('"version", ', ""), "m")) == 2
