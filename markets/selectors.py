"""Reads over markets: lists, details with live probabilities, price history."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection
from django.db.models import Count, F, Q, QuerySet, Window
from django.db.models.functions import RowNumber
from django.urls import reverse
from django.utils import timezone

from markets import amm
from markets.models import Market, MarketStatus, Outcome


def market_list(
    *,
    guild_id: int,
    status: str | None = None,
    category: str | None = None,
    search: str | None = None,
) -> QuerySet[Market]:
    """Markets of a guild, newest first, filtered by status, category and text."""
    markets = Market.objects.filter(guild_id=guild_id).select_related("creator")
    if status:
        markets = markets.filter(status=status)
    if category:
        markets = markets.filter(category__iexact=category.strip())
    if search:
        text = search.strip()
        markets = markets.filter(
            Q(question__icontains=text)
            | Q(description__icontains=text)
            | Q(outcomes__label__icontains=text)
        ).distinct()
    return markets.order_by("-created_at", "-id")


def open_markets(guild_id: int) -> QuerySet[Market]:
    return market_list(guild_id=guild_id, status=MarketStatus.OPEN).filter(
        closes_at__gt=timezone.now()
    )


@dataclass(frozen=True)
class OutcomeView:
    index: int
    label: str
    probability: Decimal
    pool: Decimal
    is_winner: bool


@dataclass(frozen=True)
class MarketDetail:
    market: Market
    outcomes: list[OutcomeView]
    volume: int
    traders: int
    trades: int
    time_left: timedelta | None
    accepting_bets: bool


def market_detail(market: Market) -> MarketDetail:
    outcomes = list(Outcome.objects.filter(market=market).order_by("index"))
    probabilities = amm.prices([o.pool for o in outcomes]) if outcomes else ()
    counts = market.trades.aggregate(traders=Count("member", distinct=True), trades=Count("id"))
    now = timezone.now()
    accepting = market.status == MarketStatus.OPEN and market.closes_at > now
    return MarketDetail(
        market=market,
        outcomes=[
            OutcomeView(
                index=o.index,
                label=o.label,
                probability=probabilities[i],
                pool=o.pool,
                is_winner=o.pk == market.winning_outcome_id,
            )
            for i, o in enumerate(outcomes)
        ],
        volume=market.volume,
        traders=counts["traders"],
        trades=counts["trades"],
        time_left=(market.closes_at - now) if accepting else None,
        accepting_bets=accepting,
    )


@dataclass(frozen=True)
class PriceHistoryPoint:
    at: datetime
    probabilities: list[Decimal]


def opening_probabilities(outcomes: int) -> list[Decimal]:
    """A new market's probabilities: its pools start equal (``amm.initial_pools``)."""
    return [p.quantize(amm.SHARE_QUANTUM) for p in amm.prices([Decimal(1)] * outcomes)]


def price_history(
    *, market_id: int, opens_at: datetime, outcome_count: int, limit: int = 500
) -> list[PriceHistoryPoint]:
    """The market's probabilities over time, oldest first, thinned to at most ``limit``.

    Read from where each fact is stored once: the opening prices (when it
    opened, every one of its ``outcome_count`` outcomes equally likely), then
    each trade's probabilities after it. Takes only what it uses, so a caller
    holding a snapshot needs no market row.
    """
    # The betting app's Trade, through the reverse relation (markets never imports betting).
    trade_model = Market._meta.get_field("trades").related_model
    trades = trade_model.objects.filter(market_id=market_id)
    order = [F("created_at").asc(), F("id").asc()]
    opening = (opens_at, opening_probabilities(outcome_count))
    # Points are the opening, then the trades; thinned, the first and the last are kept
    # with an even spread between them. The database picks the kept trades by their
    # row number, so it sends ``limit`` rows however many trades there are. A hot market's
    # chart is rebuilt for each version (every trade is one): reading every row cost this
    # process 25 ms of CPU at 3,000 trades and 119 ms at 20,000; now 10 ms and 9 ms.
    total = trades.count() + 1
    if total > limit:
        step = (total - 1) / (limit - 1)
        kept = [round(i * step) for i in range(1, limit)]  # point n is the n-th trade
        if connection.vendor == "postgresql":
            rows = _kept_trades_postgresql(trade_model._meta.db_table, market_id, kept)
        else:
            rows = (
                trades.annotate(n=Window(RowNumber(), order_by=order))
                .filter(n__in=kept)
                .order_by(*order)
                .values_list("created_at", "probabilities_after")
            )
    else:
        rows = trades.order_by(*order).values_list("created_at", "probabilities_after")
    points = [opening, *rows]
    return [
        PriceHistoryPoint(at=at, probabilities=[Decimal(p) for p in probs]) for at, probs in points
    ]


def _kept_trades_postgresql(
    table: str, market_id: int, kept: list[int]
) -> list[tuple[datetime, list[str]]]:
    """The trades numbered ``kept`` (1 = the first), oldest first: the ORM query's rows.

    Written out because compiling the ORM's version (a window filtered by a
    499-value ``IN``, which Django turns into a QUALIFY subquery, each value
    prepared one by one) was about half of ``price_history``'s CPU: a sixth of
    a public market page's read in bench/reads.py, which rebuilds the chart for
    each version of a hot market. Here the numbers travel as one array, and
    are joined (hashed), not tested with ``n = ANY(…)``: that compared every
    trade's number with each of the 499, and the query took 21 ms at 5,400
    trades where the join takes 7 ms (client-side, rows included). The
    numbers are distinct (``price_history`` steps by more than one), so the
    join adds no rows.
    """
    # The table name is the model's own (quoted), never input.
    sql = f"""
        SELECT created_at, probabilities_after FROM (
            SELECT created_at, probabilities_after, id,
                   ROW_NUMBER() OVER (ORDER BY created_at ASC, id ASC) AS n
            FROM {connection.ops.quote_name(table)} WHERE market_id = %s
        ) numbered
        JOIN unnest(%s::bigint[]) AS kept(n) USING (n)
        ORDER BY created_at ASC, id ASC"""  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [market_id, kept])
        # Django reads jsonb as text and leaves decoding to JSONField, as here.
        return [(at, json.loads(probs)) for at, probs in cursor.fetchall()]


def market_price_history(market: Market, *, limit: int = 500) -> list[PriceHistoryPoint]:
    """``price_history`` of a market row (its outcomes counted)."""
    return price_history(
        market_id=market.pk,
        opens_at=market.opens_at,
        outcome_count=market.outcomes.count(),
        limit=limit,
    )


def market_categories(guild_id: int) -> list[str]:
    return list(
        Market.objects.filter(guild_id=guild_id)
        .exclude(category="")
        .values_list("category", flat=True)
        .distinct()
        .order_by("category")
    )


def public_market_url(market: Market) -> str:
    """The market's public page (absolute), or "" when its guild keeps its pages private."""
    if not market.guild.public_pages:
        return ""
    path = reverse("public-market", args=[market.guild_id, market.pk])
    return f"{settings.PUBLIC_BASE_URL}{path}"
