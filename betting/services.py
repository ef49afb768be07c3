"""Trading: quotes, bets and sells through the market maker, atomic and idempotent.

``bet_place`` and ``shares_sell`` run one database transaction each: lock the
market row (which serialises trades on that market), check it is open, compute
the trade with ``markets.amm``, move the points with ``ledger_post`` (member ↔
the market's escrow), update the pools, the trade, the position, the price
history, the audit log and the outbox. A retried request with the same
idempotency key returns the original trade instead of trading twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, DecimalField, F, Value, When
from django.utils import timezone

from betting.models import Position, Trade, TradeSide
from markets import amm
from markets.models import Market, MarketStatus, Outcome, PricePoint
from markets.services import market_event_payload, market_lock, probabilities_payload
from points.ledger import Leg, ledger_post
from points.models import Member, TransactionKind
from points.services import parse_amount
from predictmarket.audit import audit_record
from predictmarket.errors import (
    AccountFrozen,
    DomainError,
    IdempotencyConflict,
    InvalidState,
    NotFound,
    ValidationFailed,
)
from predictmarket.outbox import outbox_append
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
        raise ValidationFailed(f"The smallest bet is {minimum} points.", field="amount")
    if points > maximum:
        raise ValidationFailed(f"The largest bet is {maximum} points.", field="amount")
    return points


def _outcome(outcomes: list[Outcome], index: object) -> Outcome:
    if isinstance(index, bool) or not isinstance(index, int):
        raise ValidationFailed("Choose one of the market's options.", field="outcome")
    for outcome in outcomes:
        if outcome.index == index:
            return outcome
    raise ValidationFailed(f"This market has no option {index}.", field="outcome")


def _outcomes(market: Market) -> list[Outcome]:
    return list(Outcome.objects.filter(market=market).order_by("index"))


def _check_member(member: Member, market: Market) -> None:
    if member.guild_id != market.guild_id:
        raise NotFound("That market does not exist in this server.")
    if Member.objects.filter(pk=member.pk, is_frozen=True).exists():
        raise AccountFrozen()


def _parse_shares(shares: object) -> Decimal:
    try:
        value = shares if isinstance(shares, Decimal) else Decimal(str(shares).strip())
    except (InvalidOperation, ValueError):
        raise ValidationFailed("Shares must be a number.", field="shares") from None
    if not value.is_finite() or value <= 0:
        raise ValidationFailed("Shares must be more than zero.", field="shares")
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
    outcomes = _outcomes(market)
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
    outcomes = _outcomes(market)
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


def _write_trade(
    *,
    market: Market,
    member: Member,
    outcome: Outcome,
    outcomes: list[Outcome],
    side: str,
    points: int,
    shares: Decimal,
    fee: Decimal,
    pools_after: tuple[Decimal, ...],
    probabilities_before: list[str],
    probabilities_after: list[str],
    idempotency_key: str,
    ledger_transaction_id: int,
    now: object,
) -> Trade:
    Outcome.objects.filter(market=market).update(
        pool=Case(
            *[When(pk=o.pk, then=Value(pools_after[o.index])) for o in outcomes],
            output_field=DecimalField(max_digits=36, decimal_places=6),
        )
    )
    if side == TradeSide.BUY:
        Market.objects.filter(pk=market.pk).update(volume=F("volume") + points)
    trade = Trade.objects.create(
        market=market,
        member=member,
        outcome=outcome,
        side=side,
        points=points,
        shares=shares,
        average_price=(Decimal(points) / shares).quantize(Decimal("0.00000001")),
        fee=fee.quantize(amm.SHARE_QUANTUM),
        probabilities_before=probabilities_before,
        probabilities_after=probabilities_after,
        idempotency_key=idempotency_key,
        ledger_transaction_id=ledger_transaction_id,
        created_at=now,
    )
    if side == TradeSide.BUY:
        table = Position._meta.db_table
        with connection.cursor() as cursor:
            # One statement creates or grows the position (the market lock
            # serialises trades on this market, so no other writer races it).
            cursor.execute(
                f"INSERT INTO {table} "  # noqa: S608 - our table
                "(market_id, member_id, outcome_id, shares, points_spent, points_received, "
                "updated_at) VALUES (%s, %s, %s, %s, %s, 0, %s) "
                "ON CONFLICT (member_id, outcome_id) DO UPDATE SET "
                f"shares = {table}.shares + excluded.shares, "
                f"points_spent = {table}.points_spent + excluded.points_spent, "
                "updated_at = excluded.updated_at",
                [market.pk, member.pk, outcome.pk, shares, points, now],
            )
    else:
        # The shares were checked against the position under the market lock;
        # the CHECK constraint (shares >= 0) is the last word.
        Position.objects.filter(member=member, outcome=outcome).update(
            shares=F("shares") - shares,
            points_received=F("points_received") + points,
            updated_at=now,
        )
    PricePoint.objects.create(market=market, created_at=now, probabilities=probabilities_after)
    data = {
        "trade_id": trade.pk,
        "side": side,
        "outcome": outcome.label,
        "points": points,
        "shares": str(shares),
        "member_id": member.pk,
    }
    audit_record(
        actor=f"discord:{member.discord_id}",
        action=f"trade.{side}",
        guild_id=market.guild_id,
        target=market,
        data=data,
    )
    outbox_append(
        kind="market.trade",
        guild_id=market.guild_id,
        aggregate_type="market",
        aggregate_id=market.pk,
        payload=market_event_payload(market, probabilities=probabilities_after, **data),
    )
    return trade


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
    replay = _replay(
        idempotency_key,
        member=member,
        market_id=market_id,
        side=TradeSide.BUY,
        outcome_index=outcome_index,
        check={"points": points},
    )
    if replay is not None:
        return replay
    rate_limit_hit("bet", member.pk, bypass=bypass_rate_limit)
    try:
        with transaction.atomic():
            market = market_lock(market_id, guild_id=member.guild_id)
            _check_member(member, market)
            _check_open(market)
            points = _check_amount(market, points)
            outcomes = _outcomes(market)
            outcome = _outcome(outcomes, outcome_index)
            quote = amm.buy([o.pool for o in outcomes], outcome.index, points, market.fee_bps)
            if min_shares is not None and quote.shares < min_shares:
                raise SlippageExceeded(
                    f"The price moved: this bet would now get {quote.shares.normalize()} shares, "
                    f"fewer than the {Decimal(min_shares).normalize()} quoted.",
                    shares=str(quote.shares),
                    min_shares=str(min_shares),
                )
            now = timezone.now()
            txn = ledger_post(
                guild_id=market.guild_id,
                legs=[Leg(member.account.pk, -points), Leg(market.escrow_account_id, points)],
                kind=TransactionKind.BET,
                actor=f"discord:{member.discord_id}",
                memo=f"bet on market #{market.pk}: {outcome.label}"[:500],
                idempotency_key=f"trade:{idempotency_key}",
            )
            if txn.replayed:  # type: ignore[attr-defined]
                raise _ConcurrentReplay
            trade = _write_trade(
                market=market,
                member=member,
                outcome=outcome,
                outcomes=outcomes,
                side=TradeSide.BUY,
                points=points,
                shares=quote.shares,
                fee=quote.fee,
                pools_after=quote.pools_after,
                probabilities_before=probabilities_payload(quote.pools_before),
                probabilities_after=probabilities_payload(quote.pools_after),
                idempotency_key=idempotency_key,
                ledger_transaction_id=txn.pk,
                now=now,
            )
    except _ConcurrentReplay:
        replay = _replay(
            idempotency_key,
            member=member,
            market_id=market_id,
            side=TradeSide.BUY,
            outcome_index=outcome_index,
            check={"points": points},
        )
        assert replay is not None
        return replay
    balance = txn.balances[member.account.pk]  # type: ignore[attr-defined]
    return _result(trade, market, outcome.label, balance=balance, replayed=False)


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
    replay = _replay(
        idempotency_key,
        member=member,
        market_id=market_id,
        side=TradeSide.SELL,
        outcome_index=outcome_index,
        check={},
    )
    if replay is not None:
        return replay
    rate_limit_hit("bet", member.pk, bypass=bypass_rate_limit)
    try:
        with transaction.atomic():
            market = market_lock(market_id, guild_id=member.guild_id)
            _check_member(member, market)
            _check_open(market)
            outcomes = _outcomes(market)
            outcome = _outcome(outcomes, outcome_index)
            amount = _resolve_shares(member, outcome, shares)
            try:
                quote = amm.sell([o.pool for o in outcomes], outcome.index, amount, market.fee_bps)
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
            now = timezone.now()
            txn = ledger_post(
                guild_id=market.guild_id,
                legs=[
                    Leg(market.escrow_account_id, -quote.points_out),
                    Leg(member.account.pk, quote.points_out),
                ],
                kind=TransactionKind.SELL,
                actor=f"discord:{member.discord_id}",
                memo=f"sold on market #{market.pk}: {outcome.label}"[:500],
                idempotency_key=f"trade:{idempotency_key}",
            )
            if txn.replayed:  # type: ignore[attr-defined]
                raise _ConcurrentReplay
            trade = _write_trade(
                market=market,
                member=member,
                outcome=outcome,
                outcomes=outcomes,
                side=TradeSide.SELL,
                points=quote.points_out,
                shares=amount,
                fee=quote.fee,
                pools_after=quote.pools_after,
                probabilities_before=probabilities_payload(quote.pools_before),
                probabilities_after=probabilities_payload(quote.pools_after),
                idempotency_key=idempotency_key,
                ledger_transaction_id=txn.pk,
                now=now,
            )
    except _ConcurrentReplay:
        replay = _replay(
            idempotency_key,
            member=member,
            market_id=market_id,
            side=TradeSide.SELL,
            outcome_index=outcome_index,
            check={},
        )
        assert replay is not None
        return replay
    balance = txn.balances[member.account.pk]  # type: ignore[attr-defined]
    return _result(trade, market, outcome.label, balance=balance, replayed=False)
