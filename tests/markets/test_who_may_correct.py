"""A correction is a decision: the who-may-resolve rule applies to it as to the first one.

Where the market's rule names its creator or arbitrator, they may vote for a
correction; one who holds shares is never the sole deciding vote (a moderator
must agree); anyone else who does not moderate is refused. Each correction is
its own round of votes: a vote of an earlier round never agrees with this one.
"""

from __future__ import annotations

from betting.corrections import correction_apply
from betting.settlement import settle_resolved_market
from markets.models import Market, MarketCorrection, MarketStatus
from markets.services import VoteResult, market_close, resolution_vote
from markets.voters import discord_voter
from points.models import Member, ResolverRule
from predictmarket.errors import PermissionDenied
from predictmarket.models import OutboxEvent
from tests.betting.helpers import bet
from tests.markets.helpers import (
    MODERATORS,
    make_guild,
    make_market,
    make_member,
    money_state,
    refused,
)

MOD_A, MOD_B = MODERATORS[:2]


def _arbitrated(votes: int, *, judge_bets: bool) -> tuple[Market, Member, Member]:
    guild = make_guild(min_resolution_votes=votes, resolvers_binary=ResolverRule.ARBITRATOR)
    creator, judge = make_member(guild, "creator"), make_member(guild, "judge")
    market = make_market(creator, arbitrator=judge)
    bet(creator, market, 1, 40)
    if judge_bets:
        bet(judge, market, 0, 50)
    market_close(market_id=market.pk, actor=MOD_A)
    return market, creator, judge


def _resolved_by_moderators(market: Market, index: int, votes: int) -> None:
    for voter in MODERATORS[:votes]:
        result = resolution_vote(market_id=market.pk, voter=voter, outcome_index=index)
    assert result.decided
    assert settle_resolved_market(market_id=market.pk).performed


def _member_corrects(market: Market, member: Member, index: int, **kwargs: object) -> VoteResult:
    return resolution_vote(
        market_id=market.pk,
        voter=discord_voter(member.discord_id),
        outcome_index=index,
        is_moderator=False,
        **kwargs,
    )


def _apply_latest(market: Market) -> None:
    correction = MarketCorrection.objects.filter(market=market).order_by("-number").first()
    assert correction is not None
    correction_apply(correction_id=correction.pk)


def _winner(market: Market) -> tuple[str, str | None]:
    market.refresh_from_db()
    label = market.winning_outcome.label if market.winning_outcome else None
    return market.status, label


def test_an_arbitrator_holding_shares_cannot_correct_alone(db: None) -> None:
    market, _, judge = _arbitrated(1, judge_bets=True)
    _resolved_by_moderators(market, 1, votes=1)  # "No"; the judge holds "Yes"

    waiting = _member_corrects(market, judge, 0, correct=True)

    assert (waiting.correction, waiting.decided, waiting.waiting_for_moderator) == (
        True,
        False,
        True,
    )
    assert _winner(market) == (MarketStatus.RESOLVED, "No")
    assert not MarketCorrection.objects.filter(market=market).exists()

    agreeing = resolution_vote(market_id=market.pk, voter=MOD_B, outcome_index=0, correct=True)

    assert agreeing.decided
    assert _winner(market) == (MarketStatus.RESOLVED, "Yes")
    corrected = OutboxEvent.objects.get(kind="market.corrected", aggregate_id=market.pk)
    assert [p["role"] for p in corrected.payload["decided_by"]] == ["arbitrator", "moderator"]


def test_an_arbitrator_without_shares_corrects_alone_whatever_the_vote_count(db: None) -> None:
    market, _, judge = _arbitrated(2, judge_bets=False)
    _resolved_by_moderators(market, 1, votes=2)

    result = _member_corrects(market, judge, 0, correct=True)

    assert result.decided and result.correction
    assert _winner(market) == (MarketStatus.RESOLVED, "Yes")
    corrected = OutboxEvent.objects.get(kind="market.corrected", aggregate_id=market.pk)
    assert corrected.payload["decided_by"] == [
        {"voter": discord_voter(judge.discord_id), "name": "judge", "role": "arbitrator"}
    ]


def test_a_member_who_is_not_the_resolver_cannot_vote_a_correction(db: None) -> None:
    market, creator, _ = _arbitrated(1, judge_bets=False)
    _resolved_by_moderators(market, 1, votes=1)
    before = money_state()

    with refused(PermissionDenied) as info:
        _member_corrects(market, creator, 0, correct=True)

    assert "arbitrator" in info.value.message
    assert money_state() == before
    assert _winner(market) == (MarketStatus.RESOLVED, "No")
    assert not market.votes.filter(round=1).exists()


def test_market_resolve_on_a_decided_market_is_a_correction_vote(db: None) -> None:
    """``correct=None`` (``/market resolve``) reads the market under its lock."""
    market, _, judge = _arbitrated(1, judge_bets=False)

    first = _member_corrects(market, judge, 1, correct=None)
    assert (first.decided, first.correction) == (True, False)
    assert settle_resolved_market(market_id=market.pk).performed

    second = _member_corrects(market, judge, 0, correct=None)

    assert (second.decided, second.correction) == (True, True)
    assert _winner(market) == (MarketStatus.RESOLVED, "Yes")
    assert MarketCorrection.objects.get(market=market).number == 1


def test_a_moderators_vote_of_an_earlier_round_never_agrees_with_a_holding_arbitrator(
    db: None,
) -> None:
    market, _, judge = _arbitrated(1, judge_bets=True)
    # Round 0: the holding judge votes "Yes", a moderator agrees: resolved "Yes".
    assert _member_corrects(market, judge, 0).waiting_for_moderator
    assert resolution_vote(market_id=market.pk, voter=MOD_A, outcome_index=0).decided
    assert settle_resolved_market(market_id=market.pk).performed
    # Round 1: the moderator alone corrects it to "No".
    assert resolution_vote(market_id=market.pk, voter=MOD_A, outcome_index=1, correct=True).decided
    _apply_latest(market)
    assert _winner(market) == (MarketStatus.RESOLVED, "No")

    # Round 2: the judge votes "Yes" again; MOD_A's "Yes" of round 0 is not this round's.
    again = _member_corrects(market, judge, 0, correct=True)

    assert (again.decided, again.waiting_for_moderator) == (False, True)
    assert _winner(market) == (MarketStatus.RESOLVED, "No")
    assert MarketCorrection.objects.filter(market=market).count() == 1
