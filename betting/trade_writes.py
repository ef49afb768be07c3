"""Writing a trade's rows while the market is locked, in as few round trips as possible.

Everything here runs inside ``bet_place``/``shares_sell`` after the market row
is locked. Every bet on a market waits for that lock, so the time it is held
bounds a hot market's throughput: on PostgreSQL the ledger posting (the
ledger's own SQL, ``points.ledger.posting_ctes``), the pools, volume and version, trade,
position, price point, audit entry and outbox event are written by ONE
statement of data-modifying CTEs. SQLite (the embedded
default) cannot do that and uses the ORM, row by row. Both write the same rows;
the test suite runs on both.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import psycopg
from django.db import connection
from django.db.models import Case, DecimalField, F, Value, When

from betting.models import Position, Trade, TradeSide
from markets import amm
from markets.models import Market, Outcome, PricePoint
from markets.services import market_event_payload
from points.ledger import Posting, PostingRefused, posting_ctes, posting_result, posting_write
from points.models import LedgerTransaction, Member
from predictmarket.audit import audit_record
from predictmarket.db import fetch_all_prepared
from predictmarket.errors import AccountFrozen
from predictmarket.logging import current_request_id
from predictmarket.models import AuditLogEntry, OutboxEvent
from predictmarket.outbox import outbox_append

PRICE_QUANTUM = Decimal("0.00000001")
LEGS_REFUSED = "trade_ledger_legs_refused"
MEMBER_FROZEN = "trade_member_not_frozen"


@dataclass(frozen=True)
class TradeWrite:
    market: Market
    member: Member
    outcome: Outcome
    outcomes: list[Outcome]
    side: str
    points: int
    shares: Decimal
    fee: Decimal
    pools_after: tuple[Decimal, ...]
    probabilities_before: list[str]
    probabilities_after: list[str]
    idempotency_key: str
    posting: Posting
    now: datetime
    # Nothing else is written in the transaction after this: on PostgreSQL the
    # COMMIT may travel with the trade statement (see fetch_all_prepared).
    last_write: bool = False
    # The market's version as read under the lock (before this trade).
    locked_version: int = 0

    @property
    def is_buy(self) -> bool:
        return self.side == TradeSide.BUY

    @property
    def average_price(self) -> Decimal:
        return (Decimal(self.points) / self.shares).quantize(PRICE_QUANTUM)

    @property
    def stored_fee(self) -> Decimal:
        return self.fee.quantize(amm.SHARE_QUANTUM)

    @property
    def actor(self) -> str:
        return f"discord:{self.member.discord_id}"

    def event_data(self) -> dict[str, object]:
        return {
            "side": self.side,
            "outcome": self.outcome.label,
            "points": self.points,
            "shares": str(self.shares),
            "member_id": self.member.pk,
        }

    def trade(self, txn: LedgerTransaction, pk: int | None = None) -> Trade:
        return Trade(
            pk=pk,
            market=self.market,
            member=self.member,
            outcome=self.outcome,
            side=self.side,
            points=self.points,
            shares=self.shares,
            average_price=self.average_price,
            fee=self.stored_fee,
            probabilities_before=self.probabilities_before,
            probabilities_after=self.probabilities_after,
            idempotency_key=self.idempotency_key,
            ledger_transaction_id=txn.pk,
            created_at=self.now,
            market_version=self.market_version,
        )

    @property
    def market_version(self) -> int:
        """The version this trade gives the market: the market row is locked since it was read."""
        return self.locked_version + 1


def write_trade(write: TradeWrite) -> tuple[LedgerTransaction, Trade]:
    """Move the trade's points and write its rows; the posting's transaction and the trade.

    A returned transaction marked ``replayed`` means the same request committed
    while this one waited for the market lock: the caller must roll back (the
    rows written here are then undone) and answer with the original.
    """
    if connection.vendor == "postgresql":
        return _write_postgres(write)
    txn = posting_write(write.posting)
    if txn.replayed:  # type: ignore[attr-defined]
        return txn, write.trade(txn)
    return txn, _write_portable(write, txn)


def _write_portable(write: TradeWrite, txn: LedgerTransaction) -> Trade:
    market = write.market
    Outcome.objects.filter(market=market).update(
        pool=Case(
            *[When(pk=o.pk, then=Value(write.pools_after[o.index])) for o in write.outcomes],
            output_field=DecimalField(max_digits=36, decimal_places=6),
        )
    )
    # Every trade bumps the market's version (cached snapshots are keyed by it).
    Market.objects.filter(pk=market.pk).update(
        volume=F("volume") + (write.points if write.is_buy else 0), version=F("version") + 1
    )
    market.version = write.market_version
    trade = write.trade(txn)
    trade.save(force_insert=True)
    # Computed here, not with F() in the database: SQLite stores decimals as
    # floating point, and "shares - sold" there can land a hair below zero.
    position, _ = Position.objects.get_or_create(
        member=write.member, outcome=write.outcome, defaults={"market": market}
    )
    if write.is_buy:
        position.shares += write.shares
        position.points_spent += write.points
    else:
        position.shares -= write.shares
        position.points_received += write.points
    position.save(update_fields=["shares", "points_spent", "points_received", "updated_at"])
    PricePoint.objects.create(
        market=market, created_at=write.now, probabilities=write.probabilities_after
    )
    data = {"trade_id": trade.pk, **write.event_data()}
    audit_record(
        actor=write.actor,
        action=f"trade.{write.side}",
        guild_id=market.guild_id,
        target=market,
        data=data,
    )
    outbox_append(
        kind="market.trade",
        guild_id=market.guild_id,
        aggregate_type="market",
        aggregate_id=market.pk,
        payload=market_event_payload(market, probabilities=write.probabilities_after, **data),
    )
    return trade


_OUTCOME = Outcome._meta.db_table
_MARKET = Market._meta.db_table
_TRADE = Trade._meta.db_table
_POSITION = Position._meta.db_table
_PRICE = PricePoint._meta.db_table
_AUDIT = AuditLogEntry._meta.db_table
_OUTBOX = OutboxEvent._meta.db_table
_MEMBER = Member._meta.db_table


def _write_postgres(write: TradeWrite) -> tuple[LedgerTransaction, Trade]:
    """The posting and the same rows as ``_write_portable``, in one statement (one round trip)."""
    market = write.market
    ledger_ctes, ledger_params = posting_ctes(write.posting)
    pools = ", ".join(["(%s::bigint, %s::numeric)"] * len(write.outcomes))
    pool_params = [v for o in write.outcomes for v in (o.pk, write.pools_after[o.index])]
    if write.is_buy:
        position_sql = f"""
            INSERT INTO {_POSITION} AS p
                (market_id, member_id, outcome_id, shares, points_spent, points_received,
                 updated_at)
            SELECT %s, %s, %s, %s, %s, 0, %s FROM txn
            ON CONFLICT (member_id, outcome_id) DO UPDATE SET
                shares = p.shares + excluded.shares,
                points_spent = p.points_spent + excluded.points_spent,
                updated_at = excluded.updated_at
            RETURNING p.id"""
        position_params: list[object] = [
            market.pk,
            write.member.pk,
            write.outcome.pk,
            write.shares,
            write.points,
            write.now,
        ]
    else:
        position_sql = f"""
            UPDATE {_POSITION} SET shares = shares - %s,
                points_received = points_received + %s, updated_at = %s
            WHERE member_id = %s AND outcome_id = %s AND EXISTS (SELECT 1 FROM txn)
            RETURNING id"""
        position_params = [
            write.shares,
            write.points,
            write.now,
            write.member.pk,
            write.outcome.pk,
        ]
    request_id = current_request_id()
    payload = market_event_payload(
        market, probabilities=write.probabilities_after, **write.event_data()
    )
    sql = f"""
        WITH {ledger_ctes},
        pools (id, pool) AS (VALUES {pools}),
        pooled AS (
            UPDATE {_OUTCOME} o SET pool = pools.pool FROM pools
            WHERE o.id = pools.id AND o.market_id = %s AND EXISTS (SELECT 1 FROM txn)
            RETURNING o.id
        ),
        volume AS (
            UPDATE {_MARKET} SET volume = volume + %s, version = version + 1
            WHERE id = %s AND EXISTS (SELECT 1 FROM txn) RETURNING id, version
        ),
        trade AS (
            INSERT INTO {_TRADE} (market_id, member_id, outcome_id, side, points, shares,
                average_price, fee, probabilities_before, probabilities_after,
                idempotency_key, ledger_transaction_id, created_at, market_version)
            SELECT %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s::jsonb, %s, txn.id, %s, %s
            FROM txn
            RETURNING id
        ),
        position AS ({position_sql}),
        price AS (
            INSERT INTO {_PRICE} (market_id, created_at, probabilities)
            SELECT %s, %s, %s::jsonb FROM txn RETURNING id
        ),
        audit AS (
            INSERT INTO {_AUDIT} (created_at, guild_id, actor, action, target_type, target_id,
                data, request_id)
            SELECT %s, %s, %s, %s, %s, %s,
                jsonb_build_object('trade_id', trade.id) || %s::jsonb, %s
            FROM trade RETURNING id
        ),
        event AS (
            INSERT INTO {_OUTBOX} (created_at, guild_id, kind, aggregate_type, aggregate_id,
                payload)
            SELECT %s, %s, 'market.trade', 'market', %s,
                jsonb_build_object('trade_id', trade.id) || %s::jsonb
            FROM trade RETURNING id
        )
        SELECT (SELECT id FROM txn), (SELECT id FROM trade),
            (SELECT array_agg(account_id) FROM entries),
            (SELECT array_agg(balance_after) FROM entries),
            (SELECT version FROM volume),
            predictmarket_require(
                NOT EXISTS (SELECT 1 FROM txn)
                OR NOT (SELECT is_frozen FROM {_MEMBER} WHERE id = %s),
                %s
            ),
            predictmarket_require(
                NOT EXISTS (SELECT 1 FROM txn) OR (SELECT count(*) FROM entries) = %s,
                %s
            ),
            predictmarket_require(
                NOT EXISTS (SELECT 1 FROM txn) OR (
                    (SELECT count(*) FROM pooled) = %s AND (SELECT count(*) FROM position) = 1
                    AND (SELECT count(*) FROM volume) = 1 AND (SELECT count(*) FROM price) = 1
                    AND (SELECT count(*) FROM audit) = 1 AND (SELECT count(*) FROM event) = 1
                ),
                'trade_rows_written'
            )
    """
    params: list[object] = [
        *ledger_params,
        *pool_params,
        market.pk,
        write.points if write.is_buy else 0,
        market.pk,
        market.pk,
        write.member.pk,
        write.outcome.pk,
        write.side,
        write.points,
        write.shares,
        write.average_price,
        write.stored_fee,
        json.dumps(write.probabilities_before),
        json.dumps(write.probabilities_after),
        write.idempotency_key,
        write.now,
        write.market_version,
        *position_params,
        market.pk,
        write.now,
        json.dumps(write.probabilities_after),
        write.now,
        market.guild_id,
        write.actor,
        f"trade.{write.side}",
        Market._meta.label_lower,
        str(market.pk),
        json.dumps(write.event_data()),
        "" if request_id == "-" else request_id,
        write.now,
        market.guild_id,
        str(market.pk),
        json.dumps(payload),
        write.member.pk,
        MEMBER_FROZEN,
        len(write.posting.legs),
        LEGS_REFUSED,
        len(write.outcomes),
    ]
    # Every write is conditional on ``txn``: a key another request committed
    # while this one waited for the lock writes nothing (the caller replays the
    # original). Otherwise the statement itself refuses an incomplete trade, so
    # it can never be committed: a frozen member, a refused ledger leg
    # (overdraft) and rows missing (which the market lock rules out) fail it
    # with a check violation. The frozen check reads this statement's
    # snapshot, taken after the lock read locked the member's account, the
    # lock a freeze takes: so every freeze that committed is seen here, and
    # none can commit until this trade has.
    try:
        [(txn_id, trade_id, accounts, balances, version, *_)] = fetch_all_prepared(
            sql, params, commit=write.last_write, prepare=True
        )
    except psycopg.errors.CheckViolation as exc:
        if exc.diag.constraint_name == MEMBER_FROZEN:
            raise AccountFrozen() from None
        if exc.diag.constraint_name == LEGS_REFUSED:
            raise PostingRefused(write.posting) from None
        raise
    txn = posting_result(
        write.posting, txn_id, dict(zip(accounts or [], balances or [], strict=True))
    )
    if version is not None:  # None: a replay wrote nothing
        market.version = version
    return txn, write.trade(txn, pk=None if txn.replayed else trade_id)  # type: ignore[attr-defined]
