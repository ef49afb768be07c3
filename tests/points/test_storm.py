"""Hundreds of concurrent transfers, grants and deductions leave a sound ledger."""

from __future__ import annotations

import functools
import random
from collections.abc import Callable
from typing import Any

import pytest

from points.models import Account, AccountKind, LedgerTransaction
from points.reconciliation import ledger_reconcile
from points.services import house_account, points_deduct, points_grant, points_transfer
from predictmarket.errors import InsufficientPoints
from tests.concurrency import run_concurrently
from tests.factories import GuildFactory, MemberFactory, ledger_problems

MEMBERS = 50
OPERATIONS = 500
WORKERS = 12  # below the pool's 20 connections, with room for the test's own


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_keeps_the_ledger_sound_under_a_storm_of_concurrent_operations() -> None:
    guild = GuildFactory()
    members = [MemberFactory(guild=guild) for _ in range(MEMBERS)]
    starting_total = guild.starting_balance * MEMBERS
    transactions_before = LedgerTransaction.objects.count()

    rng = random.Random(20300301)
    calls: list[Callable[[], Any]] = []
    signed_amounts: list[int] = []  # what each call adds to the members' total if accepted
    for n in range(OPERATIONS):
        roll = rng.random()
        if roll < 0.7:
            sender, recipient = rng.sample(members, 2)
            amount = rng.randint(1, 400)
            call = functools.partial(
                points_transfer,
                sender=sender,
                recipient=recipient,
                amount=amount,
                idempotency_key=f"storm-{n}",
            )
            signed_amounts.append(0)
        else:
            adjust = points_grant if roll < 0.9 else points_deduct
            amount = rng.randint(1, 200)
            call = functools.partial(
                adjust,
                member=rng.choice(members),
                amount=amount,
                reason="storm",
                actor="discord:555",
                idempotency_key=f"storm-{n}",
            )
            signed_amounts.append(amount if adjust is points_grant else -amount)
        calls.append(call)

    outcomes = run_concurrently(calls, workers=WORKERS)

    unexpected = [
        o.error for o in outcomes if o.error and not isinstance(o.error, InsufficientPoints)
    ]
    assert unexpected == []  # no deadlock, OperationalError or IntegrityError escaped
    accepted = [i for i, o in enumerate(outcomes) if o.error is None]
    refused = [i for i, o in enumerate(outcomes) if isinstance(o.error, InsufficientPoints)]
    assert len(accepted) + len(refused) == OPERATIONS
    assert refused, "the storm should overdraw some members"
    assert LedgerTransaction.objects.count() == transactions_before + len(accepted)

    member_total = starting_total + sum(signed_amounts[i] for i in accepted)
    balances = Account.objects.filter(guild=guild, kind=AccountKind.MEMBER)
    assert sum(balances.values_list("balance", flat=True)) == member_total
    assert house_account(guild.pk).balance == -member_total
    assert not balances.filter(balance__lt=0).exists()

    report = ledger_reconcile()
    assert report.ok, report
    assert report.accounts_checked == MEMBERS + 1
    assert ledger_problems() == []
