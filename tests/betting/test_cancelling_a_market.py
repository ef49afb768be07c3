"""The creator may cancel their market while nobody else traded; moderators always may."""

from __future__ import annotations

import pytest
from pytest_django import DjangoCaptureOnCommitCallbacks, Settings

from markets.models import Market, MarketStatus
from markets.services import market_cancel
from points.models import Member
from predictmarket.errors import InvalidState, PermissionDenied
from tests.betting.helpers import bet, betting_state, tasks_enqueued
from tests.markets.helpers import MODERATORS, assert_ledger_sound, balance_of, escrow_of, refused


@pytest.fixture
def eager_tasks(settings: Settings) -> None:
    """Run the on-commit refund task inline, as a worker would run it right after."""
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.CELERY_TASK_EAGER_PROPAGATES = True


def test_it_lets_the_creator_cancel_while_only_they_traded(
    eager_tasks: None,
    market: Market,
    creator: Member,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    start = balance_of(creator)
    bet(creator, market, 0, 80)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        cancelled = market_cancel(
            market_id=market.pk,
            actor=f"discord:{creator.discord_id}",
            is_moderator=False,
            member=creator,
        )

    assert len(tasks_enqueued(callbacks)) == 1  # the refund task, enqueued on commit
    assert cancelled.status == MarketStatus.CANCELLED
    market.refresh_from_db()
    assert market.settled_at is not None
    assert balance_of(creator) == start  # the 80 points came back
    assert escrow_of(market) == 0
    assert_ledger_sound()


def test_it_refuses_the_creator_once_another_member_traded(
    market: Market, creator: Member, bettor: Member
) -> None:
    bet(creator, market, 0, 80)
    bet(bettor, market, 1, 50)
    before = betting_state()

    with refused(PermissionDenied):
        market_cancel(
            market_id=market.pk,
            actor=f"discord:{creator.discord_id}",
            is_moderator=False,
            member=creator,
        )

    assert betting_state() == before
    market.refresh_from_db()
    assert market.status == MarketStatus.OPEN


def test_it_refuses_a_member_who_did_not_create_the_market(market: Market, bettor: Member) -> None:
    before = betting_state()
    with refused(PermissionDenied):
        market_cancel(
            market_id=market.pk,
            actor=f"discord:{bettor.discord_id}",
            is_moderator=False,
            member=bettor,
        )
    assert betting_state() == before


def test_it_lets_a_moderator_cancel_after_others_traded_but_only_once(
    market: Market, creator: Member, bettor: Member
) -> None:
    bet(bettor, market, 1, 50)
    market_cancel(market_id=market.pk, actor=MODERATORS[0], is_moderator=True)
    market.refresh_from_db()
    assert market.status == MarketStatus.CANCELLED

    before = betting_state()
    with refused(InvalidState):
        market_cancel(market_id=market.pk, actor=MODERATORS[1], is_moderator=True)
    assert betting_state() == before
