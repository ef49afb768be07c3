"""A worker SIGKILLed while it applies a correction to 5,000 members: the sweep pays each once.

The correction's reversal and new settlement are one database transaction
(the claim on ``applied_at``, the take-backs, the payments, the house's
remainder), so a kill in the middle commits nothing: PostgreSQL rolls the
claim back with the payments, and the sweep of a fresh worker claims it again.
The kill lands while the worker is writing the payments (watched in
``pg_stat_activity``, as in the settlement fault test).
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.db.models import Count
from django.utils import timezone

from betting.models import Position, Trade, TradeSide
from betting.settlement import settle_resolved_market
from markets.models import Market, MarketCorrection, MarketStatus
from markets.services import resolution_vote
from points.ledger import Leg, ledger_post
from points.models import Account, AccountKind, LedgerEntry, LedgerTransaction, Member
from points.services import house_account
from predictmarket.celery import app
from tests.api.gunicorn_server import server_environment
from tests.botrunner.e2e import bot_process
from tests.faults.servers import wait_for
from tests.faults.test_a_worker_killed_mid_settlement_pays_once import (
    _other_backends,
    _settlement_in_flight,
)
from tests.faults.workers import Worker
from tests.markets.helpers import (
    MODERATORS,
    assert_ledger_sound,
    make_guild,
    make_market,
    make_member,
)

pytestmark = [
    pytest.mark.faults,
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]

MEMBERS = 5_000
STAKE = 2  # each member bought 1.5 shares of Yes for 2 points


def _market_resolved_yes_and_paid(count: int) -> Market:
    """``count`` members who each bought Yes for 2 points; resolved Yes and paid 1 each.

    The trades, positions and their ledger postings are written in bulk (placing
    5,000 bets one by one would take minutes), consistent with each other: each
    member was granted 2 points and paid them into the escrow.
    """
    guild = make_guild(min_resolution_votes=1)
    market = make_market(make_member(guild, "creator"), duration=timedelta(minutes=5))
    members = Member.objects.bulk_create(
        Member(guild_id=guild.pk, discord_id=4 * 10**17 + i, display_name=f"fan {i}")
        for i in range(count)
    )
    accounts = Account.objects.bulk_create(
        Account(guild_id=guild.pk, kind=AccountKind.MEMBER, member=m, label=m.display_name)
        for m in members
    )
    house = house_account(guild.pk).pk
    ledger_post(
        guild_id=guild.pk,
        legs=[Leg(house, -STAKE * count), *(Leg(a.pk, STAKE) for a in accounts)],
        kind="grant",
        actor="test:faults",
        idempotency_key=f"faults:grants:{market.pk}",
    )
    ledger_post(
        guild_id=guild.pk,
        legs=[Leg(market.escrow_account_id, STAKE * count), *(Leg(a.pk, -STAKE) for a in accounts)],
        kind="bet",
        actor="test:faults",
        idempotency_key=f"faults:bets:{market.pk}",
    )
    yes = market.outcomes.get(index=0)
    now = timezone.now()
    Trade.objects.bulk_create(
        Trade(
            market=market,
            member=m,
            outcome=yes,
            side=TradeSide.BUY,
            points=STAKE,
            shares=Decimal("1.5"),
            average_price=Decimal("1.33333333"),
            probabilities_before=["0.5", "0.5"],
            probabilities_after=["0.5", "0.5"],
            idempotency_key=f"faults:trade:{market.pk}:{m.pk}",
            created_at=now,
        )
        for m in members
    )
    Position.objects.bulk_create(
        Position(market=market, member=m, outcome=yes, shares=Decimal("1.5"), points_spent=STAKE)
        for m in members
    )
    Market.objects.filter(pk=market.pk).update(
        status=MarketStatus.RESOLVED, winning_outcome=yes, resolved_at=now
    )
    assert settle_resolved_market(market_id=market.pk).performed
    return market


def test_a_correction_whose_worker_was_killed_midway_is_paid_exactly_once(
    tmp_path: Path,
) -> None:
    market = _market_resolved_yes_and_paid(MEMBERS)
    # Corrected to cancel: every trade unwound, so each member is owed the 1 point
    # the payout did not return. The vote's on-commit task goes to the default
    # queue, which no worker here reads: only the tasks this test sends run.
    resolution_vote(market_id=market.pk, voter=MODERATORS[0], cancel=True, correct=True)
    correction = MarketCorrection.objects.get(market=market)
    env = server_environment(bot_process.test_database_url())
    env.update(CELERY_TASK_ALWAYS_EAGER="false", LOG_LEVEL="info", LOG_FORMAT="console")
    worker = Worker(env, queue=f"pm-faults-{uuid.uuid4().hex[:8]}", log=tmp_path / "worker.log")
    try:
        worker.start()
        app.send_task("betting.apply_market_correction", args=[correction.pk], queue=worker.queue)
        statement = wait_for(
            _settlement_in_flight,
            "the worker to be writing the correction's payments",
            every=0.01,
            log=worker.log,
        )
        worker.kill()
        wait_for(lambda: _other_backends() == 0, "the killed worker's transaction to end")

        correction.refresh_from_db()
        assert correction.applied_at is None, f"it committed before the kill ({statement})"
        assert not LedgerTransaction.objects.filter(
            idempotency_key__startswith=f"correct:{market.pk}:"
        ).exists()

        worker.start()
        app.send_task("betting.settlement_sweep", queue=worker.queue)
        wait_for(
            lambda: MarketCorrection.objects.filter(
                pk=correction.pk, applied_at__isnull=False
            ).exists(),
            "the new worker's sweep to apply the correction",
            timeout=120,
            log=worker.log,
        )
    finally:
        worker.stop()

    payments = LedgerEntry.objects.filter(
        transaction__idempotency_key__startswith=f"correct:{market.pk}:1:",
        account__kind=AccountKind.MEMBER,
    )
    assert payments.count() == MEMBERS
    assert not payments.values("account_id").annotate(n=Count("id")).filter(n__gt=1).exists()
    assert set(payments.values_list("amount", flat=True)) == {1}
    fans = Account.objects.filter(member__positions__market=market)
    assert set(fans.values_list("balance", flat=True)) == {STAKE}  # whole again
    assert Account.objects.get(pk=market.escrow_account_id).balance == 0
    assert_ledger_sound()
