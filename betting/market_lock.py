"""Locking a market for a trade: the lock every trade on a market waits for.

While it is held the pools, the escrow balance and the positions of the
market change only through this trade. Its hold time bounds a hot market's
throughput, which is why the read that takes it is one hand-written statement.
"""

from __future__ import annotations

from django.db import connection

from markets.models import Market, Outcome
from points.models import Account, Guild, Member
from predictmarket.db import fetch_all_prepared, models_from_row, select_list
from predictmarket.errors import AccountFrozen, NotFound


def market_outcomes(market: Market) -> list[Outcome]:
    return list(Outcome.objects.filter(market=market).order_by("index"))


def _lock_sql() -> str:
    """PostgreSQL: lock the market row, then its outcomes; one row back.

    The outcomes are locked too, not only read: a statement that waited for
    another trade's market lock re-reads only the rows it locks (PostgreSQL's
    EvalPlanQual), so unlocked outcome rows would keep the pools from before
    that trade committed and two trades would price off the same pools (a lost
    update; see the bet storm test). Only trades write pools, always under the
    market lock, so this adds no waits. ``o`` reads the market's id from
    ``m``, so the market row is locked first, as everywhere.

    ``a`` locks the trading member's ledger account, after the market (lock
    order: market, then accounts). ``member_set_frozen`` takes the same lock,
    so a freeze either committed before this statement got the lock, and the
    trade's write statement (a later snapshot) sees it and refuses, or waits
    until the trade has committed. It cannot be read here instead: this
    statement's snapshot predates any wait for the lock, and PostgreSQL does
    not re-read the member row after it. The posting in the write locks the
    account again, which costs nothing.
    """

    return f"""
        WITH m AS (
            SELECT * FROM {Market._meta.db_table} WHERE id = %s AND guild_id = %s FOR UPDATE
        ),
        o AS (
            SELECT id, "index", label, pool FROM {Outcome._meta.db_table}
            WHERE market_id = (SELECT id FROM m) FOR UPDATE
        ),
        a AS (
            SELECT id FROM {Account._meta.db_table}
            WHERE member_id = %s AND EXISTS (SELECT 1 FROM m) FOR UPDATE
        )
        SELECT {select_list("m", Market)}, {select_list("g", Guild)},
            (SELECT array_agg(o.id ORDER BY o."index") FROM o),
            (SELECT array_agg(o."index" ORDER BY o."index") FROM o),
            (SELECT array_agg(o.label ORDER BY o."index") FROM o),
            (SELECT array_agg(o.pool ORDER BY o."index") FROM o),
            predictmarket_require((SELECT count(*) FROM a) = 1, 'trade_member_account_locked')
        FROM m JOIN {Guild._meta.db_table} g ON g.id = m.guild_id
    """


_LOCK_SQL = _lock_sql()


def lock_market_with_outcomes(market_id: int, member: Member) -> tuple[Market, list[Outcome]]:
    """Lock the market row (serialising every trade on it) and read it with its guild and outcomes.

    Pools, the escrow balance and positions change only while the lock is
    held. The member's ledger account is locked too, so no freeze commits
    while the trade is under way (see ``_lock_sql``). On PostgreSQL one
    hand-written round trip: the market stays locked until the trade
    commits, and the ORM's query compilation costs more CPU than the query.
    SQLite has no row locks; its IMMEDIATE transaction already holds the
    database's write lock, and the ORM reads there.
    """
    if connection.vendor != "postgresql":
        # SQLite: one writer at a time (IMMEDIATE), so a freeze cannot commit
        # between this read and the trade's write.
        if Member.objects.filter(pk=member.pk, is_frozen=True).exists():
            raise AccountFrozen()
        market = (
            Market.objects.select_related("guild")
            .filter(pk=market_id, guild_id=member.guild_id)
            .first()
        )
        if market is None:
            raise NotFound("That market does not exist in this server.", market_id=market_id)
        return market, market_outcomes(market)
    rows = fetch_all_prepared(_LOCK_SQL, [market_id, member.guild_id, member.pk], prepare=True)
    if not rows:
        raise NotFound("That market does not exist in this server.", market_id=market_id)
    (market, market.guild), rest = models_from_row(rows[0], [Market, Guild])
    arrays = rest[:4]  # the last column is the account lock's requirement
    outcomes = [
        Outcome(id=pk, market=market, index=index, label=label, pool=pool)
        for pk, index, label, pool in zip(*(values or [] for values in arrays), strict=True)
    ]
    return market, outcomes
