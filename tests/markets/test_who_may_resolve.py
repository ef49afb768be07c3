"""Who resolves: moderators, the market's creator, or an arbitrator named at creation.

The guild picks a rule per market kind (two answers, or three and more); the
market copies it. A creator or arbitrator who holds shares is never the sole
deciding vote: a moderator (another person) must agree, with one vote needed
or two. A moderator who is also the arbitrator is one voter.
"""

from __future__ import annotations

import pytest

from markets.models import Market, MarketStatus, ResolutionVote
from markets.services import market_close, resolution_vote
from markets.voters import discord_voter
from points.models import Guild, Member, ResolverRule
from predictmarket.errors import Conflict, PermissionDenied, ValidationFailed
from predictmarket.models import AuditLogEntry, OutboxEvent
from tests.betting.helpers import bet, sell
from tests.markets.helpers import (
    MODERATORS,
    make_guild,
    make_market,
    make_member,
    money_state,
    refused,
)

MOD_A, MOD_B = MODERATORS[:2]


def _guild(votes: int, *, binary: str, multiple: str = ResolverRule.MODERATORS) -> Guild:
    return make_guild(
        min_resolution_votes=votes, resolvers_binary=binary, resolvers_multiple=multiple
    )


def _closed(market: Market) -> Market:
    market_close(market_id=market.pk, actor=MOD_A)
    market.refresh_from_db()
    return market


def _vote(market: Market, member: Member, index: int = 0, **kwargs: object) -> object:
    return resolution_vote(
        market_id=market.pk,
        voter=discord_voter(member.discord_id),
        outcome_index=index,
        is_moderator=False,
        **kwargs,
    )


def _status(market: Market) -> str:
    market.refresh_from_db()
    return market.status


# -- the rule is the guild's per market kind, copied onto the market ---------------
def test_the_rule_for_each_market_kind_is_copied_onto_the_market(db: None) -> None:
    guild = _guild(2, binary=ResolverRule.CREATOR, multiple=ResolverRule.ARBITRATOR)
    creator, judge = make_member(guild, "creator"), make_member(guild, "judge")

    binary = make_market(creator)
    multiple = make_market(creator, options=["Red", "Blue", "Green"], arbitrator=judge)
    Guild.objects.filter(pk=guild.pk).update(resolvers_binary=ResolverRule.MODERATORS)

    binary.refresh_from_db()
    assert (binary.resolver_rule, binary.arbitrator) == (ResolverRule.CREATOR, None)
    assert (multiple.resolver_rule, multiple.arbitrator_id) == (ResolverRule.ARBITRATOR, judge.pk)
    created = AuditLogEntry.objects.get(action="market.create", target_id=str(multiple.pk))
    assert created.data["arbitrator"] == judge.discord_id


def test_an_arbitrated_kind_needs_an_arbitrator_and_creates_nothing_without(db: None) -> None:
    guild = _guild(2, binary=ResolverRule.ARBITRATOR)
    creator = make_member(guild, "creator")
    before = money_state()

    with refused(ValidationFailed) as info:
        make_market(creator)

    assert "arbitrator" in info.value.message
    assert money_state() == before


def test_an_arbitrator_from_another_server_is_refused(db: None) -> None:
    guild = _guild(2, binary=ResolverRule.ARBITRATOR)
    creator = make_member(guild, "creator")
    stranger = make_member(make_guild(), "stranger")
    before = money_state()

    with refused(ValidationFailed):
        make_market(creator, arbitrator=stranger)

    assert money_state() == before


def test_the_creator_cannot_be_their_own_markets_arbitrator(db: None) -> None:
    guild = _guild(2, binary=ResolverRule.ARBITRATOR)
    creator = make_member(guild, "creator")
    before = money_state()

    with refused(ValidationFailed):
        make_market(creator, arbitrator=creator)

    assert money_state() == before


def test_an_arbitrator_where_the_rule_names_none_is_refused(db: None) -> None:
    guild = _guild(2, binary=ResolverRule.MODERATORS)
    creator, judge = make_member(guild, "creator"), make_member(guild, "judge")

    with refused(ValidationFailed) as info:
        make_market(creator, arbitrator=judge)

    assert "moderators" in info.value.message
    assert not Market.objects.filter(guild=guild).exists()


# -- who may vote -----------------------------------------------------------------
def test_under_moderators_only_a_member_may_not_vote(db: None) -> None:
    guild = _guild(1, binary=ResolverRule.MODERATORS)
    creator = make_member(guild, "creator")
    market = _closed(make_market(creator))
    before = money_state()

    with refused(PermissionDenied) as info:
        _vote(market, creator)

    assert "Only moderators" in info.value.message
    assert money_state() == before


def test_only_the_named_arbitrator_may_vote_besides_moderators(db: None) -> None:
    guild = _guild(2, binary=ResolverRule.ARBITRATOR)
    creator, judge = make_member(guild, "creator"), make_member(guild, "judge")
    market = _closed(make_market(creator, arbitrator=judge))
    before = money_state()

    with refused(PermissionDenied) as info:
        _vote(market, creator)  # the creator is not the arbitrator

    assert "arbitrator" in info.value.message
    assert money_state() == before
    assert not ResolutionVote.objects.filter(market=market).exists()


