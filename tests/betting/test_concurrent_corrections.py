"""Moderators voting a correction at once, and workers applying it at once: paid once.

Real threads on PostgreSQL. Votes serialise on the market's row lock, so one
correction is decided; its application is claimed by a conditional UPDATE of
``applied_at`` under that lock, so the on-commit task, sweeps and reruns that
race it find nothing left to do.
"""

from __future__ import annotations

import functools

import pytest
from pytest_django import Settings

from betting.corrections import correction_apply
from betting.settlement import settle_resolved_market
from betting.tasks import settlement_sweep
from markets.models import Market, MarketCorrection, MarketStatus
from markets.services import resolution_vote
from points.models import Guild, LedgerTransaction, Member
from predictmarket.errors import Conflict, InvalidState
from tests.betting.helpers import bet, run_concurrently
from tests.betting.test_correcting_a_market import on_market
from tests.markets.helpers import (
    MODERATORS,
    assert_ledger_sound,
    decide,
    escrow_of,
    make_guild,
    make_market,
    make_member,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _resolved_twins(guild: Guild) -> tuple[list[Member], Market, Market]:
    """A market resolved to Home and paid, and its twin resolved to Away (the oracle)."""
    members = [make_member(guild, f"fan{n}") for n in range(6)]
    markets = [make_market(members[0], options=["Home", "Draw", "Away"]) for _ in range(2)]
    for market in markets:
        for n, member in enumerate(members):
            bet(member, market, n % 3, 40 + 7 * n)
    decide(markets[0], outcome_index=0)
    settle_resolved_market(market_id=markets[0].pk)
    decide(markets[1], outcome_index=2)
    settle_resolved_market(market_id=markets[1].pk)
    return members, markets[0], markets[1]


def test_concurrent_correction_votes_decide_one_correction_paid_once(settings: Settings) -> None:
    settings.CELERY_TASK_ALWAYS_EAGER = True  # the deciding vote's on-commit task runs inline
    settings.CELERY_TASK_EAGER_PROPAGATES = True
    guild = make_guild(min_resolution_votes=2)
    members, market, twin = _resolved_twins(guild)

    vote = functools.partial(resolution_vote, market_id=market.pk, outcome_index=2, correct=True)
    calls = [functools.partial(vote, voter=voter) for voter in MODERATORS[:4]]
    calls += [settlement_sweep, settlement_sweep]
    outcomes = run_concurrently(calls, workers=len(calls))

    votes, sweeps = outcomes[:4], outcomes[4:]
    assert [o.error for o in sweeps] == [None, None]
    counted = [o.value for o in votes if o.error is None]
    refused = [o.error for o in votes if o.error is not None]
    # Two votes decide it; a later one finds it corrected already (or still being paid).
    assert sorted(v.decided for v in counted) == [False, True]
    assert all(isinstance(e, Conflict | InvalidState) for e in refused), refused
    correction = MarketCorrection.objects.get(market=market)
    assert correction.applied_at is not None
    market.refresh_from_db()
    assert market.status == MarketStatus.RESOLVED and market.winning_outcome.index == 2
    for member in members:
        assert on_market(member, market) == on_market(member, twin), member.display_name
    assert escrow_of(market) == 0
    assert_ledger_sound()


@pytest.mark.usefixtures("tasks_go_to_the_broker")
def test_workers_applying_one_correction_at_once_pay_each_member_once() -> None:
    guild = make_guild(min_resolution_votes=1)
    members, market, twin = _resolved_twins(guild)
    resolution_vote(market_id=market.pk, voter=MODERATORS[0], outcome_index=2, correct=True)
    correction = MarketCorrection.objects.get(market=market)
    # The on-commit task went to a broker no worker reads: only these calls apply it.
    apply = functools.partial(correction_apply, correction_id=correction.pk)

    outcomes = run_concurrently([apply, apply, apply, settlement_sweep], workers=4)

    assert [o.error for o in outcomes] == [None] * 4
    performed = [o.value.performed for o in outcomes[:3]] + [bool(outcomes[3].value)]
    assert sorted(performed) == [False, False, False, True]
    for member in members:
        assert on_market(member, market) == on_market(member, twin), member.display_name
        keys = LedgerTransaction.objects.filter(
            idempotency_key=f"correct:{market.pk}:1:{member.pk}"
        )
        assert keys.count() <= 1
    assert escrow_of(market) == 0
    assert_ledger_sound()
