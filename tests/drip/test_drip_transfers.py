"""Debits and credits against DRIP leave both sides consistent, or queued for repair."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from points.drip.client import DripRejected, DripUnavailable
from points.drip.reconciliation import drip_reconcile_guild
from points.drip.services import (
    deliver_pending_transfers,
    drip_balance,
    drip_debit,
    drip_queue_credit,
)
from points.models import DripTransfer, DripTransferStatus, Guild, Member
from predictmarket.errors import InsufficientPoints
from tests.drip.fake_drip import FakeDrip


@pytest.fixture
def drip_member(drip_guild: Guild, member: Member, fake_drip: FakeDrip) -> Member:
    fake_drip.add_member(member.discord_id, 500)
    member.refresh_from_db()
    return member


def _status(key: str) -> str:
    return DripTransfer.objects.get(idempotency_key=key).status


@pytest.mark.django_db
def test_balances_come_from_drip(drip_member: Member, fake_drip: FakeDrip) -> None:
    assert drip_balance(drip_member) == 500
    fake_drip.members[drip_member.discord_id]["balance"] = 480
    assert drip_balance(drip_member, fresh=True) == 480


@pytest.mark.django_db
def test_a_debit_is_applied_once_and_recorded(drip_member: Member, fake_drip: FakeDrip) -> None:
    first = drip_debit(member=drip_member, amount=120, key="bet:1")
    again = drip_debit(member=drip_member, amount=120, key="bet:1")
    assert fake_drip.balance(drip_member.discord_id) == 380
    assert fake_drip.patches() == 1
    assert first.pk == again.pk and again.status == DripTransferStatus.APPLIED
    assert (again.balance_before, again.balance_after) == (500, 380)


@pytest.mark.django_db
def test_a_debit_above_the_drip_balance_is_refused(
    drip_member: Member, fake_drip: FakeDrip
) -> None:
    with pytest.raises(InsufficientPoints, match="balance is 500"):
        drip_debit(member=drip_member, amount=501, key="bet:2")
    assert fake_drip.balance(drip_member.discord_id) == 500
    assert fake_drip.patches() == 0
    assert _status("bet:2") == DripTransferStatus.FAILED


@pytest.mark.django_db
def test_a_bad_key_refuses_the_debit_with_a_clear_message(
    drip_member: Member, fake_drip: FakeDrip
) -> None:
    fake_drip.api_key = "rotated-key-9999"
    with pytest.raises(DripRejected, match="API key"):
        drip_debit(member=drip_member, amount=10, key="bet:3")
    assert _status("bet:3") == DripTransferStatus.FAILED


@pytest.mark.django_db
def test_an_unknown_drip_member_cannot_bet(drip_guild: Guild, member: Member) -> None:
    with pytest.raises(DripRejected, match="no DRIP account"):
        drip_debit(member=member, amount=10, key="bet:4")


@pytest.mark.django_db
def test_a_lost_answer_after_drip_applied_the_debit_counts_once(
    drip_member: Member, fake_drip: FakeDrip
) -> None:
    fake_drip.fail_next("PATCH", apply_then_drop=True)
    transfer = drip_debit(member=drip_member, amount=50, key="bet:5")
    assert transfer.status == DripTransferStatus.APPLIED
    assert fake_drip.balance(drip_member.discord_id) == 450
    assert fake_drip.patches() == 1


@pytest.mark.django_db
def test_a_500_on_the_debit_that_did_not_apply_is_refused_cleanly(
    drip_member: Member, fake_drip: FakeDrip
) -> None:
    fake_drip.fail_next("PATCH", status=500)
    with pytest.raises(DripUnavailable, match="try again"):
        drip_debit(member=drip_member, amount=50, key="bet:6")
    assert fake_drip.balance(drip_member.discord_id) == 500
    # A 500 does not say whether DRIP applied it: only a read after the delay can.
    assert _status("bet:6") == DripTransferStatus.SENDING
    with time_machine.travel(timezone.now() + timedelta(hours=1)):
        deliver_pending_transfers()
    assert _status("bet:6") == DripTransferStatus.FAILED
    assert fake_drip.patches() == 1


@pytest.mark.django_db
def test_credits_wait_while_drip_is_down_then_land_exactly_once(
    drip_member: Member, fake_drip: FakeDrip
) -> None:
    drip_queue_credit(
        member=drip_member,
        guild_id=drip_member.guild_id,
        amount=70,
        purpose="payout",
        key="payout:1:1",
    )
    drip_queue_credit(
        member=drip_member,
        guild_id=drip_member.guild_id,
        amount=30,
        purpose="refund",
        key="refund:2:1",
    )
    fake_drip.down = True
    report = deliver_pending_transfers()
    assert report.applied == 0 and report.retrying == 2
    assert _status("payout:1:1") == DripTransferStatus.PENDING
    fake_drip.down = False
    # Not due yet (backoff); once due, both land.
    assert deliver_pending_transfers().applied == 0
    with time_machine.travel(timezone.now() + timedelta(minutes=11)):
        assert deliver_pending_transfers().applied == 2
        assert deliver_pending_transfers().applied == 0
    assert fake_drip.balance(drip_member.discord_id) == 600
    assert fake_drip.patches() == 2


@pytest.mark.django_db
def test_a_credit_whose_answer_was_lost_is_not_sent_again(
    drip_member: Member, fake_drip: FakeDrip
) -> None:
    drip_queue_credit(
        member=drip_member,
        guild_id=drip_member.guild_id,
        amount=40,
        purpose="payout",
        key="payout:9:1",
    )
    fake_drip.fail_next("PATCH", apply_then_drop=True)
    assert deliver_pending_transfers().applied == 1
    with time_machine.travel(timezone.now() + timedelta(hours=1)):
        deliver_pending_transfers()
    assert fake_drip.balance(drip_member.discord_id) == 540
    assert fake_drip.patches() == 1


@pytest.mark.django_db
def test_reconciliation_reports_injected_drift(drip_member: Member, fake_drip: FakeDrip) -> None:
    drip_debit(member=drip_member, amount=100, key="bet:7")
    assert drip_reconcile_guild(drip_member.guild).ok
    fake_drip.members[drip_member.discord_id]["balance"] += 25  # changed behind our back
    report = drip_reconcile_guild(drip_member.guild)
    assert not report.ok
    [drift] = report.drifts
    assert (drift.expected, drift.reported, drift.drift) == (400, 425, 25)
    assert fake_drip.balance(drip_member.discord_id) == 425  # reported, not "fixed"
