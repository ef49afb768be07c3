"""Trading: quotes, bets and sells through the market maker, atomic and idempotent.

``bet_place`` and ``shares_sell`` run one database transaction each, top to
bottom: check (``_precheck``), lock and read the market
(``lock_market_with_outcomes``), compute the trade with ``markets.amm``,
write it (``betting.trade_writes.write_trade``: the points between the member
and the market's escrow, the pools, the market row, the trade, the position
and the outbox event), answer. A retried request with the same idempotency
key returns the original trade instead of trading twice.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from betting.market_lock import lock_market_with_outcomes, market_outcomes
from betting.metrics import count_trade
from betting.models import Position, Trade, TradeSide
from betting.trade_writes import TradeWrite, write_trade
from markets import amm
from markets.models import Market, MarketStatus, Outcome
from markets.services import probabilities_payload
from points.drip.services import clearing_account, drip_debit, drip_queue_credit, is_drip_guild
from points.drip.writes import compensation_key
from points.ledger import Leg, PostingRefused, posting, trade_posting_key
from points.models import (
    DripTransfer,
    DripTransferStatus,
    LedgerTransaction,
    Member,
    TransactionKind,
)
from points.services import parse_amount
from predictmarket.db import fetch_all
from predictmarket.errors import (
    AccountFrozen,
    DomainError,
    IdempotencyConflict,
    InvalidState,
    NotFound,
    ValidationFailed,
)
from predictmarket.ratelimit import rate_limit_hit


class SlippageExceeded(DomainError):
    code = "price_moved"
    http_status = 409
    default_message = "The price moved since your quote; please check the new quote."


class InsufficientShares(DomainError):
    code = "insufficient_shares"
    http_status = 422
    default_message = "You do not hold that many shares."


class _ConcurrentReplay(Exception):
    """The same idempotency key committed in another transaction while we waited."""


@contextlib.contextmanager
def _refusal_replays_a_twin(idempotency_key: str) -> Iterator[None]:
    """A refusal under the market lock first looks for the same request, committed meanwhile.

    A double click sends one key twice; both may pass ``_precheck`` before
    either commits. The second then finds the price moved, or the shares sold,
    by its own twin: it replays the twin instead of refusing (a price-moved
    refusal makes the bot offer a fresh quote, which could become a second
    trade). Only refusals pay for the lookup; no database error has happened
    here, so the transaction can still read.
    """
    try:
        yield
    except DomainError:
        if Trade.objects.filter(idempotency_key=idempotency_key).exists():
            raise _ConcurrentReplay from None
        raise


@dataclass(frozen=True)
class TradeResult:
    trade: Trade
    market: Market
    outcome_label: str
    shares: Decimal
    points: int
    average_price: Decimal
    probabilities_after: list[str]
    payout_if_wins: int
    balance: int | None
    replayed: bool


# ------------------------------------------------------------------------------
# Checks shared by quotes and trades
# ------------------------------------------------------------------------------
def _check_open(market: Market) -> None:
    if market.status != MarketStatus.OPEN:
        raise InvalidState(f"Betting is over: the market is {market.get_status_display().lower()}.")
    if timezone.now() >= market.closes_at:
        # Betting stops at closes_at exactly, even before the sweep marks it CLOSED.
        raise InvalidState("Betting is over: the market has closed.")


def _check_amount(market: Market, amount: object) -> int:
    points = parse_amount(amount)
    guild = market.guild
    minimum = max(guild.min_bet, settings.MIN_BET_AMOUNT)
    maximum = min(guild.max_bet, settings.MAX_BET_AMOUNT)
    if points < minimum:
        raise ValidationFailed(f"The smallest bet is {minimum:,} points.", field="amount")
    if points > maximum:
        raise ValidationFailed(f"The largest bet is {maximum:,} points.", field="amount")
    return points


def _outcome(outcomes: list[Outcome], index: object) -> Outcome:
    if isinstance(index, bool) or not isinstance(index, int):
        raise ValidationFailed("Choose one of the market's options.", field="outcome")
    for outcome in outcomes:
        if outcome.index == index:
            return outcome
    raise ValidationFailed(f"This market has no option {index}.", field="outcome")


def _precheck(idempotency_key: str, member: Member) -> tuple[bool, bool]:
    """(was this key already used for a trade, is the member frozen) in one round trip.

    The member is read fresh: the caller's object may predate a moderator's
    freeze. This read only refuses early (before a DRIP debit or any lock);
    a freeze that commits after it is caught by the trade's write statement,
    under the member's account lock (``betting.market_lock``).
    """
    [(seen, frozen)] = fetch_all(
        f"SELECT EXISTS (SELECT 1 FROM {Trade._meta.db_table} WHERE idempotency_key = %s), "
        f"(SELECT is_frozen FROM {Member._meta.db_table} WHERE id = %s)",
        [idempotency_key, member.pk],
        prepare=True,
    )
    return bool(seen), bool(frozen)


MAX_SHARES = 10**15


def _parse_shares(shares: object) -> Decimal:
    try:
        value = shares if isinstance(shares, Decimal) else Decimal(str(shares).strip())
    except (InvalidOperation, ValueError):
        raise ValidationFailed("Shares must be a number.", field="shares") from None
    if not value.is_finite() or value <= 0:
        raise ValidationFailed("Shares must be more than zero.", field="shares")
    if value >= MAX_SHARES:
        # More than any market holds, and past what a 6-decimal quantize can represent.
        raise ValidationFailed(f"Shares must be less than {MAX_SHARES:,}.", field="shares")
    return value.quantize(amm.SHARE_QUANTUM, rounding="ROUND_FLOOR")


# ------------------------------------------------------------------------------
# Quotes
# ------------------------------------------------------------------------------
def bet_quote(
    *, market_id: int, outcome_index: int, amount: object, guild_id: int | None = None
) -> amm.BuyQuote:
    """What a bet would get now: shares, average price, probabilities after, payout."""
    markets = Market.objects.select_related("guild")
    if guild_id is not None:
        markets = markets.filter(guild_id=guild_id)
    market = markets.filter(pk=market_id).first()
    if market is None:
        raise NotFound("That market does not exist in this server.")
    _check_open(market)
    points = _check_amount(market, amount)
    outcomes = market_outcomes(market)
    outcome = _outcome(outcomes, outcome_index)
    return amm.quote_buy([o.pool for o in outcomes], outcome.index, points, market.fee_bps)


def sell_quote(
    *, member: Member, market_id: int, outcome_index: int, shares: object
) -> amm.SellQuote:
    market = (
        Market.objects.select_related("guild")
        .filter(pk=market_id, guild_id=member.guild_id)
        .first()
    )
    if market is None:
        raise NotFound("That market does not exist in this server.")
    _check_open(market)
    outcomes = market_outcomes(market)
    outcome = _outcome(outcomes, outcome_index)
    amount = _resolve_shares(member, outcome, shares)
    return amm.quote_sell([o.pool for o in outcomes], outcome.index, amount, market.fee_bps)


def _resolve_shares(member: Member, outcome: Outcome, shares: object) -> Decimal:
    held = (
        Position.objects.filter(member=member, outcome=outcome)
        .values_list("shares", flat=True)
        .first()
    ) or Decimal(0)
    if isinstance(shares, str) and shares.strip().lower() == "all":
        if held <= 0:
            raise InsufficientShares("You hold no shares of that option.")
        return held
    amount = _parse_shares(shares)
    if amount > held:
        raise InsufficientShares(
            f"You hold {held.normalize()} shares of that option.", held=str(held)
        )
    return amount


# ------------------------------------------------------------------------------
# Trades
# ------------------------------------------------------------------------------
def _replay(
    key: str,
    *,
    member: Member,
    market_id: int,
    side: str,
    outcome_index: int,
    check: dict[str, object],
) -> TradeResult | None:
    trade = Trade.objects.select_related("market", "outcome").filter(idempotency_key=key).first()
    if trade is None:
        return None
    same = (
        trade.member_id == member.pk
        and trade.market_id == market_id
        and trade.side == side
        and trade.outcome.index == outcome_index
    )
    for field, value in check.items():
        same = same and value is not None and getattr(trade, field) == value
    if not same:
        raise IdempotencyConflict(key=key)
    return _result(trade, trade.market, trade.outcome.label, balance=None, replayed=True)


def _replayed_trade(key: str, **identity: Any) -> TradeResult:
    """The original trade for a key known to be used (a retried request)."""
    replay = _replay(key, **identity)
    assert replay is not None
    return replay


def _result(
    trade: Trade, market: Market, label: str, *, balance: int | None, replayed: bool
) -> TradeResult:
    return TradeResult(
        trade=trade,
        market=market,
        outcome_label=label,
        shares=trade.shares,
        points=trade.points,
        average_price=trade.average_price,
        probabilities_after=list(trade.probabilities_after),
        payout_if_wins=int(trade.shares) if trade.side == TradeSide.BUY else 0,
        balance=balance,
        replayed=replayed,
    )


def _record_trade(
    *,
    market: Market,
    member: Member,
    outcome: Outcome,
    outcomes: list[Outcome],
    side: str,
    legs: list[Leg],
    points: int,
    shares: Decimal,
    quote: amm.BuyQuote | amm.SellQuote,
    idempotency_key: str,
    commit: bool,
) -> tuple[LedgerTransaction, Trade]:
    """Move the points and write the trade's rows (the market lock is held).

    ``commit``: nothing else is written in the transaction afterwards (see
    ``write_trade``). Raises ``_ConcurrentReplay`` when the same request
    committed while this one waited for the lock.
    """
    buying = side == TradeSide.BUY
    post = posting(
        guild_id=market.guild_id,
        legs=legs,
        kind=TransactionKind.BET if buying else TransactionKind.SELL,
        actor=f"discord:{member.discord_id}",
        memo=f"{'bet on' if buying else 'sold on'} market #{market.pk}: {outcome.label}"[:500],
        idempotency_key=trade_posting_key(idempotency_key),
    )
    written = write_trade(
        TradeWrite(
            market=market,
            member=member,
            outcome=outcome,
            outcomes=outcomes,
            side=side,
            points=points,
            shares=shares,
            fee=quote.fee,
            pools_after=quote.pools_after,
            probabilities_before=probabilities_payload(quote.pools_before),
            probabilities_after=probabilities_payload(quote.pools_after),
            idempotency_key=idempotency_key,
            posting=post,
            now=post.created_at,
        ),
        commit=commit,
    )
    if written is None:
        raise _ConcurrentReplay
    return written


def bet_place(
    *,
    member: Member,
    market_id: int,
    outcome_index: int,
    amount: object,
    idempotency_key: str,
    min_shares: Decimal | None = None,
    bypass_rate_limit: bool = False,
) -> TradeResult:
    """Buy shares of one outcome for ``amount`` points.

    ``min_shares`` (from a quote) refuses the bet, charging nothing, if the
    price moved so that it would get fewer shares.
    """
    if not idempotency_key:
        raise ValidationFailed("A request id is required.")
    points = parse_amount(amount)
    replay_original = functools.partial(
        _replayed_trade,
        idempotency_key,
        member=member,
        market_id=market_id,
        side=TradeSide.BUY,
        outcome_index=outcome_index,
        check={"points": points},
    )
    seen, frozen = _precheck(idempotency_key, member)
    if seen:
        return replay_original()
    rate_limit_hit("bet", member.pk, bypass=bypass_rate_limit)
    if frozen:
        raise AccountFrozen()
    drip = is_drip_guild(member.guild)
    payer = member.account.pk
    if drip:
        payer = _drip_debit_for_bet(member, market_id, outcome_index, points, idempotency_key)
    try:
        with transaction.atomic():
            market, outcomes = lock_market_with_outcomes(market_id, member)
            if drip:
                _lock_unrefunded_debit(idempotency_key)
            with _refusal_replays_a_twin(idempotency_key):
                _check_open(market)
                points = _check_amount(market, points)
                outcome = _outcome(outcomes, outcome_index)
                quote = amm.buy([o.pool for o in outcomes], outcome.index, points, market.fee_bps)
                if min_shares is not None and quote.shares < min_shares:
                    raise SlippageExceeded(
                        f"The price moved: this bet would now get {quote.shares.normalize()} "
                        f"shares, fewer than the {Decimal(min_shares).normalize()} quoted.",
                        shares=str(quote.shares),
                        min_shares=str(min_shares),
                    )
            txn, trade = _record_trade(
                market=market,
                member=member,
                outcome=outcome,
                outcomes=outcomes,
                side=TradeSide.BUY,
                legs=[Leg(payer, -points), Leg(market.escrow_account_id, points)],
                points=points,
                shares=quote.shares,
                quote=quote,
                idempotency_key=idempotency_key,
                commit=True,
            )
    except _ConcurrentReplay:
        return replay_original()
    except BaseException as exc:
        if drip:
            _drip_compensate(member, idempotency_key)
        if isinstance(exc, PostingRefused):
            exc.explain()  # rolled back now: say which balance was short
        raise
    if drip:
        balance = DripTransfer.objects.get(idempotency_key=f"bet:{idempotency_key}").balance_after
    else:
        balance = txn.balances[member.account.pk]  # type: ignore[attr-defined]
    count_trade(trade.side, trade.points)
    return _result(trade, market, outcome.label, balance=balance, replayed=False)


def _drip_debit_for_bet(
    member: Member, market_id: int, outcome_index: int, points: int, key: str
) -> int:
    """Take the stake at DRIP before the local bet; return the account that pays locally.

    Cheap checks first (market open, bet limits), so an obviously refused bet
    never touches DRIP. The debit is made outside the market lock: an HTTP call
    must not hold up every other trade on the market. The debit names the
    market and option, so the request id reused for another bet is a conflict.
    """
    market = (
        Market.objects.select_related("guild")
        .filter(pk=market_id, guild_id=member.guild_id)
        .first()
    )
    if market is None:
        raise NotFound("That market does not exist in this server.", market_id=market_id)
    _check_open(market)
    _check_amount(market, points)
    drip_debit(
        member=member,
        amount=points,
        key=f"bet:{key}",
        subject=f"market:{market_id}:outcome:{outcome_index}",
    )
    return clearing_account(member.guild_id).pk


def _lock_unrefunded_debit(key: str) -> None:
    """In the bet's transaction: its debit is applied and not being given back.

    The debit row's lock makes the bet and its compensation exclusive: a
    concurrent retry of this request that failed may be queueing the stake
    back right now, and then this bet must not use it too.
    """
    debit = (
        DripTransfer.objects.select_for_update()
        .filter(idempotency_key=f"bet:{key}", status=DripTransferStatus.APPLIED)
        .first()
    )
    if (
        debit is None
        or DripTransfer.objects.filter(
            idempotency_key=compensation_key(debit.idempotency_key)
        ).exists()
    ):
        raise InvalidState(
            "This request failed earlier and its points were returned; please place the bet again."
        )


def _drip_compensate(member: Member, key: str) -> None:
    """The local bet failed after DRIP took the stake: queue it back (delivered by a task).

    If this fails too (the database is gone, the process is killed), delivery's
    sweep (``points.drip.delivery.compensate_unused_bet_debits``) queues it later.
    """
    with transaction.atomic():
        # The same lock as the bet's transaction: either the bet landed (a concurrent
        # retry of this request) and nothing is owed, or the stake goes back and no
        # bet can use it afterwards.
        debit = (
            DripTransfer.objects.select_for_update().filter(idempotency_key=f"bet:{key}").first()
        )
        if debit is None or debit.status != DripTransferStatus.APPLIED:
            return
        if Trade.objects.filter(idempotency_key=key).exists():
            return
        drip_queue_credit(
            member=member,
            guild_id=member.guild_id,
            amount=-debit.amount,
            purpose="bet_compensation",
            key=compensation_key(debit.idempotency_key),
        )


def shares_sell(
    *,
    member: Member,
    market_id: int,
    outcome_index: int,
    shares: object,
    idempotency_key: str,
    min_points: int | None = None,
    bypass_rate_limit: bool = False,
) -> TradeResult:
    """Sell shares (a number, or ``"all"``) of one outcome back to the market maker."""
    if not idempotency_key:
        raise ValidationFailed("A request id is required.")
    # A retry must be the same sale: a request id reused for another share count
    # is a conflict. ("all" names no count, so only the other fields are compared.)
    sells_all = isinstance(shares, str) and shares.strip().lower() == "all"
    check: dict[str, object] = {} if sells_all else {"shares": _parse_shares(shares)}
    replay_original = functools.partial(
        _replayed_trade,
        idempotency_key,
        member=member,
        market_id=market_id,
        side=TradeSide.SELL,
        outcome_index=outcome_index,
        check=check,
    )
    seen, frozen = _precheck(idempotency_key, member)
    if seen:
        return replay_original()
    rate_limit_hit("bet", member.pk, bypass=bypass_rate_limit)
    if frozen:
        raise AccountFrozen()
    drip = is_drip_guild(member.guild)
    # A DRIP guild's proceeds go to the clearing account and on to DRIP.
    payee = clearing_account(member.guild_id).pk if drip else member.account.pk
    try:
        with transaction.atomic():
            market, outcomes = lock_market_with_outcomes(market_id, member)
            with _refusal_replays_a_twin(idempotency_key):
                _check_open(market)
                outcome = _outcome(outcomes, outcome_index)
                amount = _resolve_shares(member, outcome, shares)
                try:
                    quote = amm.sell(
                        [o.pool for o in outcomes], outcome.index, amount, market.fee_bps
                    )
                except amm.AMMError as exc:
                    raise ValidationFailed(str(exc), field="shares") from None
                if quote.points_out < 1:
                    raise ValidationFailed(
                        "Too few shares: selling them would return less than 1 point.",
                        field="shares",
                    )
                if min_points is not None and quote.points_out < min_points:
                    raise SlippageExceeded(
                        f"The price moved: this sale would now return {quote.points_out} points.",
                        points=quote.points_out,
                        min_points=min_points,
                    )
            txn, trade = _record_trade(
                market=market,
                member=member,
                outcome=outcome,
                outcomes=outcomes,
                side=TradeSide.SELL,
                legs=[
                    Leg(market.escrow_account_id, -quote.points_out),
                    Leg(payee, quote.points_out),
                ],
                points=quote.points_out,
                shares=amount,
                quote=quote,
                idempotency_key=idempotency_key,
                commit=not drip,  # a DRIP guild's proceeds are queued after it
            )
            if drip:
                # Committed with the sale; the delivery task pays it out at DRIP.
                drip_queue_credit(
                    member=member,
                    guild_id=member.guild_id,
                    amount=quote.points_out,
                    purpose="sell",
                    key=f"sell:{idempotency_key}",
                )
    except _ConcurrentReplay:
        return replay_original()
    except PostingRefused as refused:
        refused.explain()  # rolled back now: say which balance was short
    balance = None if drip else txn.balances[member.account.pk]  # type: ignore[attr-defined]
    count_trade(trade.side, trade.points)
    return _result(trade, market, outcome.label, balance=balance, replayed=False)
