"""Daily points: once per rolling 24 hours, counted from the last claim."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from points.models import Guild, LedgerTransaction, Member
from points.services import DailyNotReady, points_daily_claim
from predictmarket.errors import IdempotencyConflict, InvalidState
from tests.factories import GuildFactory, MemberFactory, balance_of, refused, snapshot

MORNING = datetime(2030, 3, 1, 9, 30, tzinfo=UTC)


def test_it_credits_the_daily_amount_and_says_when_the_next_claim_opens(member: Member) -> None:
    start = balance_of(member)
    with time_machine.travel(MORNING, tick=False):
        claim = points_daily_claim(member=member)
    amount = member.guild.daily_amount
    assert amount > 0
    assert (claim.amount, claim.balance) == (amount, start + amount)
    assert claim.next_claim_at == MORNING + timedelta(hours=24)
    assert balance_of(member) == start + amount
    txn = LedgerTransaction.objects.get(pk=claim.transaction_id)
    assert (txn.kind, txn.actor) == ("daily", f"discord:{member.discord_id}")


def test_it_refuses_a_second_claim_at_23h59_with_the_next_claim_time(member: Member) -> None:
    with time_machine.travel(MORNING, tick=False) as clock:
        points_daily_claim(member=member)
        clock.shift(timedelta(hours=23, minutes=59))
        before = snapshot()
        with refused(DailyNotReady) as info:
            points_daily_claim(member=member)
    next_at = MORNING + timedelta(hours=24)
    assert info.value.details == {"next_claim_at": next_at.isoformat()}
    assert "2030-03-02 09:30" in info.value.message
    assert snapshot() == before


def test_it_allows_the_next_claim_exactly_24_hours_later(member: Member) -> None:
    start = balance_of(member)
    amount = member.guild.daily_amount
    with time_machine.travel(MORNING, tick=False) as clock:
        points_daily_claim(member=member)
        clock.shift(timedelta(hours=24))
        claim = points_daily_claim(member=member)
    assert claim.balance == start + 2 * amount
    assert claim.next_claim_at == MORNING + timedelta(hours=48)
    assert LedgerTransaction.objects.filter(kind="daily").count() == 2


def test_it_counts_24_hours_not_calendar_days(member: Member) -> None:
    late_evening = datetime(2030, 3, 1, 23, 30, tzinfo=UTC)
    with time_machine.travel(late_evening, tick=False) as clock:
        points_daily_claim(member=member)
        clock.shift(timedelta(hours=1))  # 00:30 the next calendar day
        with refused(DailyNotReady):
            points_daily_claim(member=member)


@pytest.mark.django_db
def test_it_refuses_daily_claims_when_the_guild_turned_them_off() -> None:
    guild = GuildFactory(daily_amount=0)
    member = MemberFactory(guild=guild)
    before = snapshot()
    with refused(InvalidState):
        points_daily_claim(member=member)
    assert snapshot() == before


def test_it_returns_the_original_claim_when_replayed_with_its_key(member: Member) -> None:
    start = balance_of(member)
    with time_machine.travel(MORNING, tick=False) as clock:
        first = points_daily_claim(member=member, idempotency_key="interaction-1")
        clock.shift(timedelta(minutes=1))
        again = points_daily_claim(member=member, idempotency_key="interaction-1")
    assert again.transaction_id == first.transaction_id
    assert again.amount == first.amount
    assert again.next_claim_at == first.next_claim_at
    assert balance_of(member) == start + first.amount


def test_it_refuses_a_daily_key_that_belongs_to_someone_else(
    guild: Guild, member: Member, other_member: Member
) -> None:
    """A request id is not a ticket to another member's claim."""
    points_daily_claim(member=member, idempotency_key="interaction-2")
    before = snapshot()
    with refused(IdempotencyConflict):
        points_daily_claim(member=other_member, idempotency_key="interaction-2")
    assert snapshot() == before
