"""A cancelled market in a DRIP guild is unwound at DRIP too: gains are debited back there.

The gain is taken back with a recorded DRIP debit before the local unwind,
as far as the member's DRIP balance holds; losses come back as credits. The
house loses at most the market's liquidity whatever the members did with
their DRIP points meanwhile.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from betting.services import bet_place, shares_sell
from betting.unwind import refund_market
from markets.models import Market
from markets.services import market_cancel, market_create
from points.drip.client import DripUnavailable
from points.drip.services import deliver_pending_transfers, drip_debit
from points.models import Account, DripTransfer, DripTransferStatus, Guild, Member
from points.reconciliation import ledger_reconcile
from tests.drip.fake_drip import FakeDrip
from tests.factories import MemberFactory

LIQUIDITY = 100

pytestmark = pytest.mark.django_db


def _two_accounts_trade(drip_guild: Guild, fake_drip: FakeDrip) -> tuple[Market, Member, Member]:
    """The whale pushes "Yes" up, the partner buys "No" cheap, the whale sells out and the
    partner sells far up. The sales' proceeds are queued for DRIP, not delivered yet."""
    Guild.objects.filter(pk=drip_guild.pk).update(default_liquidity=LIQUIDITY)
    drip_guild.refresh_from_db()
    whale = MemberFactory(guild=drip_guild, display_name="whale")
    partner = MemberFactory(guild=drip_guild, display_name="partner")
    fake_drip.add_member(whale.discord_id, 100_000)
    fake_drip.add_member(partner.discord_id, 1_000)
    market = market_create(
        creator=whale,
        question="Two accounts, one plan?",
        options=["Yes", "No"],
        duration=timedelta(hours=1),
        actor="test",
        bypass_rate_limit=True,
    )
    bet_place(
        member=whale, market_id=market.pk, outcome_index=0, amount=99_000, idempotency_key="w1"
    )
    bet_place(
        member=partner, market_id=market.pk, outcome_index=1, amount=500, idempotency_key="p1"
    )
    shares_sell(
        member=whale, market_id=market.pk, outcome_index=0, shares="all", idempotency_key="w2"
    )
    shares_sell(
        member=partner, market_id=market.pk, outcome_index=1, shares="all", idempotency_key="p2"
    )
    return market, whale, partner


@pytest.fixture
def traded(drip_guild: Guild, fake_drip: FakeDrip, settings) -> tuple[Market, Member, Member]:  # type: ignore[no-untyped-def]
    """The two-account trade, its proceeds not delivered yet."""
    settings.RATE_LIMITS_ENABLED = False
    return _two_accounts_trade(drip_guild, fake_drip)


@pytest.fixture
def whale_and_partner(traded: tuple[Market, Member, Member]) -> tuple[Market, Member, Member]:
    """The two-account trade with every sale's proceeds delivered to DRIP."""
    _deliver_all()
    return traded


def _deliver_all() -> None:
    with time_machine.travel(timezone.now() + timedelta(hours=1)):
        deliver_pending_transfers()


def test_the_gain_is_debited_back_at_drip_and_the_loss_credited(
    whale_and_partner: tuple[Market, Member, Member], fake_drip: FakeDrip
) -> None:
    market, whale, partner = whale_and_partner
    assert fake_drip.balance(partner.discord_id) > 10_000  # the partner is far up
    market_cancel(market_id=market.pk, actor="mod", is_moderator=True)

    result = refund_market(market_id=market.pk)
    _deliver_all()

    assert result.performed
    assert fake_drip.balance(whale.discord_id) == 100_000
    assert fake_drip.balance(partner.discord_id) == 1_000
    assert Account.objects.get(pk=market.escrow_account_id).balance == 0
    assert ledger_reconcile().ok


def test_gains_spent_at_drip_cost_the_house_at_most_the_liquidity(
    whale_and_partner: tuple[Market, Member, Member], fake_drip: FakeDrip
) -> None:
    market, whale, partner = whale_and_partner
    fake_drip.members[partner.discord_id]["balance"] = 2_000  # spent elsewhere in DRIP
    whale_before = fake_drip.balance(whale.discord_id)
    house = Account.objects.get(guild_id=market.guild_id, kind="house")
    house_before = house.balance
    market_cancel(market_id=market.pk, actor="mod", is_moderator=True)

    result = refund_market(market_id=market.pk)
    _deliver_all()

    assert fake_drip.balance(partner.discord_id) == 0  # gave back what it still had
    refunded = fake_drip.balance(whale.discord_id) - whale_before
    assert 0 < refunded < 100_000 - whale_before  # cut pro rata: less than its loss
    assert result.paid_total == refunded
    house.refresh_from_db()
    assert house.balance - house_before == 0  # its liquidity went to the refunds
    assert Account.objects.get(pk=market.escrow_account_id).balance == 0
    assert ledger_reconcile().ok


def test_while_drip_is_down_the_unwind_waits_instead_of_cutting_refunds(
    whale_and_partner: tuple[Market, Member, Member], fake_drip: FakeDrip
) -> None:
    market, whale, partner = whale_and_partner
    market_cancel(market_id=market.pk, actor="mod", is_moderator=True)
    fake_drip.down = True

    with pytest.raises(DripUnavailable):
        refund_market(market_id=market.pk)
    market.refresh_from_db()
    assert market.settled_at is None  # nothing was paid; the sweep tries again

    fake_drip.down = False
    with time_machine.travel(timezone.now() + timedelta(hours=1)):
        assert refund_market(market_id=market.pk).performed
    _deliver_all()
    assert fake_drip.balance(whale.discord_id) == 100_000
    assert fake_drip.balance(partner.discord_id) == 1_000
    assert (
        DripTransfer.objects.filter(purpose="unwind", status=DripTransferStatus.APPLIED).count()
        == 1
    )


