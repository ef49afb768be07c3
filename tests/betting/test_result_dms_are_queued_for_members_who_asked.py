"""Each member who asked (``/notify on``) gets one result event per settlement, however many hold.

The guild's announcement lists the top 10; the DMs are one ``member.result``
outbox event per opted-in member who traded, written with the payments, with
their own payment and their whole net on the market.
"""

from __future__ import annotations

import pytest

from betting.corrections import correction_apply
from betting.settlement import settle_resolved_market
from betting.unwind import refund_market
from markets.models import Market, MarketCorrection
from markets.services import resolution_vote
from points.models import Guild, Member
from points.services import member_set_notify_results, points_grant
from predictmarket.models import OutboxEvent
from tests.betting.helpers import bet
from tests.markets.helpers import MODERATORS, decide, make_market, make_member

pytestmark = pytest.mark.django_db


def result_events(market: Market) -> dict[str, dict[str, object]]:
    """The market's result events by the member's Discord id (each member at most once)."""
    events = OutboxEvent.objects.filter(kind="member.result", aggregate_id=str(market.pk))
    payloads = [e.payload for e in events.order_by("id")]
    by_member = {str(p["discord_id"]): p for p in payloads}
    assert len(by_member) == len(payloads), "a member got two events for one settlement"
    return by_member


def opted_in(guild: Guild, name: str) -> Member:
    member = make_member(guild, name)
    member_set_notify_results(member=member, on=True, actor=f"discord:{member.discord_id}")
    return member


def net_on(member: Member, market: Market) -> int:
    rows = market.positions.filter(member=member).values_list("points_received", "points_spent")
    return sum(received - spent for received, spent in rows)


def test_every_opted_in_trader_gets_one_event_with_their_own_result(
    guild: Guild, creator: Member
) -> None:
    market = make_market(creator, options=["Yes", "No"])
    # More winners than the announcement lists, the opted-in one last of all.
    for n in range(11):
        bet(make_member(guild, f"holder{n}"), market, 0, 50 + n)
    winner = opted_in(guild, "winner")
    bet(winner, market, 0, 20)
    loser = opted_in(guild, "loser")
    bet(loser, market, 1, 30)
    opted_in(guild, "bystander")  # asked, but never traded on this market

    decide(market, outcome_index=0)
    settled = settle_resolved_market(market_id=market.pk)

    events = result_events(market)
    assert set(events) == {str(winner.discord_id), str(loser.discord_id)}
    assert str(winner.discord_id) not in {row["discord_id"] for row in settled.top}
    won = events[str(winner.discord_id)]
    assert won["kind"] == "settled" and won["winning_outcome"] == "Yes"
    paid = next(line["amount"] for line in settled.lines if line["member_id"] == winner.pk)
    assert won["amount"] == paid > 0
    assert won["net"] == net_on(winner, market) > 0
    lost = events[str(loser.discord_id)]
    assert (lost["amount"], lost["net"]) == (0, -30)
    assert lost["guild_name"] == guild.name and lost["question"] == market.question


def test_a_settlement_run_again_queues_nothing_more(guild: Guild, creator: Member) -> None:
    market = make_market(creator)
    bet(opted_in(guild, "alice"), market, 0, 40)
    decide(market, outcome_index=0)
    assert settle_resolved_market(market_id=market.pk).performed
    assert settle_resolved_market(market_id=market.pk).performed is False
    assert OutboxEvent.objects.filter(kind="member.result").count() == 1


def test_members_who_did_not_ask_or_turned_it_off_get_none(guild: Guild, creator: Member) -> None:
    market = make_market(creator)
    never = make_member(guild, "never")
    changed_mind = opted_in(guild, "changed")
    member_set_notify_results(member=changed_mind, on=False, actor="discord:1")
    for member in (never, changed_mind):
        bet(member, market, 0, 40)
    decide(market, outcome_index=0)
    settle_resolved_market(market_id=market.pk)
    assert result_events(market) == {}


def test_a_refund_and_a_correction_each_tell_the_member_again(
    guild: Guild, creator: Member
) -> None:
    alice = opted_in(guild, "alice")
    points_grant(member=alice, amount=5_000, reason="test", actor=MODERATORS[0])
    bob = make_member(guild, "bob")
    market = make_market(creator)
    bet(alice, market, 0, 300)
    bet(bob, market, 1, 300)
    decide(market, outcome_index=0)
    settle_resolved_market(market_id=market.pk)
    for voter in MODERATORS[:2]:
        resolution_vote(
            market_id=market.pk, voter=voter, outcome_index=None, cancel=True, correct=True
        )
    correction = MarketCorrection.objects.get(market=market)
    correction_apply(correction_id=correction.pk)

    payloads = [
        e.payload
        for e in OutboxEvent.objects.filter(kind="member.result", aggregate_id=str(market.pk))
    ]
    assert [p["kind"] for p in payloads] == ["settled", "correction_settled"]
    corrected = payloads[1]
    assert corrected["from"] and corrected["to"]
    assert corrected["amount"] < 0  # her winnings given back: the market is cancelled now
    assert corrected["net"] == net_on(alice, market) == 0


def test_a_cancelled_market_tells_each_opted_in_trader_their_refund(
    guild: Guild, creator: Member
) -> None:
    from markets.services import market_cancel

    alice = opted_in(guild, "alice")
    market = make_market(creator)
    bet(alice, market, 0, 60)
    market_cancel(market_id=market.pk, actor=MODERATORS[0], is_moderator=True)
    refund_market(market_id=market.pk)

    refunded = result_events(market)[str(alice.discord_id)]
    assert (refunded["kind"], refunded["amount"], refunded["net"]) == ("refunded", 60, 0)
