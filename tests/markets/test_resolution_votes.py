"""Moderators vote on the outcome: not while betting is open, once per choice, changeable."""

from __future__ import annotations

from markets.models import Market, MarketStatus, ResolutionVote
from markets.services import market_close, resolution_vote
from predictmarket.errors import Conflict, InvalidState, ValidationFailed
from predictmarket.models import AuditLogEntry
from tests.markets.helpers import MODERATORS, decide, money_state, refused

MOD_A, MOD_B, MOD_C = MODERATORS[:3]


def _closed(market: Market) -> Market:
    market_close(market_id=market.pk, actor=MOD_A)
    market.refresh_from_db()
    return market


def test_it_refuses_a_vote_while_betting_is_open(market: Market) -> None:
    before = money_state()
    with refused(InvalidState):
        resolution_vote(market_id=market.pk, voter=MOD_A, outcome_index=0)
    assert money_state() == before
    market.refresh_from_db()
    assert market.status == MarketStatus.OPEN


def test_it_refuses_the_same_vote_twice_from_one_moderator(market: Market) -> None:
    _closed(market)
    resolution_vote(market_id=market.pk, voter=MOD_A, outcome_index=1)
    before = money_state()

    with refused(Conflict):
        resolution_vote(market_id=market.pk, voter=MOD_A, outcome_index=1)

    assert money_state() == before
    assert ResolutionVote.objects.filter(market=market).count() == 1
    market.refresh_from_db()
    assert market.status == MarketStatus.CLOSED  # one moderator voting twice decides nothing


def test_it_lets_a_moderator_change_their_vote(market: Market) -> None:
    _closed(market)
    resolution_vote(market_id=market.pk, voter=MOD_A, outcome_index=0)

    changed = resolution_vote(market_id=market.pk, voter=MOD_A, outcome_index=1)
    assert (changed.choice, changed.votes_for_choice, changed.decided) == ("No", 1, False)

    # A's earlier vote for "Yes" no longer counts: B's "Yes" is alone.
    other = resolution_vote(market_id=market.pk, voter=MOD_B, outcome_index=0)
    assert (other.votes_for_choice, other.decided) == (1, False)

    deciding = resolution_vote(market_id=market.pk, voter=MOD_C, outcome_index=1)
    assert (deciding.votes_for_choice, deciding.decided) == (2, True)
    market.refresh_from_db()
    assert market.status == MarketStatus.RESOLVED
    assert market.winning_outcome.label == "No"
    assert AuditLogEntry.objects.filter(action="market.vote", target_id=str(market.pk)).count() == 4


def test_it_decides_cancel_votes_as_a_cancellation(market: Market) -> None:
    _closed(market)
    first = resolution_vote(market_id=market.pk, voter=MOD_A, cancel=True)
    assert not first.decided
    second = resolution_vote(market_id=market.pk, voter=MOD_B, cancel=True)
    assert second.decided
    market.refresh_from_db()
    assert market.status == MarketStatus.CANCELLED
    assert market.winning_outcome is None


def test_it_refuses_a_vote_for_an_option_the_market_does_not_have(market: Market) -> None:
    _closed(market)
    before = money_state()
    with refused(ValidationFailed):
        resolution_vote(market_id=market.pk, voter=MOD_A, outcome_index=2)
    assert money_state() == before


def test_it_refuses_votes_on_a_decided_market(market: Market) -> None:
    decide(market, outcome_index=0)
    before = money_state()
    with refused(InvalidState):
        resolution_vote(market_id=market.pk, voter=MOD_C, outcome_index=1)
    assert money_state() == before
