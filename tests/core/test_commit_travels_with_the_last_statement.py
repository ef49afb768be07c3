"""``fetch_all_prepared(commit=True)``: the COMMIT goes with the statement, only when it is safe.

PostgreSQL, real transactions: what is committed is checked from a second
connection, which sees only committed rows.
"""

from __future__ import annotations

import psycopg
import pytest
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.transaction import TransactionManagementError

from predictmarket.db import fetch_all_prepared
from predictmarket.models import OutboxCursor

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

INSERT = (
    "INSERT INTO core_outboxcursor (consumer, position, updated_at)"
    " VALUES (%s, 0, now()) RETURNING consumer"
)


def committed_consumers() -> set[str]:
    """What another session sees: only committed rows."""
    db = settings.DATABASES["default"]
    with psycopg.connect(
        dbname=connection.settings_dict["NAME"],
        user=db["USER"],
        host=db["HOST"],
        port=db["PORT"] or 5432,
        autocommit=True,
    ) as other:
        return {row[0] for row in other.execute("SELECT consumer FROM core_outboxcursor")}


def test_it_commits_with_the_statement_in_the_outermost_block() -> None:
    with transaction.atomic():
        rows = fetch_all_prepared(INSERT, ["with-the-statement"], commit=True)
        # Still inside the block, and another session already sees the row.
        assert committed_consumers() == {"with-the-statement"}
    assert rows == [("with-the-statement",)]
    assert OutboxCursor.objects.filter(consumer="with-the-statement").exists()


def test_it_leaves_the_commit_to_the_outer_transaction() -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        with transaction.atomic():  # a savepoint: the caller's transaction owns the commit
            fetch_all_prepared(INSERT, ["inside-a-caller"], commit=True)
        assert committed_consumers() == set()
        raise RuntimeError("the caller fails after the statement")
    assert not OutboxCursor.objects.exists()


def test_a_failing_statement_commits_nothing_and_the_connection_recovers() -> None:
    with pytest.raises(IntegrityError) as failure, transaction.atomic():
        fetch_all_prepared(INSERT, ["written-first"], commit=False)
        fetch_all_prepared(
            "SELECT predictmarket_require(count(*) = 2, 'two_cursors') FROM core_outboxcursor",
            [],
            commit=True,
        )
    assert isinstance(failure.value.__cause__, psycopg.errors.CheckViolation)
    assert failure.value.__cause__.diag.constraint_name == "two_cursors"
    assert committed_consumers() == set()
    with transaction.atomic():
        fetch_all_prepared(INSERT, ["afterwards"], commit=True)
    assert committed_consumers() == {"afterwards"}


def test_a_write_after_the_commit_in_the_same_block_fails_loudly() -> None:
    """Once the COMMIT went with a statement, the block can no longer be atomic: refuse."""
    with (
        pytest.raises(TransactionManagementError, match="already committed"),
        transaction.atomic(),
    ):
        fetch_all_prepared(INSERT, ["committed-early"], commit=True)
        OutboxCursor.objects.create(consumer="written-after")  # would be a new transaction
    assert committed_consumers() == {"committed-early"}  # the late write never ran
    # A savepoint, a hand-written statement: every statement is refused, not only the ORM's.
    with pytest.raises(TransactionManagementError), transaction.atomic():
        fetch_all_prepared(INSERT, ["early-again"], commit=True)
        with transaction.atomic():
            pass
    with pytest.raises(TransactionManagementError), transaction.atomic():
        fetch_all_prepared(INSERT, ["and-again"], commit=True)
        fetch_all_prepared(INSERT, ["late-statement"], commit=False)
    assert committed_consumers() == {"committed-early", "early-again", "and-again"}
    # After the block the connection is free again.
    OutboxCursor.objects.create(consumer="next-request")
    assert "next-request" in committed_consumers()
