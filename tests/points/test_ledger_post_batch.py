"""``ledger_post_batch`` posts every posting in order or none, through either writer.

The set-based writer (one statement over arrays, PostgreSQL) and the ORM
writer (the executable specification, and SQLite's path) run the same batch
here and must leave the same rows: balances that run through the batch in
order, and nothing written when a posting would overdraw or names an account
of another guild.
"""

from __future__ import annotations

import pytest
from django.db import connection

from points import ledger_batch
from points.ledger import Leg, _fingerprint
from points.ledger_batch import Posting, ledger_post_batch
from points.models import Account, Guild, LedgerTransaction, Member
from predictmarket.errors import InsufficientPoints, NotFound
from tests.factories import refused, snapshot
from tests.markets.helpers import assert_ledger_sound

pytestmark = pytest.mark.django_db

WRITERS = ["orm", pytest.param("set_based", marks=pytest.mark.postgres)]


@pytest.fixture(params=WRITERS)
def writer(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    set_based = request.param == "set_based"
    assert not set_based or connection.vendor == "postgresql"
    monkeypatch.setattr(ledger_batch, "_set_based", lambda: set_based)
    return str(request.param)


def _account(member: Member) -> int:
    return Account.objects.get(member=member).pk


def test_balances_run_through_the_batch_in_order(
    writer: str, guild: Guild, house: Account, member: Member, other_member: Member
) -> None:
    alice, bob = _account(member), _account(other_member)
    start = {pk: Account.objects.get(pk=pk).balance for pk in (house.pk, alice, bob)}
    assert start[alice] > 7
    postings = [
        Posting(
            [Leg(alice, -start[alice]), Leg(bob, start[alice])], "transfer", "all of it", "b-1"
        ),
        Posting([Leg(bob, -7), Leg(alice, 7)], "transfer", "some back", "b-2"),
        Posting([Leg(house.pk, -5), Leg(alice, 3), Leg(bob, 2)], "grant", "", "b-3"),
    ]

    posted = ledger_post_batch(guild_id=guild.pk, postings=postings, actor="test:batch")

    assert [txn.idempotency_key for txn in posted] == ["b-1", "b-2", "b-3"]
    assert [txn.pk for txn in posted] == sorted(txn.pk for txn in posted)
    rows = {
        txn.idempotency_key: (
            txn.kind,
            txn.actor,
            txn.memo,
            txn.fingerprint,
            sorted(txn.entries.values_list("account_id", "amount", "balance_after")),
        )
        for txn in LedgerTransaction.objects.filter(pk__in=[t.pk for t in posted])
    }
    a, b, h = start[alice], start[bob], start[house.pk]
    assert rows == {
        "b-1": (
            "transfer",
            "test:batch",
            "all of it",
            _fingerprint("transfer", postings[0].legs),
            sorted([(alice, -a, 0), (bob, a, b + a)]),
        ),
        "b-2": (
            "transfer",
            "test:batch",
            "some back",
            _fingerprint("transfer", postings[1].legs),
            sorted([(bob, -7, b + a - 7), (alice, 7, 7)]),
        ),
        "b-3": (
            "grant",
            "test:batch",
            "",
            _fingerprint("grant", postings[2].legs),
            sorted([(house.pk, -5, h - 5), (alice, 3, 10), (bob, 2, b + a - 5)]),
        ),
    }
    assert {pk: Account.objects.get(pk=pk).balance for pk in start} == {
        house.pk: h - 5,
        alice: 10,
        bob: b + a - 5,
    }
    assert_ledger_sound()


def test_an_overdraft_anywhere_in_the_batch_writes_nothing(
    writer: str, guild: Guild, house: Account, member: Member, other_member: Member
) -> None:
    alice, bob = _account(member), _account(other_member)
    balance = Account.objects.get(pk=alice).balance
    before = snapshot()

    with refused(InsufficientPoints):
        ledger_post_batch(
            guild_id=guild.pk,
            postings=[
                Posting([Leg(house.pk, -1), Leg(bob, 1)], "grant", "", "o-1"),
                Posting([Leg(alice, -balance), Leg(bob, balance)], "transfer", "", "o-2"),
                Posting([Leg(alice, -1), Leg(bob, 1)], "transfer", "one too many", "o-3"),
            ],
            actor="test:batch",
        )

    assert snapshot() == before


def test_an_account_of_another_guild_writes_nothing(
    writer: str, guild: Guild, house: Account, member: Member, outsider: Member
) -> None:
    before = snapshot()

    with refused(NotFound):
        ledger_post_batch(
            guild_id=guild.pk,
            postings=[
                Posting([Leg(house.pk, -1), Leg(_account(member), 1)], "grant", "", "g-1"),
                Posting([Leg(house.pk, -1), Leg(_account(outsider), 1)], "grant", "", "g-2"),
            ],
            actor="test:batch",
        )

    assert snapshot() == before
