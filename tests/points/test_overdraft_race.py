"""Concurrent spends never take a member below zero: exactly what the balance covers succeeds."""

from __future__ import annotations

import functools

import pytest

from points.models import LedgerTransaction, Member
from points.services import points_transfer
from predictmarket.errors import InsufficientPoints
from tests.concurrency import run_concurrently
from tests.factories import balance_of, ledger_problems

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize(
    ("spend", "attempts"),
    [pytest.param(300, 10, id="remainder-left"), pytest.param(250, 12, id="spends-to-zero")],
)
def test_it_accepts_exactly_the_spends_the_balance_covers(
    member: Member, other_member: Member, spend: int, attempts: int
) -> None:
    balance = balance_of(member)
    recipient_start = balance_of(other_member)
    transactions_before = LedgerTransaction.objects.count()
    calls = [
        functools.partial(
            points_transfer,
            sender=member,
            recipient=other_member,
            amount=spend,
            idempotency_key=f"race-{spend}-{attempt}",
        )
        for attempt in range(attempts)
    ]

    outcomes = run_concurrently(calls, workers=attempts)

    accepted = [o for o in outcomes if o.error is None]
    errors = [o.error for o in outcomes if o.error is not None]
    assert len(accepted) == balance // spend
    assert all(isinstance(error, InsufficientPoints) for error in errors), errors
    assert len(errors) == attempts - balance // spend
    assert balance_of(member) == balance % spend
    assert balance_of(other_member) == recipient_start + len(accepted) * spend
    assert LedgerTransaction.objects.count() == transactions_before + len(accepted)
    assert ledger_problems() == []
