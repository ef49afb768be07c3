"""A request id applies its operation once; reusing it for something else changes nothing."""

from __future__ import annotations

import functools
from datetime import UTC, datetime

import pytest
import time_machine

from points.models import LedgerTransaction, Member
from points.services import points_daily_claim, points_grant, points_transfer
from predictmarket.errors import IdempotencyConflict
from tests.concurrency import run_concurrently
from tests.factories import MemberFactory, balance_of, ledger_problems, refused, snapshot


def test_it_returns_the_original_transfer_when_replayed(
    member: Member, other_member: Member
) -> None:
    start = balance_of(member)
    first = points_transfer(sender=member, recipient=other_member, amount=40, idempotency_key="k1")
    again = points_transfer(sender=member, recipient=other_member, amount=40, idempotency_key="k1")
    assert again.transaction_id == first.transaction_id
    assert (first.replayed, again.replayed) == (False, True)
    assert balance_of(member) == start - 40
    assert LedgerTransaction.objects.filter(idempotency_key="k1").count() == 1


def test_it_refuses_a_replay_with_a_different_amount(member: Member, other_member: Member) -> None:
    points_transfer(sender=member, recipient=other_member, amount=40, idempotency_key="k2")
    before = snapshot()
    with refused(IdempotencyConflict) as info:
        points_transfer(sender=member, recipient=other_member, amount=41, idempotency_key="k2")
    assert info.value.details == {"key": "k2"}
    assert snapshot() == before


def test_it_refuses_a_replay_to_a_different_recipient(member: Member, other_member: Member) -> None:
    third = MemberFactory(guild=member.guild)
    points_transfer(sender=member, recipient=other_member, amount=40, idempotency_key="k3")
    before = snapshot()
    with refused(IdempotencyConflict):
        points_transfer(sender=member, recipient=third, amount=40, idempotency_key="k3")
    with refused(IdempotencyConflict):
        points_transfer(sender=other_member, recipient=member, amount=40, idempotency_key="k3")
    assert snapshot() == before


def test_it_refuses_a_key_reused_for_another_kind_of_operation(
    member: Member, other_member: Member, moderator: str
) -> None:
    points_transfer(sender=member, recipient=other_member, amount=40, idempotency_key="k4")
    before = snapshot()
    with refused(IdempotencyConflict):
        points_grant(
            member=other_member, amount=40, reason="r", actor=moderator, idempotency_key="k4"
        )
    assert snapshot() == before


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_applies_a_transfer_once_when_its_key_arrives_ten_times_at_once(
    member: Member, other_member: Member
) -> None:
    start = balance_of(member)
    call = functools.partial(
        points_transfer, sender=member, recipient=other_member, amount=70, idempotency_key="burst"
    )
    outcomes = run_concurrently([call] * 10, workers=10)

    assert [o.error for o in outcomes] == [None] * 10
    assert LedgerTransaction.objects.filter(idempotency_key="burst").count() == 1
    txn_id = LedgerTransaction.objects.get(idempotency_key="burst").pk
    assert {o.value.transaction_id for o in outcomes} == {txn_id}
    assert sorted(o.value.replayed for o in outcomes) == [False] + [True] * 9
    assert balance_of(member) == start - 70
    assert ledger_problems() == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_refuses_concurrent_mismatched_replays_and_applies_one(
    member: Member, other_member: Member
) -> None:
    start = balance_of(member)
    calls = [
        functools.partial(
            points_transfer,
            sender=member,
            recipient=other_member,
            amount=10 if n % 2 else 20,
            idempotency_key="split",
        )
        for n in range(10)
    ]
    outcomes = run_concurrently(calls, workers=10)

    txn = LedgerTransaction.objects.get(idempotency_key="split")
    moved = start - balance_of(member)
    assert moved in (10, 20)
    for call, outcome in zip(calls, outcomes, strict=True):
        if call.keywords["amount"] == moved:
            assert outcome.error is None
            assert outcome.value.transaction_id == txn.pk
        else:
            assert isinstance(outcome.error, IdempotencyConflict)
    assert ledger_problems() == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_returns_one_daily_claim_when_its_key_arrives_ten_times_at_once(
    member: Member,
) -> None:
    """A double-clicked "daily" button: every click gets the same claim, not an error."""
    start = balance_of(member)
    call = functools.partial(points_daily_claim, member=member, idempotency_key="daily-burst")
    with time_machine.travel(datetime(2030, 3, 1, 9, 0, tzinfo=UTC), tick=False):
        outcomes = run_concurrently([call] * 10, workers=10)

    assert [o.error for o in outcomes] == [None] * 10
    txn = LedgerTransaction.objects.get(idempotency_key="daily-burst")
    assert {o.value.transaction_id for o in outcomes} == {txn.pk}
    assert balance_of(member) == start + member.guild.daily_amount
