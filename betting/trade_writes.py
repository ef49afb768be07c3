"""Writing a trade's rows while the market is locked, in one round trip on PostgreSQL.

Everything here runs inside ``bet_place``/``shares_sell`` after the market row
is locked. Every bet on a market waits for that lock, so the time it is held
bounds a hot market's throughput: on PostgreSQL the ledger posting, the pools,
the market row, the trade, the position and the outbox event are written by
one call of the SQL function ``betting_trade_write`` (betting migration 0003),
with named arguments, and the transaction's COMMIT travels with it.
SQLite (the embedded default) uses the ORM, row by row: ``_write_portable`` is
the executable specification the function is held to (a test runs both on
PostgreSQL and compares the rows they leave).

A trade is its own record: the trade row carries the probabilities after it
(price history is read from trades) and who traded (no audit entry per
trade). The outbox event stays: the bot's live messages follow the outbox
(``botrunner.outbox_consumer`` marks a market's message stale on
``market.trade`` and acknowledges its cursor only once the edit is done), and
the trades table has no such ordered, acknowledged stream. Its payload is the
market's reference and the trade's id, nothing the trade row repeats.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError
from django.db.models import Case, DecimalField, F, Value, When
from psycopg.types.json import Jsonb

from betting.models import Position, Trade, TradeSide
from markets import amm
from markets.models import Market, Outcome
from markets.services import market_event_payload
from points.ledger import Posting, PostingRefused, posting_result, posting_write
from points.models import LedgerTransaction, Member
from predictmarket.db import fetch_all_prepared, writes_in_sql
from predictmarket.errors import AccountFrozen
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

    @property
    def is_buy(self) -> bool:
        return self.side == TradeSide.BUY

    @property
    def average_price(self) -> Decimal:
        return (Decimal(self.points) / self.shares).quantize(PRICE_QUANTUM)

    @property
    def stored_fee(self) -> Decimal:
        return self.fee.quantize(amm.SHARE_QUANTUM)

    def event_payload(self) -> dict[str, object]:
        """The outbox event's payload, but for the trade's id (added when it is known)."""
        return market_event_payload(self.market)

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
        )


def write_trade(write: TradeWrite, *, commit: bool) -> tuple[LedgerTransaction, Trade] | None:
    """Move the trade's points and write its rows; the posting's transaction and the trade.

    ``commit``: nothing else is written in the caller's ``transaction.atomic()``
    block after this, so on PostgreSQL the COMMIT travels with the trade's
    call (``fetch_all_prepared(commit=True)``; any statement after it in the
    block raises). None means the same request committed while this one
    waited for the market lock: nothing was written, and the caller answers
    with the original (after the block: no statement may follow a COMMIT).
    ``write.market.volume`` is updated to the market row's.
    """
    if writes_in_sql():
        return _write_in_sql(write, commit=commit)
    txn = posting_write(write.posting)
    if txn.replayed:  # type: ignore[attr-defined]
        return None
    return txn, _write_portable(write, txn)


def _write_portable(write: TradeWrite, txn: LedgerTransaction) -> Trade:
    market = write.market
    Outcome.objects.filter(market=market).update(
        pool=Case(
            *[When(pk=o.pk, then=Value(write.pools_after[o.index])) for o in write.outcomes],
            output_field=DecimalField(max_digits=36, decimal_places=6),
        )
    )
    Market.objects.filter(pk=market.pk).update(
        volume=F("volume") + (write.points if write.is_buy else 0)
    )
    market.volume = Market.objects.values_list("volume", flat=True).get(pk=market.pk)
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
    outbox_append(
        kind="market.trade",
        guild_id=market.guild_id,
        aggregate_type="market",
        aggregate_id=market.pk,
        payload={"trade_id": trade.pk, **write.event_payload()},
    )
    return trade


# The refusals ``betting_trade_write`` raises (check violations named so).
MEMBER_FROZEN = "trade_member_not_frozen"
LEGS_REFUSED = "trade_ledger_legs_refused"

_TRADE_WRITE_CALL = """
    SELECT transaction_id, trade_id, accounts, balances, market_volume FROM betting_trade_write(
        p_market_id => %(p_market_id)s, p_member_id => %(p_member_id)s,
        p_outcome_id => %(p_outcome_id)s, p_side => %(p_side)s, p_points => %(p_points)s,
        p_shares => %(p_shares)s, p_average_price => %(p_average_price)s, p_fee => %(p_fee)s,
        p_probabilities_before => %(p_probabilities_before)s,
        p_probabilities_after => %(p_probabilities_after)s,
        p_idempotency_key => %(p_idempotency_key)s, p_created_at => %(p_created_at)s,
        p_outcome_ids => %(p_outcome_ids)s, p_pools => %(p_pools)s,
        p_guild_id => %(p_guild_id)s, p_kind => %(p_kind)s, p_actor => %(p_actor)s,
        p_memo => %(p_memo)s, p_posting_key => %(p_posting_key)s,
        p_fingerprint => %(p_fingerprint)s, p_accounts => %(p_accounts)s,
        p_amounts => %(p_amounts)s, p_event => %(p_event)s)
"""


def _write_in_sql(write: TradeWrite, *, commit: bool) -> tuple[LedgerTransaction, Trade] | None:
    """The posting and the same rows as ``_write_portable``: one call of ``betting_trade_write``."""
    arguments = {
        "p_market_id": write.market.pk,
        "p_member_id": write.member.pk,
        "p_outcome_id": write.outcome.pk,
        "p_side": write.side,
        "p_points": write.points,
        "p_shares": write.shares,
        "p_average_price": write.average_price,
        "p_fee": write.stored_fee,
        "p_probabilities_before": Jsonb(write.probabilities_before),
        "p_probabilities_after": Jsonb(write.probabilities_after),
        "p_idempotency_key": write.idempotency_key,
        "p_created_at": write.now,
        "p_outcome_ids": [o.pk for o in write.outcomes],
        "p_pools": [write.pools_after[o.index] for o in write.outcomes],
        **write.posting.arguments(key="p_posting_key"),
        "p_event": Jsonb(write.event_payload()),
    }
    try:
        [(txn_id, trade_id, accounts, balances, volume)] = fetch_all_prepared(
            _TRADE_WRITE_CALL, arguments, commit=commit, prepare=True
        )
    except IntegrityError as exc:
        refused = getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None)
        if refused == MEMBER_FROZEN:
            raise AccountFrozen() from None
        if refused == LEGS_REFUSED:
            raise PostingRefused(write.posting) from None
        raise
    if txn_id is None:
        return None
    txn = posting_result(write.posting, txn_id, dict(zip(accounts, balances, strict=True)))
    write.market.volume = volume
    return txn, write.trade(txn, pk=trade_id)
