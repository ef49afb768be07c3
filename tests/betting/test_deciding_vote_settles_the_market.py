"""The vote that reaches the guild's threshold resolves the market and settlement follows."""

from __future__ import annotations

from pytest_django import DjangoCaptureOnCommitCallbacks, Settings

from markets.models import Market, MarketStatus
from markets.services import market_close, resolution_vote
from points.models import LedgerTransaction, Member, TransactionKind
from tests.betting.helpers import bet, tasks_enqueued
from tests.markets.helpers import MODERATORS, assert_ledger_sound, balance_of, escrow_of


def test_it_resolves_on_the_second_agreeing_vote_and_pays_the_winners(
    settings: Settings,
    market: Market,
    bettor: Member,
    rival: Member,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    settings.CELERY_TASK_ALWAYS_EAGER = True  # the on-commit task runs inline
    settings.CELERY_TASK_EAGER_PROPAGATES = True
    assert market.guild.min_resolution_votes == 2
    winning = bet(bettor, market, 0, 200)
    bet(rival, market, 1, 300)
    market_close(market_id=market.pk, actor=MODERATORS[0])
    bettor_before, rival_before = balance_of(bettor), balance_of(rival)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        first = resolution_vote(market_id=market.pk, voter=MODERATORS[0], outcome_index=0)
    assert not first.decided
    assert callbacks == []  # nothing to settle yet
    market.refresh_from_db()
    assert market.status == MarketStatus.CLOSED
    assert balance_of(bettor) == bettor_before

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        second = resolution_vote(market_id=market.pk, voter=MODERATORS[1], outcome_index=0)

    assert second.decided
    assert len(tasks_enqueued(callbacks)) == 1  # the settlement task
    market.refresh_from_db()
    assert market.status == MarketStatus.RESOLVED
    assert market.winning_outcome.index == 0
    assert market.settled_at is not None
    assert balance_of(bettor) == bettor_before + int(winning.shares)
    assert balance_of(rival) == rival_before
    assert escrow_of(market) == 0
    assert LedgerTransaction.objects.filter(kind=TransactionKind.PAYOUT).count() == 2  # + house
    assert_ledger_sound()
