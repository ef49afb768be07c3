"""One member's DRIP writes are serialised: none is sent while another is *sending*.

Settling reads the member's balance and compares it with the balance seen
before the write. That only proves anything if none of our other writes to
that member landed in between: an equal debit (a bet) makes an applied credit
look unapplied, and it would be paid again; an equal credit makes an unapplied
one look applied, and it would never be paid. So while one write is unsettled
a bet is refused ("still being checked", nothing changes) and delivery holds
the member's other credits back.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from betting.models import Trade
from betting.services import bet_place
from markets.models import Market
from markets.services import market_create
from points.drip.client import DripClient, DripUnavailable
from points.drip.services import deliver_pending_transfers, drip_queue_credit
from points.models import DripTransfer, DripTransferStatus, Guild, LedgerTransaction, Member
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
        question="Will the credit be paid once?",
        options=["Yes", "No"],
        duration=timedelta(hours=3),
        actor="test",
        bypass_rate_limit=True,
    )


@contextmanager
def _settled() -> Iterator[None]:
    """Later than any settling delay: a write sent before now can no longer land."""
    with time_machine.travel(timezone.now() + timedelta(hours=1)):
        yield


@contextmanager
def _crash_after_the_call(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The PATCH reaches DRIP and is applied; then our worker dies before recording it."""
    real = DripClient.adjust_balance

    def adjust_then_crash(self: DripClient, drip_id: str, amount: int) -> None:
        real(self, drip_id, amount)
        raise RuntimeError("worker killed")

    with monkeypatch.context() as patch:
        patch.setattr(DripClient, "adjust_balance", adjust_then_crash)
        yield


@contextmanager
def _crash_before_the_call(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Our worker dies after committing the intent, before the PATCH leaves."""

    def crash(self: DripClient, drip_id: str, amount: int) -> None:
        raise RuntimeError("worker killed before the request left")

    with monkeypatch.context() as patch:
        patch.setattr(DripClient, "adjust_balance", crash)
        yield


def _bet(member: Member, market: Market, key: str, amount: int = 100) -> None:
    bet_place(
        member=member, market_id=market.pk, outcome_index=0, amount=amount, idempotency_key=key
    )


def _stakes_placed(member: Member) -> int:
    return sum(Trade.objects.filter(member=member).values_list("points", flat=True))


def _status(key: str) -> str:
    return DripTransfer.objects.get(idempotency_key=key).status


@pytest.mark.django_db
def test_a_credit_left_sending_is_not_paid_again_when_the_member_bets_the_same_amount(
    alice: Member, market: Market, fake_drip: FakeDrip, monkeypatch: pytest.MonkeyPatch
) -> None:
    drip_queue_credit(
        member=alice, guild_id=alice.guild_id, amount=100, purpose="payout", key="payout:9:1"
    )
    with _crash_after_the_call(monkeypatch):
        deliver_pending_transfers()
    assert fake_drip.balance(alice.discord_id) == START + 100  # DRIP has it; we do not know

    # The member bets exactly the credit's amount while it is unsettled.
    with suppress(DripUnavailable):
        _bet(alice, market, "api:1:first")
    with _settled():
        deliver_pending_transfers()
        deliver_pending_transfers()
        _bet(alice, market, "api:1:second")  # once settled, betting works again
        deliver_pending_transfers()

    # DRIP is up by the credit once and down by exactly the stakes placed.
    assert fake_drip.balance(alice.discord_id) == START + 100 - _stakes_placed(alice)
    assert _status("payout:9:1") == DripTransferStatus.APPLIED


@pytest.mark.django_db
def test_a_bet_while_a_credit_is_being_checked_is_refused_and_changes_nothing(
    alice: Member, market: Market, fake_drip: FakeDrip, monkeypatch: pytest.MonkeyPatch
) -> None:
    drip_queue_credit(
        member=alice, guild_id=alice.guild_id, amount=100, purpose="payout", key="payout:9:2"
    )
    with _crash_after_the_call(monkeypatch):
        deliver_pending_transfers()
    transactions = LedgerTransaction.objects.count()
    requests = len(fake_drip.requests)

    with pytest.raises(DripUnavailable, match=r"still being checked.*try again in a minute"):
        _bet(alice, market, "api:2:1")

    assert fake_drip.balance(alice.discord_id) == START + 100
    assert len(fake_drip.requests) == requests  # DRIP was not even asked
    assert not Trade.objects.exists()
    assert LedgerTransaction.objects.count() == transactions
    assert not DripTransfer.objects.filter(idempotency_key="bet:api:2:1").exists()
    assert _status("payout:9:2") == DripTransferStatus.SENDING


@pytest.mark.django_db
def test_a_credit_that_did_not_land_is_not_taken_as_paid_because_another_equal_one_did(
    alice: Member, fake_drip: FakeDrip, monkeypatch: pytest.MonkeyPatch
) -> None:
    drip_queue_credit(
        member=alice, guild_id=alice.guild_id, amount=50, purpose="payout", key="payout:9:3"
    )
    with _crash_before_the_call(monkeypatch):
        deliver_pending_transfers()  # left sending; DRIP never saw it
    drip_queue_credit(
        member=alice, guild_id=alice.guild_id, amount=50, purpose="refund", key="refund:9:4"
    )
    deliver_pending_transfers()  # the second credit waits for the first to settle
    assert _status("refund:9:4") == DripTransferStatus.PENDING
    assert fake_drip.patches() == 0

    with _settled():
        for _ in range(4):
            deliver_pending_transfers()
    assert fake_drip.balance(alice.discord_id) == START + 100  # both paid, each once
    assert fake_drip.patches() == 2
    assert _status("payout:9:3") == DripTransferStatus.APPLIED
    assert _status("refund:9:4") == DripTransferStatus.APPLIED


@pytest.mark.django_db
def test_another_members_credits_are_not_held_back(
    alice: Member, fake_drip: FakeDrip, monkeypatch: pytest.MonkeyPatch
) -> None:
    bob = MemberFactory(guild=alice.guild, display_name="bob")
    fake_drip.add_member(bob.discord_id, START)
    drip_queue_credit(
        member=alice, guild_id=alice.guild_id, amount=50, purpose="payout", key="payout:9:5"
    )
    with _crash_after_the_call(monkeypatch):
        deliver_pending_transfers()
    drip_queue_credit(
        member=bob, guild_id=alice.guild_id, amount=30, purpose="payout", key="payout:9:6"
    )
    assert deliver_pending_transfers().applied == 1
    assert fake_drip.balance(bob.discord_id) == START + 30