@pytest.mark.parametrize("votes", [1, 2])
def test_a_creator_without_shares_resolves_alone(db: None, votes: int) -> None:
    guild = _guild(votes, binary=ResolverRule.CREATOR)
    creator = make_member(guild, "creator")
    market = _closed(make_market(creator))

    result = _vote(market, creator, 1)

    assert result.decided and not result.waiting_for_moderator
    market.refresh_from_db()
    assert (market.status, market.winning_outcome.label) == (MarketStatus.RESOLVED, "No")
    resolved = OutboxEvent.objects.get(kind="market.resolved", aggregate_id=market.pk)
    assert resolved.payload["decided_by"] == [
        {"voter": discord_voter(creator.discord_id), "name": "creator", "role": "creator"}
    ]


# -- a resolver who holds shares is never the sole deciding vote ---------------------
@pytest.mark.parametrize("votes", [1, 2])
def test_an_arbitrator_holding_shares_needs_a_moderator_to_agree(db: None, votes: int) -> None:
    guild = _guild(votes, binary=ResolverRule.ARBITRATOR)
    creator, judge = make_member(guild, "creator"), make_member(guild, "judge")
    market = make_market(creator, arbitrator=judge)
    bet(judge, market, 0, 50)
    _closed(market)

    first = _vote(market, judge, 0)

    assert (first.decided, first.waiting_for_moderator) == (False, True)
    assert _status(market) == MarketStatus.CLOSED
    # A moderator voting otherwise does not help the arbitrator's choice.
    other = resolution_vote(market_id=market.pk, voter=MOD_A, outcome_index=1)
    assert other.decided is (votes == 1)  # with one vote needed, the moderator decides "No"
    if votes == 1:
        return
    agreeing = resolution_vote(market_id=market.pk, voter=MOD_B, outcome_index=0)
    assert agreeing.decided
    market.refresh_from_db()
    assert market.winning_outcome.label == "Yes"
    resolved = OutboxEvent.objects.get(kind="market.resolved", aggregate_id=market.pk)
    assert [p["role"] for p in resolved.payload["decided_by"]] == ["arbitrator", "moderator"]


def test_a_holding_creator_and_one_agreeing_moderator_decide_with_one_vote_needed(
    db: None,
) -> None:
    guild = _guild(1, binary=ResolverRule.CREATOR)
    creator = make_member(guild, "creator")
    market = make_market(creator)
    bet(creator, market, 1, 80)
    _closed(market)

    assert _vote(market, creator, 1).waiting_for_moderator
    agreeing = resolution_vote(market_id=market.pk, voter=MOD_A, outcome_index=1)

    assert agreeing.decided
    assert _status(market) == MarketStatus.RESOLVED


def test_a_moderator_who_is_the_arbitrator_and_holds_is_one_voter(db: None) -> None:
    """Voting as a moderator does not make the arbitrator their own agreeing moderator."""
    guild = _guild(1, binary=ResolverRule.ARBITRATOR)
    creator, judge = make_member(guild, "creator"), make_member(guild, "judge")
    market = make_market(creator, arbitrator=judge)
    bet(judge, market, 0, 50)
    _closed(market)
    judge_voter = discord_voter(judge.discord_id)

    first = resolution_vote(market_id=market.pk, voter=judge_voter, outcome_index=0)

    assert (first.decided, first.waiting_for_moderator) == (False, True)
    # The same person again, through another channel (the API's actor): refused, not counted.
    with refused(Conflict):
        resolution_vote(
            market_id=market.pk,
            voter=judge_voter,
            actor=f"api:{judge_voter}",
            outcome_index=0,
        )
    assert ResolutionVote.objects.filter(market=market).count() == 1
    assert _status(market) == MarketStatus.CLOSED


def test_an_arbitrator_who_sold_everything_before_closing_resolves_alone(db: None) -> None:
    guild = _guild(2, binary=ResolverRule.ARBITRATOR)
    creator, judge = make_member(guild, "creator"), make_member(guild, "judge")
    market = make_market(creator, arbitrator=judge)
    bought = bet(judge, market, 0, 50)
    sell(judge, market, 0, bought.shares)
    _closed(market)

    assert _vote(market, judge, 0).decided
    assert _status(market) == MarketStatus.RESOLVED


def test_moderators_still_decide_by_their_own_count(db: None) -> None:
    guild = _guild(2, binary=ResolverRule.CREATOR)
    creator = make_member(guild, "creator")
    market = _closed(make_market(creator))

    assert not resolution_vote(market_id=market.pk, voter=MOD_A, outcome_index=0).decided
    assert resolution_vote(market_id=market.pk, voter=MOD_B, outcome_index=0).decided
    resolved = OutboxEvent.objects.get(kind="market.resolved", aggregate_id=market.pk)
    assert [p["role"] for p in resolved.payload["decided_by"]] == ["moderator", "moderator"]
