"""A trade's update of its market row is a HOT update on PostgreSQL: no index entries written.

Every trade updates the market row (volume, version) while holding the
market lock that every other trade on that market waits for. If a column it
changes is indexed, PostgreSQL cannot update the row in place (HOT) and
writes a new entry into every index of the table — seventeen of them — on
each trade. ``markets`` migration 0011 keeps those columns out of indexes;
this guards it against the next index someone adds.
"""

from __future__ import annotations

import pytest
from django.db import connection

from tests.betting.helpers import bet
from tests.markets.helpers import make_guild, make_market, make_member

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def market_row_updates() -> tuple[int, int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables"
            " WHERE relname = 'markets_market'"
        )
        return cursor.fetchone()


def test_bets_update_the_market_row_without_touching_its_indexes() -> None:
    guild = make_guild(starting_balance=10_000)
    market = make_market(make_member(guild))
    member = make_member(guild)
    updates, hot = market_row_updates()

    for index in (0, 1, 0):
        bet(member, market, index, 25)

    updates_after, hot_after = market_row_updates()
    assert updates_after - updates == 3
    assert hot_after - hot == 3, (
        "a trade's market-row update was not HOT: an indexed column changed"
    )
