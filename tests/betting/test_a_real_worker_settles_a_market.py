"""A settlement task sent through the Redis broker is run by a real Celery worker.

The worker runs in a thread of this process (``celery.contrib.testing``) with
the project's app and broker, and reads the database through its own
connection, so the test commits for real (``transaction=True``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import ROUND_FLOOR
from typing import Any

import pytest
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.db import connection

from betting.models import Position
from betting.tasks import settle_market
from markets.models import Market
from predictmarket.celery import app
from tests.betting.helpers import bet
from tests.markets.helpers import (
    assert_ledger_sound,
    balance_of,
    decide,
    escrow_of,
    make_guild,
    make_market,
    make_member,
)

pytestmark = [
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("tasks_go_to_the_broker"),
]

TIMEOUT_SECONDS = 20


def _close_worker_connection(**_: Any) -> None:
    connection.close()  # runs in the worker's thread: hand its connection back to the pool


@contextmanager
def running_worker() -> Iterator[object]:
    task_postrun.connect(_close_worker_connection, weak=False)
    try:
        with start_worker(app, perform_ping_check=False, pool="solo", concurrency=1) as running:
            yield running
    finally:
        task_postrun.disconnect(_close_worker_connection)


def test_a_worker_settles_a_market_from_the_broker() -> None:
    guild = make_guild(min_resolution_votes=1)
    winner, loser = make_member(guild, "winner"), make_member(guild, "loser")
    market = make_market(winner)
    shares = bet(winner, market, 1, 250).shares
    bet(loser, market, 0, 250)
    decide(market, outcome_index=1)
    # Deciding already queued a task on commit; drop it (and anything stale) so
    # the worker can only settle through the task sent below.
    app.control.purge()
    market.refresh_from_db()
    assert market.settled_at is None
    winner_before, loser_before = balance_of(winner), balance_of(loser)

    with running_worker():
        settle_market.delay(market.pk)
        deadline = time.monotonic() + TIMEOUT_SECONDS
        while Market.objects.filter(pk=market.pk, settled_at__isnull=True).exists():
            assert time.monotonic() < deadline, "the worker did not settle the market in time"
            time.sleep(0.1)

    assert balance_of(winner) == winner_before + int(shares.to_integral_value(ROUND_FLOOR))
    assert balance_of(loser) == loser_before
    assert escrow_of(market) == 0
    position = Position.objects.get(member=winner, market=market)
    assert position.points_received == int(shares.to_integral_value(ROUND_FLOOR))
    assert_ledger_sound()
