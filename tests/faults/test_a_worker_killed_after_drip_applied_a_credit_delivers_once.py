"""A worker SIGKILLed after DRIP applied a credit, before it recorded that: delivered once.

A DRIP write is a state machine in our database (``points.drip.writes``): the
intent and the balance seen before are committed before the PATCH, the outcome
after. The fake DRIP server (in this process) applies the credit's PATCH and
then holds its answer; the worker is killed while it waits, so DRIP has applied
the write and our row still says *sending*. A new worker's delivery run, once
the settling delay has passed, must settle it by reading the member's balance
(moved by exactly the amount: applied), and never send it a second time.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.utils import timezone

from betting.services import bet_place, shares_sell
from markets.services import market_create
from points.drip.services import clearing_account, guild_connect_drip
from points.models import DripTransfer, DripTransferStatus
from predictmarket.celery import app
from tests.api.gunicorn_server import run_django, server_environment
from tests.botrunner.e2e import bot_process
from tests.drip.fake_drip import FakeDrip
from tests.faults.servers import wait_for
from tests.faults.workers import Worker
from tests.markets.helpers import assert_ledger_sound, make_guild, make_member

pytestmark = [
    pytest.mark.faults,
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]

START = 1000
STAKE = 200
# The client's timeout is also how long the held answer may keep the worker waiting
# before it gives up and reads the balance itself (and records the credit applied):
# the kill must land inside it. 2 s leaves room on a loaded machine; with one attempt
# the settling delay is then (1 + 1) x 2 s = 4 s (``points.drip.writes.settling_delay``).
TIMEOUT_SECONDS = 2.0


def _delivery_run(worker: Worker) -> str:
    """Send ``points.deliver_drip_transfers`` to the worker; its report, once it finished."""
    task_id = app.send_task("points.deliver_drip_transfers", queue=worker.queue).id
    done = re.compile(rf"Task points\.deliver_drip_transfers\[{task_id}\] succeeded in \S+: (.*)")
    return wait_for(
        lambda: (found := done.search(worker.log.read_text(errors="replace"))) and found[1],
        "the delivery run to finish",
        log=worker.log,
    )


def test_a_credit_whose_worker_was_killed_after_drip_applied_it_is_delivered_exactly_once(
    tmp_path: Path, settings
) -> None:  # type: ignore[no-untyped-def]
    # The worker must decrypt the API key this process stored: the same Fernet key.
    settings.DRIP_ENCRYPTION_KEY = Fernet.generate_key().decode()
    settings.DRIP_TIMEOUT_SECONDS = TIMEOUT_SECONDS
    settings.DRIP_MAX_ATTEMPTS = 1
    settings.DRIP_BALANCE_CACHE_SECONDS = 0
    settings.RATE_LIMITS_ENABLED = False
    # A realm of its own: the circuit breaker's state lives in Redis under its name.
    fake = FakeDrip(realm_id=secrets.token_hex(12))
    settings.DRIP_API_BASE_URL = fake.start()
    release = threading.Event()
    worker: Worker | None = None
    try:
        guild = make_guild()
        guild_connect_drip(
            guild_id=guild.pk,
            realm_id=fake.realm_id,
            api_key=fake.api_key,
            currency_id=fake.currency_id,
            actor="admin:test",
        )
        alice = make_member(guild, "alice")
        drip_id = fake.add_member(alice.discord_id, START)
        market = market_create(
            creator=alice,
            question="Will the worker survive?",
            options=["Yes", "No"],
            duration=timedelta(hours=1),
            actor="test",
            bypass_rate_limit=True,
        )
        # The stake is debited at DRIP right here; the sale's proceeds are a credit
        # committed with the sale, for the worker to deliver.
        bet_place(
            member=alice, market_id=market.pk, outcome_index=0, amount=STAKE, idempotency_key="b1"
        )
        sale = shares_sell(
            member=alice, market_id=market.pk, outcome_index=0, shares="all", idempotency_key="s1"
        )
        credit = DripTransfer.objects.get(idempotency_key="sell:s1")
        assert credit.status == DripTransferStatus.PENDING and credit.amount == sale.points > 0
        held = fake.fail_next("PATCH", release=release).held

        env = server_environment(bot_process.test_database_url())
        env.update(
            CELERY_TASK_ALWAYS_EAGER="false",
            LOG_LEVEL="info",
            LOG_FORMAT="console",
            DRIP_API_BASE_URL=settings.DRIP_API_BASE_URL,
            DRIP_ENCRYPTION_KEY=settings.DRIP_ENCRYPTION_KEY,
            DRIP_MAX_ATTEMPTS="1",
            DRIP_TIMEOUT_SECONDS=str(TIMEOUT_SECONDS),
            DRIP_BALANCE_CACHE_SECONDS="0",
        )
        worker = Worker(env, queue=f"pm-faults-{uuid.uuid4().hex[:8]}", log=tmp_path / "worker.log")
        worker.start()
        app.send_task("points.deliver_drip_transfers", queue=worker.queue)
        wait_for(held.is_set, "DRIP to apply the credit and hold its answer", log=worker.log)
        worker.kill()
        release.set()

        # DRIP applied it; we did not record it.
        assert fake.applied == [(drip_id, -STAKE), (drip_id, sale.points)]
        credit.refresh_from_db()
        assert credit.status == DripTransferStatus.SENDING, (
            f"the worker recorded the credit {credit.status} before the kill"
        )
        assert credit.balance_before == START - STAKE
        assert credit.next_attempt_at is not None

        # A request sent before the settling delay has passed may still land: wait it out.
        worker.start()
        time.sleep(max(0.0, (credit.next_attempt_at - timezone.now()).total_seconds()) + 0.2)
        report = _delivery_run(worker)
        assert "'applied': 1" in report, report
        # A later run finds nothing more to do for it.
        assert "'applied': 0" in _delivery_run(worker)
        reconciled = run_django(["manage.py", "pm_reconcile", "--drip"], env)
    finally:
        release.set()
        if worker is not None:
            worker.stop()
        fake.stop()

    credit.refresh_from_db()
    assert credit.status == DripTransferStatus.APPLIED
    assert credit.attempts == 1
    assert credit.balance_after == START - STAKE + sale.points
    assert fake.applied == [(drip_id, -STAKE), (drip_id, sale.points)], "the credit was resent"
    assert fake.balance(alice.discord_id) == START - STAKE + sale.points
    # Locally the clearing account stands for DRIP: it moved as DRIP did, once.
    assert clearing_account(guild.pk).balance == sale.points - STAKE
    assert "reconciled: no differences" in reconciled, reconciled
    assert_ledger_sound()
