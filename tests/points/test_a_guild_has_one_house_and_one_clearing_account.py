"""The database itself keeps each guild to one house and one clearing account.

Both rules are partial unique indexes on ``guild_id`` alone (``Account.Meta.constraints``).
Dropping the plain index on that column (it is covered by the leaderboard index) must
leave them: Django's AlterField would have dropped every btree index on the column.
"""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from points.models import Account, AccountKind
from points.services import guild_ensure

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


@pytest.mark.parametrize("kind", [AccountKind.HOUSE, AccountKind.CLEARING])
def test_a_second_house_or_clearing_account_is_refused(kind: str) -> None:
    guild = guild_ensure(guild_id=777_000_000_000_000_001, name="one of each")
    if not Account.objects.filter(guild=guild, kind=kind).exists():
        Account.objects.create(guild=guild, kind=kind, label="first")

    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.create(guild=guild, kind=kind, label="second")

    assert Account.objects.filter(guild=guild, kind=kind).count() == 1


def test_the_indexes_every_trade_writes_are_the_ones_queries_use() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename, indexname FROM pg_indexes WHERE tablename = ANY(%s)",
            [
                [
                    "points_account",
                    "points_ledgerentry",
                    "points_ledgertransaction",
                    "betting_trade",
                    "betting_position",
                    "core_outboxevent",
                ]
            ],
        )
        names = {(table, name) for table, name in cursor.fetchall()}
    assert ("points_account", "account_one_house_per_guild") in names
    assert ("points_account", "account_one_clearing_per_guild") in names
    # The single-column ones a composite index leads with are gone.
    assert not [n for t, n in names if n.startswith("points_account_guild_id")]
    assert not [n for t, n in names if n.startswith("points_ledgerentry_account_id")]
    assert not [n for t, n in names if n.startswith("points_ledgertransaction_guild_id")]
    assert not [n for t, n in names if n.startswith("betting_trade_market_id")]
    assert not [n for t, n in names if n.startswith("betting_trade_member_id")]
    assert not [n for t, n in names if n.startswith("betting_position_market_id")]
    assert not [n for t, n in names if n.startswith("betting_position_member_id")]
    assert not [n for t, n in names if n.endswith("_like")]
    # The composites that cover them, and the position index a trade's reads use, stay.
    assert ("betting_position", "position_flows_idx") in names
    assert ("betting_position", "position_unique") in names
