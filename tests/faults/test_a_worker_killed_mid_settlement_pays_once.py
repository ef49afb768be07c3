"""A worker SIGKILLed while it settles 10,000 winners: the sweep of a new worker pays each once.

Settlement is one database transaction (claim, payments, escrow remainder), so
a kill in the middle leaves nothing committed: PostgreSQL rolls the claim back
with the payments when the dead worker's connection drops, and the sweep of a
fresh worker claims it again. The kill is made to land while settlement runs
by watching ``pg_stat_activity`` for the worker's open write transaction posting
the payouts (``PAYING``): the claim is made, the payments are being written,
nothing is committed.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from betting.models import Position
from markets.models import Market, MarketStatus
from points.ledger import Leg, ledger_post
from points.models import Account, AccountKind, LedgerEntry, LedgerTransaction, Member
from points.services import house_account
from predictmarket.celery import app
from tests.api.gunicorn_server import server_environment
from tests.botrunner.e2e import bot_process
from tests.faults.servers import wait_for
from tests.faults.workers import Worker
from tests.markets.helpers import assert_ledger_sound, make_guild, make_market, make_member

pytestmark = [
    pytest.mark.faults,
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]

WINNERS = 10_000
SHARES = Decimal("3.5")  # each winner is owed 3 points


def _resolved_market_with_winners(count: int) -> Market:
    """A resolved market with ``count`` winning positions, set up in bulk.

    Placing 10,000 bets one by one would take minutes; the positions, accounts
    and the escrow's collateral for them are written directly (as
    ``bench/bets.py`` does), and the market is marked resolved with an UPDATE
    so that no on-commit settlement task is queued: only the tasks this test
    sends run.
    """
    guild = make_guild()
    market = make_market(make_member(guild, "creator"), duration=timedelta(minutes=5))
    members = Member.objects.bulk_create(
        Member(guild_id=guild.pk, discord_id=3 * 10**17 + i, display_name=f"winner {i}")
        for i in range(count)
    )
    Account.objects.bulk_create(
        Account(guild_id=guild.pk, kind=AccountKind.MEMBER, member=m, label=m.display_name)
        for m in members
    )
    win = market.outcomes.get(index=0)
    Position.objects.bulk_create(
        Position(market=market, member=m, outcome=win, shares=SHARES, points_spent=2)
        for m in members
    )
    ledger_post(
        guild_id=guild.pk,
        legs=[
            Leg(house_account(guild.pk).pk, -3 * count),
            Leg(market.escrow_account_id, 3 * count),
        ],
        kind="grant",
        actor="test:faults",
        idempotency_key=f"faults:collateral:{market.pk}",
    )
    Market.objects.filter(pk=market.pk).update(
        status=MarketStatus.RESOLVED, winning_outcome=win, resolved_at=timezone.now()
    )
    return market


# The statements of ``ledger_post_batch``: locking the payees' accounts, then
# inserting the transactions and entries and writing the balances (one statement
# on PostgreSQL, several through the ORM). The claim came before them.
PAYING = (
    r'^(SELECT .*FROM "points_account" .*FOR UPDATE'
    r'|WITH txn AS \(\s*INSERT INTO "points_ledgertransaction"'
    r'|INSERT INTO "points_ledger(transaction|entry)"'
    r"|UPDATE points_account )"
)


def _settlement_in_flight() -> str | None:
    """The statement of an uncommitted transaction paying out of the ledger, if any."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT query FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            " AND backend_xid IS NOT NULL AND query ~ %s",
            [PAYING],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def _other_backends() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            " AND backend_xid IS NOT NULL"
        )
        return cursor.fetchone()[0]


def test_a_market_whose_worker_was_killed_mid_settlement_is_paid_exactly_once(
    tmp_path: Path,
) -> None:
    market = _resolved_market_with_winners(WINNERS)
    env = server_environment(bot_process.test_database_url())
    env.update(CELERY_TASK_ALWAYS_EAGER="false", LOG_LEVEL="info", LOG_FORMAT="console")
    worker = Worker(env, queue=f"pm-faults-{uuid.uuid4().hex[:8]}", log=tmp_path / "worker.log")
    try:
        worker.start()
        app.send_task("betting.settle_market", args=[market.pk], queue=worker.queue)
        statement = wait_for(
            _settlement_in_flight,
            "the worker to be writing the payouts",
            every=0.01,
            log=worker.log,
        )
        worker.kill()
        # PostgreSQL rolls the dead worker's transaction back once it sees the
        # connection gone (after the statement it was running, if any).
        wait_for(lambda: _other_backends() == 0, "the killed worker's transaction to end")

        market.refresh_from_db()
        assert market.settled_at is None, f"the settlement committed before the kill ({statement})"
        assert not LedgerTransaction.objects.filter(
            idempotency_key__startswith=f"payout:{market.pk}:"
        ).exists()

        # The message of the killed task was never acknowledged, but it comes back
        # only after the broker's visibility timeout: the sweep is what settles it.
        worker.start()
        app.send_task("betting.settlement_sweep", queue=worker.queue)
        wait_for(
            lambda: Market.objects.filter(pk=market.pk, settled_at__isnull=False).exists(),
            "the new worker's sweep to settle the market",
            timeout=120,
            log=worker.log,
        )
    finally:
        worker.stop()

    payouts = LedgerEntry.objects.filter(
        transaction__idempotency_key__startswith=f"payout:{market.pk}:",
        account__kind=AccountKind.MEMBER,
    )
    per_account = payouts.values("account_id").annotate(n=Count("id")).filter(n__gt=1)
    assert payouts.count() == WINNERS
    assert not per_account.exists(), "a winner was paid more than once"
    assert set(payouts.values_list("amount", flat=True)) == {3}
    winners = Account.objects.filter(member__positions__market=market)
    assert set(winners.values_list("balance", flat=True)) == {3}
    assert Account.objects.get(pk=market.escrow_account_id).balance == 0
    assert_ledger_sound()
