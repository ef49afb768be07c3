"""A stake DRIP took for a bet that was never recorded is given back, once, by delivery.

The bet's debit is recorded applied; then the database connection drops (or
the process is killed) before the local bet commits, and the compensation
that ``bet_place`` queues on failure cannot be written either. Nothing on
the member's side can retry it (an API request without an Idempotency-Key
gets a random key), so delivery sweeps applied ``bet:`` debits that have no
trade once no bet request can still be using them, and queues their points
back under the same lock the bet takes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.db import OperationalError, connection
from django.utils import timezone

from betting import services as betting_services
from betting.models import Trade
from betting.services import bet_place
from markets.models import Market
from markets.services import market_create
from points.drip.services import deliver_pending_transfers
from points.models import DripTransfer, DripTransferStatus, Guild, Member
from tests.drip.fake_drip import FakeDrip
from tests.factories import MemberFactory

START = 1000


@pytest.fixture
def alice(drip_guild: Guild, fake_drip: FakeDrip, settings) -> Member:  # type: ignore[no-untyped-def]
    settings.RATE_LIMITS_ENABLED = False
    member = MemberFactory(guild=drip_guild, display_name="alice")
    fake_drip.add_member(member.discord_id, START)
    return member


@pytest.fixture
def market(alice: Member) -> Market:
    return market_create(
        creator=alice,
        question="Is the stake returned?",
        options=["Yes", "No"],
        duration=timedelta(days=5),
        actor="test",
        bypass_rate_limit=True,
    )


TRANSACTION_CONTROL = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")


@contextmanager
def _connection_drops_once_the_debit_is_recorded() -> Iterator[None]:
    """Every statement after the debit's "applied" commit fails, as on a dropped connection.

    (Savepoint statements still run, so the test's own transaction survives.)
    """
    dropped = False

    def drop(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        nonlocal dropped
        if dropped and not sql.startswith(TRANSACTION_CONTROL):
            raise OperationalError("server closed the connection unexpectedly")
        result = execute(sql, params, many, context)
        if sql.startswith('UPDATE "points_driptransfer"') and DripTransferStatus.APPLIED in (
            params or ()
        ):
            dropped = True
        return result

    with connection.execute_wrapper(drop):
        yield


def _later(**delta: float) -> time_machine.travel:
    return time_machine.travel(timezone.now() + timedelta(**delta))


def _bet(member: Member, market: Market, key: str) -> Any:
    return bet_place(
        member=member, market_id=market.pk, outcome_index=0, amount=100, idempotency_key=key
    )


@pytest.mark.django_db
def test_a_stake_taken_for_a_bet_that_was_never_recorded_is_returned_once(
    alice: Member, market: Market, fake_drip: FakeDrip
) -> None:
    with _connection_drops_once_the_debit_is_recorded(), pytest.raises(OperationalError):
        _bet(alice, market, "api:1:nokey")
    assert DripTransfer.objects.get(idempotency_key="bet:api:1:nokey").status == "applied"
    assert not Trade.objects.exists()
    assert fake_drip.balance(alice.discord_id) == START - 100

    deliver_pending_transfers()  # a bet request may still be using it: not yet
    assert fake_drip.balance(alice.discord_id) == START - 100
    with _later(hours=1):
        deliver_pending_transfers()
        deliver_pending_transfers()
    with _later(days=2):
        deliver_pending_transfers()  # two days of runs later, nothing more
        deliver_pending_transfers()

    assert fake_drip.balance(alice.discord_id) == START  # returned exactly once
    assert fake_drip.patches() == 2  # the stake and its return
    returned = DripTransfer.objects.get(idempotency_key="compensate:api:1:nokey")
    assert (returned.status, returned.amount) == (DripTransferStatus.APPLIED, 100)
    assert not Trade.objects.exists()


@pytest.mark.django_db
def test_a_placed_bets_stake_is_never_returned(
    alice: Member, market: Market, fake_drip: FakeDrip
) -> None:
    _bet(alice, market, "api:2:1")
    with _later(hours=1):
        deliver_pending_transfers()
    with _later(days=2):
        deliver_pending_transfers()
    assert fake_drip.balance(alice.discord_id) == START - 100
    assert Trade.objects.count() == 1
    assert not DripTransfer.objects.filter(idempotency_key__startswith="compensate:").exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_sweep_waits_for_a_bet_in_flight_and_then_sees_its_trade(
    alice: Member, market: Market, fake_drip: FakeDrip, monkeypatch: pytest.MonkeyPatch
) -> None:
    in_the_bet = threading.Event()
    go_on = threading.Event()
    real_buy = betting_services.amm.buy

    def slow_buy(*args: Any, **kwargs: Any) -> Any:
        # Inside the bet's transaction, with its debit row locked: a slow bet.
        in_the_bet.set()
        assert go_on.wait(timeout=30)
        return real_buy(*args, **kwargs)

    monkeypatch.setattr(betting_services.amm, "buy", slow_buy)
    outcomes: dict[str, Any] = {}

    def run(name: str, call: Any) -> None:
        try:
            outcomes[name] = call()
        except Exception as error:  # noqa: BLE001 - the test inspects it
            outcomes[name] = error
        finally:
            connection.close()

    bet = threading.Thread(target=run, args=("bet", lambda: _bet(alice, market, "api:3:1")))
    bet.start()
    assert in_the_bet.wait(timeout=30)
    with _later(hours=1):  # the debit looks long forgotten to the sweep
        sweep = threading.Thread(target=run, args=("sweep", deliver_pending_transfers))
        sweep.start()
        sweep.join(timeout=1.5)
        assert sweep.is_alive()  # it waits for the bet's lock on the debit
        go_on.set()
        bet.join(timeout=30)
        sweep.join(timeout=30)

    assert not isinstance(outcomes["bet"], Exception), outcomes["bet"]
    assert not isinstance(outcomes["sweep"], Exception), outcomes["sweep"]
    assert Trade.objects.count() == 1
    assert not DripTransfer.objects.filter(idempotency_key="compensate:api:3:1").exists()
    assert fake_drip.balance(alice.discord_id) == START - 100
