"""A trade's statement carries its own COMMIT, so it must refuse itself when it is wrong.

PostgreSQL with real transactions, where ``bet_place`` is the outermost
transaction and the COMMIT travels with the trade statement.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from betting.models import Trade
from predictmarket.db import statements_recorded
from predictmarket.errors import InsufficientPoints
from tests.betting.helpers import bet, betting_state, new_key, run_concurrently
from tests.markets.helpers import (
    assert_ledger_sound,
    balance_of,
    make_guild,
    make_market,
    make_member,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_a_bet_over_the_balance_commits_nothing_and_says_what_is_there() -> None:
    guild = make_guild(starting_balance=100)
    market = make_market(make_member(guild, "creator"))
    member = make_member(guild, "short")
    before = betting_state()

    with pytest.raises(InsufficientPoints) as refused:
        bet(member, market, 0, 150)

    assert "the balance is 100" in refused.value.message
    assert betting_state() == before
    assert bet(member, market, 0, 60).points == 60  # the connection is fine afterwards
    assert balance_of(member) == 40
    assert_ledger_sound()


def test_a_request_retried_while_it_waited_for_the_lock_is_written_once() -> None:
    guild = make_guild()
    market = make_market(make_member(guild, "creator"))
    member = make_member(guild, "double-clicker")
    key = new_key()

    outcomes = run_concurrently(
        [lambda: bet(member, market, 1, 25, idempotency_key=key)] * 4, workers=4
    )

    results = [o.value for o in outcomes]
    assert all(o.error is None for o in outcomes), [o.error for o in outcomes]
    assert Trade.objects.filter(idempotency_key=key).count() == 1
    assert {r.trade.pk for r in results} == {Trade.objects.get(idempotency_key=key).pk}
    assert sum(not r.replayed for r in results) == 1
    assert balance_of(member) == guild.starting_balance - 25
    assert_ledger_sound()


def test_a_bet_holds_the_market_lock_for_two_round_trips_and_no_orm_query() -> None:
    guild = make_guild()
    market = make_market(make_member(guild, "creator"))
    member = make_member(guild, "bettor")
    bet(member, market, 0, 10)

    with CaptureQueriesContext(connection) as orm, statements_recorded() as statements:
        bet(member, market, 1, 20)

    # Django's cursor sees the hand-written statements (and logs its transaction
    # control; the COMMIT it logs finds nothing to do), and no ORM query.
    assert [q["sql"] for q in orm.captured_queries] == [
        statements[0].sql_sent,
        "BEGIN",
        *(s.sql_sent for s in statements[1:]),
        "COMMIT",
    ]
    locking = next(i for i, s in enumerate(statements) if "FOR UPDATE" in s.sql)
    lock_read, write = statements[locking:]  # nothing else while the market is locked
    assert write.committed and not lock_read.committed
    assert [s.committed for s in statements[:locking]] == [False]  # the retry check, unlocked