def test_a_take_back_made_after_another_worker_unwound_the_market_is_given_back(
    whale_and_partner: tuple[Market, Member, Member], fake_drip: FakeDrip
) -> None:
    """Two workers (the on-commit task and a sweep) unwind at once; one is late at DRIP."""
    market, _, partner = whale_and_partner
    gain = fake_drip.balance(partner.discord_id) - 1_000
    spent_elsewhere = fake_drip.balance(partner.discord_id)
    fake_drip.members[partner.discord_id]["balance"] = 0  # nothing to take back now
    market_cancel(market_id=market.pk, actor="mod", is_moderator=True)
    assert refund_market(market_id=market.pk).performed  # worker A: takes nothing back
    fake_drip.members[partner.discord_id]["balance"] = spent_elsewhere  # earned it back
    # Worker B read the market before A's claim and debits the partner now.
    drip_debit(
        member=partner, amount=gain, key=f"unwind:{market.pk}:{partner.pk}:1", purpose="unwind"
    )
    assert fake_drip.balance(partner.discord_id) == spent_elsewhere - gain

    assert refund_market(market_id=market.pk).performed is False  # B's claim fails
    _deliver_all()

    # The late take-back is in no refund, so it goes back to the partner.
    assert fake_drip.balance(partner.discord_id) == spent_elsewhere
    assert refund_market(market_id=market.pk).performed is False
    _deliver_all()
    assert fake_drip.balance(partner.discord_id) == spent_elsewhere  # once
    assert ledger_reconcile().ok


def test_a_gainer_who_left_drip_does_not_hold_up_the_refunds(
    whale_and_partner: tuple[Market, Member, Member], fake_drip: FakeDrip
) -> None:
    market, _, partner = whale_and_partner
    del fake_drip.members[partner.discord_id]  # no longer in the realm
    market_cancel(market_id=market.pk, actor="mod", is_moderator=True)

    result = refund_market(market_id=market.pk)

    assert result.performed
    market.refresh_from_db()
    assert market.settled_at is not None
    assert Account.objects.get(pk=market.escrow_account_id).balance == 0
    assert ledger_reconcile().ok


def test_a_gain_not_yet_delivered_to_drip_is_waited_for_then_taken_back(
    traded: tuple[Market, Member, Member], fake_drip: FakeDrip
) -> None:
    """Cancelled before the sale's proceeds reached DRIP: the unwind waits for them."""
    market, whale, partner = traded
    market_cancel(market_id=market.pk, actor="mod", is_moderator=True)

    with pytest.raises(DripUnavailable):
        refund_market(market_id=market.pk)  # the proceeds are still queued
    market.refresh_from_db()
    assert market.settled_at is None

    _deliver_all()
    with time_machine.travel(timezone.now() + timedelta(hours=1)):
        assert refund_market(market_id=market.pk).performed
    _deliver_all()
    assert fake_drip.balance(whale.discord_id) == 100_000
    assert fake_drip.balance(partner.discord_id) == 1_000
    assert ledger_reconcile().ok


def test_proceeds_that_can_never_be_delivered_do_not_hold_the_refunds_up_for_ever(
    traded: tuple[Market, Member, Member], fake_drip: FakeDrip
) -> None:
    """The gainer left DRIP with their sale's credit undelivered: the unwind waits, then goes on."""
    market, _, partner = traded
    del fake_drip.members[partner.discord_id]  # left the realm: the credit cannot land
    market_cancel(market_id=market.pk, actor="mod", is_moderator=True)
    with pytest.raises(DripUnavailable):
        refund_market(market_id=market.pk)

    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        deliver_pending_transfers()  # still refused: the partner is not at DRIP
        result = refund_market(market_id=market.pk)

    assert result.performed
    assert Account.objects.get(pk=market.escrow_account_id).balance == 0
    assert ledger_reconcile().ok


def test_a_refused_take_back_is_asked_again_for_what_the_balance_holds(
    whale_and_partner: tuple[Market, Member, Member], fake_drip: FakeDrip
) -> None:
    """An earlier attempt asked for more than the partner then held: not all or nothing."""
    market, _, partner = whale_and_partner
    gain = fake_drip.balance(partner.discord_id) - 1_000
    DripTransfer.objects.create(
        guild_id=market.guild_id,
        member=partner,
        amount=-gain,
        purpose="unwind",
        idempotency_key=f"unwind:{market.pk}:{partner.pk}:1",
        status=DripTransferStatus.FAILED,
        last_error="not enough points at DRIP",
    )
    fake_drip.members[partner.discord_id]["balance"] = 2_000  # spent most of it meanwhile
    market_cancel(market_id=market.pk, actor="mod", is_moderator=True)

    result = refund_market(market_id=market.pk)

    assert result.performed
    assert fake_drip.balance(partner.discord_id) == 0
    assert {row["member_id"]: row["amount"] for row in result.lines}[partner.pk] == -2_000
    assert ledger_reconcile().ok
