"""A DRIP write is applied exactly once, whatever fails between "DRIP applied it" and our commit.

The fake DRIP server really applies each PATCH; then our side fails: an
exception right after the HTTP call returns (a crash, a Celery soft time
limit), a 2xx whose body cannot be read, or a database error while recording
the outcome. The intent was committed before the call, so the transfer is left
*sending*; delivery settles it by reading the balance once the settling delay
has passed, and never sends it again blindly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from celery.exceptions import SoftTimeLimitExceeded
from django.db import OperationalError, connection
from django.utils import timezone

from betting.models import Trade
from betting.services import bet_place
from markets.models import Market
from markets.services import market_create
from points.drip.client import DripClient, DripUnavailable
from points.drip.services import deliver_pending_transfers, drip_debit, drip_queue_credit
from points.models import DripTransfer, DripTransferStatus, Guild, Member
from predictmarket.errors import InvalidState
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
        question="Will DRIP answer?",
        options=["Yes", "No"],
        duration=timedelta(hours=3),
        actor="test",
        bypass_rate_limit=True,
    )


def _status(key: str) -> str:
    return DripTransfer.objects.get(idempotency_key=key).status


@contextmanager
def _settled() -> Iterator[None]:
    """Later than any settling delay: a write sent before now can no longer land."""
    with time_machine.travel(timezone.now() + timedelta(hours=1)):
        yield


# ------------------------------------------------------------------------------
# Ways our side fails after DRIP applied the PATCH
# ------------------------------------------------------------------------------
@contextmanager
def _raise_after_the_call(
    monkeypatch: pytest.MonkeyPatch, error: Callable[[], BaseException]
) -> Iterator[None]:
    """The PATCH reaches DRIP and is answered; then our process fails before recording it."""
    real = DripClient.adjust_balance

    def adjust_then_fail(self: DripClient, drip_id: str, amount: int) -> None:
        real(self, drip_id, amount)
        raise error()

    with monkeypatch.context() as patch:
        patch.setattr(DripClient, "adjust_balance", adjust_then_fail)
        yield


@contextmanager
def _database_fails_when_recording_applied() -> Iterator[None]:
    """The database refuses the UPDATE that records "applied" (as a lost connection would)."""

    def refuse(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if sql.startswith('UPDATE "points_driptransfer"') and DripTransferStatus.APPLIED in (
            params or ()
        ):
            raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(refuse):
        yield


def _our_side_fails(
    how: str, fake_drip: FakeDrip, monkeypatch: pytest.MonkeyPatch
) -> AbstractContextManager[None]:
    if how == "a crash right after the call":
        return _raise_after_the_call(monkeypatch, lambda: RuntimeError("worker crashed"))
    if how == "a soft time limit right after the call":
        return _raise_after_the_call(monkeypatch, SoftTimeLimitExceeded)
    if how == "a 2xx with an unreadable body":
        fake_drip.fail_next("PATCH", unreadable_body=True)
        return nullcontext()
    assert how == "a database error recording the outcome"
    return _database_fails_when_recording_applied()


FAILURES = [
    "a crash right after the call",
    "a soft time limit right after the call",
    "a 2xx with an unreadable body",
    "a database error recording the outcome",
]


# ------------------------------------------------------------------------------
# Credits (delivered by the task)
# ------------------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize("how", FAILURES)
def test_a_credit_is_paid_once_when_our_side_fails_after_drip_applied_it(
    how: str, alice: Member, fake_drip: FakeDrip, monkeypatch: pytest.MonkeyPatch
) -> None:
    drip_queue_credit(
        member=alice, guild_id=alice.guild_id, amount=40, purpose="payout", key="payout:1:1"
    )
    # A time limit ends the run, as it would end the Celery task.
    with _our_side_fails(how, fake_drip, monkeypatch), suppress(SoftTimeLimitExceeded):
        deliver_pending_transfers()
    assert fake_drip.balance(alice.discord_id) == START + 40

    # Delivery runs again and again (every 15 s), before and after the settling delay.
    deliver_pending_transfers()
    with _settled():
        deliver_pending_transfers()
        deliver_pending_transfers()

    assert fake_drip.balance(alice.discord_id) == START + 40  # credited exactly once
    assert fake_drip.patches() == 1
    assert _status("payout:1:1") == DripTransferStatus.APPLIED


@pytest.mark.django_db
def test_a_credit_left_sending_waits_for_the_settling_delay(
    alice: Member, fake_drip: FakeDrip, monkeypatch: pytest.MonkeyPatch
) -> None:
    drip_queue_credit(
        member=alice, guild_id=alice.guild_id, amount=40, purpose="payout", key="payout:2:1"
    )
    with _raise_after_the_call(monkeypatch, lambda: RuntimeError("worker crashed")):
        deliver_pending_transfers()
    transfer = DripTransfer.objects.get(idempotency_key="payout:2:1")
    assert (transfer.status, transfer.attempts, transfer.balance_before) == (
        DripTransferStatus.SENDING,
        1,
        START,
    )
    assert transfer.sent_at is not None

    deliver_pending_transfers()  # too early to read the balance: it stays sending
    assert _status("payout:2:1") == DripTransferStatus.SENDING
    with _settled():
        assert deliver_pending_transfers().applied == 1


@pytest.mark.django_db
def test_a_credit_that_never_reached_drip_is_sent_again_after_the_delay(
    alice: Member, fake_drip: FakeDrip, monkeypatch: pytest.MonkeyPatch
) -> None:
    drip_queue_credit(
        member=alice, guild_id=alice.guild_id, amount=40, purpose="refund", key="refund:3:1"
    )

    def crash_before_sending(self: DripClient, drip_id: str, amount: int) -> None:
        raise RuntimeError("worker crashed before the request left")

    with monkeypatch.context() as patch:
        patch.setattr(DripClient, "adjust_balance", crash_before_sending)
        deliver_pending_transfers()
    assert _status("refund:3:1") == DripTransferStatus.SENDING

    with _settled():
        deliver_pending_transfers()  # balance unchanged: proven not applied, so pending again
        deliver_pending_transfers()  # and now delivered
    assert fake_drip.balance(alice.discord_id) == START + 40
    assert fake_drip.patches() == 1
    assert _status("refund:3:1") == DripTransferStatus.APPLIED


@pytest.mark.django_db
def test_a_balance_that_moved_by_something_else_is_left_for_a_person(
    alice: Member, fake_drip: FakeDrip, monkeypatch: pytest.MonkeyPatch
) -> None:
    drip_queue_credit(
        member=alice, guild_id=alice.guild_id, amount=40, purpose="payout", key="payout:4:1"
    )
    with _raise_after_the_call(monkeypatch, lambda: RuntimeError("worker crashed")):
        deliver_pending_transfers()
    fake_drip.members[alice.discord_id]["balance"] += 7  # the member earned points elsewhere

    with _settled():
        assert deliver_pending_transfers().ambiguous == 1
        deliver_pending_transfers()
    assert _status("payout:4:1") == DripTransferStatus.AMBIGUOUS
    assert fake_drip.patches() == 1  # never resent blindly


@pytest.mark.django_db
def test_one_failing_transfer_does_not_stop_the_others_and_oldest_go_first(
    alice: Member, fake_drip: FakeDrip, monkeypatch: pytest.MonkeyPatch
) -> None:
    bob = MemberFactory(guild=alice.guild, display_name="bob")
    fake_drip.add_member(bob.discord_id, START)
    carol = MemberFactory(guild=alice.guild, display_name="carol")
    fake_drip.add_member(carol.discord_id, START)
    for n, member in enumerate([alice, bob, carol]):
        drip_queue_credit(
            member=member, guild_id=alice.guild_id, amount=10 + n, purpose="payout", key=f"p:{n}"
        )
    real = DripClient.adjust_balance

    def bob_crashes(self: DripClient, drip_id: str, amount: int) -> None:
        if drip_id == f"drip{bob.discord_id}":
            raise RuntimeError("a bug in one row")
        real(self, drip_id, amount)

    with monkeypatch.context() as patch:
        patch.setattr(DripClient, "adjust_balance", bob_crashes)
        report = deliver_pending_transfers()

    assert report.applied == 2
    assert fake_drip.balance(alice.discord_id) == START + 10
    assert fake_drip.balance(carol.discord_id) == START + 12
    patched = [path for method, path in fake_drip.requests if method == "PATCH"]
    assert patched == [
        f"/api/v1/realms/{fake_drip.realm_id}/members/drip{alice.discord_id}/balance",
        f"/api/v1/realms/{fake_drip.realm_id}/members/drip{carol.discord_id}/balance",
    ]
    with _settled():
        deliver_pending_transfers()
        deliver_pending_transfers()
    assert fake_drip.balance(bob.discord_id) == START + 11  # delivered later, once


# ------------------------------------------------------------------------------
# Debits (synchronous, for bets)
# ------------------------------------------------------------------------------
def _stakes_placed(member: Member) -> int:
    return sum(Trade.objects.filter(member=member).values_list("points", flat=True))


@pytest.mark.django_db
@pytest.mark.parametrize("how", FAILURES)
def test_a_bet_is_paid_for_once_when_our_side_fails_after_drip_took_the_stake(
    how: str, alice: Member, market: Market, fake_drip: FakeDrip, monkeypatch: pytest.MonkeyPatch
) -> None:
    def place() -> None:
        bet_place(
            member=alice, market_id=market.pk, outcome_index=0, amount=100, idempotency_key="k1"
        )

    # The member is told the bet failed (or, for some, that it went through).
    failures = (RuntimeError, SoftTimeLimitExceeded, OperationalError, DripUnavailable)
    with _our_side_fails(how, fake_drip, monkeypatch), suppress(*failures):
        place()
    # The member tries again at once, and again after the delay.
    for retry in (nullcontext(), _settled()):
        with retry:
            deliver_pending_transfers()
            # "Still being checked" / "failed earlier, points returned" / a replay.
            with suppress(DripUnavailable, InvalidState):
                place()
            deliver_pending_transfers()
    with _settled(), time_machine.travel(timezone.now() + timedelta(hours=2)):
        deliver_pending_transfers()  # any compensating credit is delivered

    # Whatever the member saw, DRIP is down by exactly the stakes of the bets placed.
    assert fake_drip.balance(alice.discord_id) == START - _stakes_placed(alice)
    assert Trade.objects.count() <= 1
    debit = DripTransfer.objects.get(idempotency_key="bet:k1")
    assert debit.status in (DripTransferStatus.APPLIED, DripTransferStatus.FAILED)
    assert sum(1 for m, _ in fake_drip.requests if m == "PATCH") <= 2  # the debit, a refund


@pytest.mark.django_db
def test_a_debit_lost_to_a_crash_is_refunded_once_and_the_bet_is_not_placed(
    alice: Member, market: Market, fake_drip: FakeDrip, monkeypatch: pytest.MonkeyPatch
) -> None:
    with (
        _raise_after_the_call(monkeypatch, lambda: RuntimeError("web worker killed")),
        pytest.raises(RuntimeError),
    ):
        bet_place(
            member=alice, market_id=market.pk, outcome_index=0, amount=100, idempotency_key="k2"
        )
    assert _status("bet:k2") == DripTransferStatus.SENDING
    with pytest.raises(DripUnavailable, match="still being checked"):
        bet_place(
            member=alice, market_id=market.pk, outcome_index=0, amount=100, idempotency_key="k2"
        )
    assert fake_drip.balance(alice.discord_id) == START - 100

    with _settled():
        deliver_pending_transfers()  # proven applied: applied, and the stake is queued back
        assert _status("bet:k2") == DripTransferStatus.APPLIED
        assert _status("compensate:k2") == DripTransferStatus.PENDING
        deliver_pending_transfers()
        with pytest.raises(InvalidState, match="returned"):
            bet_place(
                member=alice,
                market_id=market.pk,
                outcome_index=0,
                amount=100,
                idempotency_key="k2",
            )
    assert fake_drip.balance(alice.discord_id) == START
    assert not Trade.objects.exists()
    assert fake_drip.patches() == 2  # the debit and its refund, nothing resent


@pytest.mark.django_db
def test_a_debit_that_did_not_apply_fails_after_the_delay(
    alice: Member, market: Market, fake_drip: FakeDrip
) -> None:
    fake_drip.fail_next("PATCH", status=500)  # DRIP answered 500 and did not apply it
    with pytest.raises(DripUnavailable, match="nothing was bet"):
        bet_place(
            member=alice, market_id=market.pk, outcome_index=0, amount=100, idempotency_key="k3"
        )
    with _settled():
        deliver_pending_transfers()
    assert _status("bet:k3") == DripTransferStatus.FAILED
    assert fake_drip.balance(alice.discord_id) == START
    assert not Trade.objects.exists()
    assert not DripTransfer.objects.filter(idempotency_key="compensate:k3").exists()


@pytest.mark.django_db
def test_a_debit_abandoned_before_it_was_sent_is_failed_by_delivery(
    alice: Member, fake_drip: FakeDrip, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(self: DripClient, discord_id: int) -> None:
        raise RuntimeError("web worker killed before asking DRIP")

    with monkeypatch.context() as patch:
        patch.setattr(DripClient, "find_member", crash)
        with pytest.raises(RuntimeError):
            drip_debit(member=alice, amount=100, key="bet:k4")
    # Claimed (so no other write to this member is sent meanwhile), with no balance
    # recorded: the PATCH is only ever sent after the balance was recorded.
    debit = DripTransfer.objects.get(idempotency_key="bet:k4")
    assert (debit.status, debit.balance_before) == (DripTransferStatus.SENDING, None)

    with _settled():
        deliver_pending_transfers()
    assert _status("bet:k4") == DripTransferStatus.FAILED  # never sent, so never applied
    assert fake_drip.patches() == 0
