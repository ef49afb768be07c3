"""Betting with DRIP points: bets, payouts, refunds and failures end to end."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from betting.models import Trade
from betting.services import SlippageExceeded, bet_place, shares_sell
from betting.settlement import settle_resolved_market
from betting.unwind import refund_market
from markets.models import Market
from markets.services import market_cancel, market_close, market_create, resolution_vote
from points.drip.client import DripRejected, DripUnavailable
from points.drip.reconciliation import drip_reconcile_guild
from points.drip.services import deliver_pending_transfers, drip_balance
from points.models import Account, DripTransfer, DripTransferStatus, Guild, Member
from points.reconciliation import ledger_reconcile
from tests.drip.fake_drip import FakeDrip
from tests.factories import MemberFactory


@pytest.fixture
def players(drip_guild: Guild, fake_drip: FakeDrip, settings) -> tuple[Member, Member]:  # type: ignore[no-untyped-def]
    settings.RATE_LIMITS_ENABLED = False
    alice = MemberFactory(guild=drip_guild, display_name="alice")
    bob = MemberFactory(guild=drip_guild, display_name="bob")
    fake_drip.add_member(alice.discord_id, 1000)
    fake_drip.add_member(bob.discord_id, 1000)
    return alice, bob


def _market(creator: Member) -> Market:
    return market_create(
        creator=creator,
        question="Will DRIP stay up?",
        options=["Yes", "No"],
        duration=timedelta(hours=1),
        actor="test",
        bypass_rate_limit=True,
    )


def _escrow(market: Market) -> int:
    return Account.objects.get(pk=market.escrow_account_id).balance


def _deliver_all() -> None:
    with time_machine.travel(timezone.now() + timedelta(hours=1)):
        deliver_pending_transfers()


@pytest.mark.django_db
def test_bet_then_payout_keeps_drip_and_the_ledger_in_agreement(
    players: tuple[Member, Member], fake_drip: FakeDrip
) -> None:
    alice, bob = players
    market = _market(alice)
    win = bet_place(
        member=alice, market_id=market.pk, outcome_index=0, amount=200, idempotency_key="a1"
    )
    bet_place(member=bob, market_id=market.pk, outcome_index=1, amount=100, idempotency_key="b1")
    assert fake_drip.balance(alice.discord_id) == 800
    assert fake_drip.balance(bob.discord_id) == 900
    assert win.balance == 800
    assert Account.objects.get(member=alice).balance == 0  # points live in DRIP

    market_close(market_id=market.pk, actor="mod")
    resolution_vote(market_id=market.pk, voter="discord:1", outcome_index=0)
    resolution_vote(market_id=market.pk, voter="discord:2", outcome_index=0)
    result = settle_resolved_market(market_id=market.pk)
    assert _escrow(market) == 0
    _deliver_all()
    payout = int(win.shares)
    assert result.paid_total == payout
    assert fake_drip.balance(alice.discord_id) == 800 + payout
    assert fake_drip.balance(bob.discord_id) == 900
    assert ledger_reconcile().ok
    assert drip_reconcile_guild(alice.guild).ok


@pytest.mark.django_db
def test_bet_then_refund_returns_every_point_at_drip(
    players: tuple[Member, Member], fake_drip: FakeDrip
) -> None:
    alice, bob = players
    market = _market(alice)
    bet_place(member=alice, market_id=market.pk, outcome_index=0, amount=150, idempotency_key="a1")
    bet_place(member=bob, market_id=market.pk, outcome_index=1, amount=60, idempotency_key="b1")
    market_cancel(market_id=market.pk, actor="mod", is_moderator=True)
    refund_market(market_id=market.pk)
    _deliver_all()
    assert fake_drip.balance(alice.discord_id) == 1000
    assert fake_drip.balance(bob.discord_id) == 1000
    assert _escrow(market) == 0
    assert ledger_reconcile().ok


@pytest.mark.django_db
def test_a_refused_drip_debit_places_no_bet(
    players: tuple[Member, Member], fake_drip: FakeDrip
) -> None:
    alice, _ = players
    market = _market(alice)
    fake_drip.api_key = "revoked-key-0000"
    with pytest.raises(DripRejected, match="API key"):
        bet_place(
            member=alice, market_id=market.pk, outcome_index=0, amount=50, idempotency_key="a1"
        )
    assert not Trade.objects.exists()
    assert _escrow(market) == market.liquidity


@pytest.mark.django_db
def test_a_local_failure_after_the_debit_queues_a_compensating_credit(
    players: tuple[Member, Member], fake_drip: FakeDrip
) -> None:
    alice, _ = players
    market = _market(alice)
    with pytest.raises(SlippageExceeded):
        bet_place(
            member=alice,
            market_id=market.pk,
            outcome_index=0,
            amount=50,
            idempotency_key="a1",
            min_shares=Decimal("1000000"),
        )
    assert fake_drip.balance(alice.discord_id) == 950  # taken, then...
    credit = DripTransfer.objects.get(idempotency_key="compensate:a1")
    assert (credit.amount, credit.status) == (50, DripTransferStatus.PENDING)
    _deliver_all()
    assert fake_drip.balance(alice.discord_id) == 1000  # ...given back, once
    assert not Trade.objects.exists()


@pytest.mark.django_db
def test_selling_credits_the_proceeds_to_drip(
    players: tuple[Member, Member], fake_drip: FakeDrip
) -> None:
    alice, _ = players
    market = _market(alice)
    bet_place(member=alice, market_id=market.pk, outcome_index=0, amount=100, idempotency_key="a1")
    sale = shares_sell(
        member=alice, market_id=market.pk, outcome_index=0, shares="all", idempotency_key="a2"
    )
    _deliver_all()
    assert fake_drip.balance(alice.discord_id) == 900 + sale.points
    assert ledger_reconcile().ok


@pytest.mark.django_db
def test_while_drip_is_down_bets_fail_fast_and_payouts_wait_then_land_once(
    players: tuple[Member, Member], fake_drip: FakeDrip, settings
) -> None:  # type: ignore[no-untyped-def]
    # The breaker must stay open for the whole "down" phase however slow the
    # retries are; the clock is moved past it when DRIP comes back.
    settings.DRIP_BREAKER_RESET_SECONDS = 600
    alice, bob = players
    market = _market(alice)
    win = bet_place(
        member=alice, market_id=market.pk, outcome_index=0, amount=100, idempotency_key="a1"
    )
    market_close(market_id=market.pk, actor="mod")
    resolution_vote(market_id=market.pk, voter="discord:1", outcome_index=0)
    resolution_vote(market_id=market.pk, voter="discord:2", outcome_index=0)

    fake_drip.down = True
    other = _market(bob)
    for key in ("b1", "b2", "b3"):
        with pytest.raises(DripUnavailable):
            bet_place(
                member=bob, market_id=other.pk, outcome_index=0, amount=10, idempotency_key=key
            )
    sent = len(fake_drip.requests)
    with pytest.raises(DripUnavailable, match="down"):
        bet_place(member=bob, market_id=other.pk, outcome_index=0, amount=10, idempotency_key="b4")
    assert len(fake_drip.requests) == sent  # the breaker answered, not DRIP
    with pytest.raises(DripUnavailable):
        drip_balance(bob, fresh=True)

    settle_resolved_market(market_id=market.pk)  # the payout is queued, not lost
    _deliver_all()
    assert fake_drip.balance(alice.discord_id) == 900  # still down: nothing delivered

    fake_drip.down = False
    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        deliver_pending_transfers()
        deliver_pending_transfers()
    assert fake_drip.balance(alice.discord_id) == 900 + int(win.shares)
    payouts = DripTransfer.objects.filter(purpose="payout")
    assert [t.status for t in payouts] == [DripTransferStatus.APPLIED]
    assert fake_drip.balance(bob.discord_id) == 1000


@pytest.mark.django_db
def test_daily_points_and_tips_are_left_to_drip(players: tuple[Member, Member]) -> None:
    from points.services import points_daily_claim, points_transfer
    from predictmarket.errors import InvalidState

    alice, bob = players
    with pytest.raises(InvalidState, match="DRIP"):
        points_daily_claim(member=alice)
    with pytest.raises(InvalidState, match="DRIP"):
        points_transfer(sender=alice, recipient=bob, amount=5, idempotency_key="t1")


@pytest.mark.django_db
def test_the_api_shows_the_drip_balance_and_says_when_drip_is_down(
    players: tuple[Member, Member], fake_drip: FakeDrip
) -> None:
    from rest_framework.test import APIClient

    from points.api_tokens import api_token_issue

    alice, _ = players
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer " + api_token_issue(member=alice, actor="t").key)
    assert client.get("/api/v1/me/").json()["balance"] == 1000
    fake_drip.down = True
    response = client.get("/api/v1/me/")
    assert response.status_code == 503
    assert "DRIP" in response.json()["error"]["message"]


@pytest.mark.django_db
def test_the_balance_leaderboard_points_to_drip_instead_of_ranking_zeros(
    players: tuple[Member, Member],
) -> None:
    from points.selectors import balance_leaderboard
    from predictmarket.errors import InvalidState

    alice, _ = players
    with pytest.raises(InvalidState, match="DRIP"):
        balance_leaderboard(alice.guild_id, member=alice)
