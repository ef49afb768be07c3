"""REST API for trading: quotes, bets, sells, trades, portfolio and leaderboards."""

from __future__ import annotations

import uuid
from decimal import Decimal

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from betting.leaderboards import PERIOD_CHOICES, period_start
from betting.selectors import market_trades, member_portfolio, worth_leaderboard
from betting.services import TradeResult, bet_place, bet_quote, shares_sell
from markets.services import market_get
from points.models import LedgerEntry
from points.selectors import balance_leaderboard
from predictmarket.api.context import IsMember, existing_id, request_guild_id, request_member
from predictmarket.api.idempotency import IDEMPOTENCY_HEADER, request_idempotency_key
from predictmarket.api.pagination import PageParams, Pagination, page_of
from predictmarket.api.schema import ERRORS, WRITE_ERRORS

SIX = Decimal("0.000001")


def _idempotency_key(request: Request) -> str:
    """The trade's key: the client's, or a fresh one (a request without a key is never replayed)."""
    key = request_idempotency_key(request)
    member = request_member(request)
    return f"api:{member.pk}:{key or uuid.uuid4().hex}"


# The API keeps 0-based indexes (documented, stable for clients); only the bot reads
# what members type, where answers are numbered from 1.
OUTCOME_INDEX_HELP = (
    "0-based outcome index, as in the market's outcomes list (the first answer is 0). "
    "Unlike the Discord bot, where members number answers from 1 or type the label."
)


class QuoteInput(serializers.Serializer):
    outcome = serializers.IntegerField(min_value=0, help_text=OUTCOME_INDEX_HELP)
    amount = serializers.IntegerField(min_value=1, help_text="Points to spend")


class QuoteOutput(serializers.Serializer):
    outcome = serializers.IntegerField()
    amount = serializers.IntegerField()
    shares = serializers.DecimalField(max_digits=36, decimal_places=6)
    average_price = serializers.DecimalField(max_digits=20, decimal_places=8)
    payout_if_wins = serializers.IntegerField()
    fee = serializers.DecimalField(max_digits=24, decimal_places=6)
    probabilities_after = serializers.ListField(
        child=serializers.DecimalField(max_digits=10, decimal_places=6)
    )


class QuoteView(APIView):
    @extend_schema(
        operation_id="markets_quote",
        request=QuoteInput,
        responses={200: QuoteOutput, **WRITE_ERRORS},
        tags=["trading"],
    )
    def post(self, request: Request, market_id: int) -> Response:
        data = QuoteInput(data=request.data)
        data.is_valid(raise_exception=True)
        quote = bet_quote(
            market_id=market_id,
            outcome_index=data.validated_data["outcome"],
            amount=data.validated_data["amount"],
            guild_id=request_guild_id(request),
        )
        return Response(
            QuoteOutput(
                {
                    "outcome": quote.outcome_index,
                    "amount": quote.amount,
                    "shares": quote.shares,
                    "average_price": quote.average_price.quantize(Decimal("0.00000001")),
                    "payout_if_wins": quote.payout_if_wins,
                    "fee": quote.fee,
                    "probabilities_after": [p.quantize(SIX) for p in quote.probabilities_after],
                }
            ).data
        )


class TradeOutput(serializers.Serializer):
    trade_id = serializers.IntegerField()
    market_id = serializers.IntegerField()
    side = serializers.ChoiceField(choices=["buy", "sell"])
    outcome = serializers.IntegerField()
    outcome_label = serializers.CharField()
    points = serializers.IntegerField(help_text="Paid (buy) or received (sell)")
    shares = serializers.DecimalField(max_digits=36, decimal_places=6)
    average_price = serializers.DecimalField(max_digits=20, decimal_places=8)
    payout_if_wins = serializers.IntegerField()
    probabilities_after = serializers.ListField(
        child=serializers.DecimalField(max_digits=10, decimal_places=6)
    )
    balance_after = serializers.IntegerField(
        allow_null=True,
        help_text="Your balance right after this trade (null when a DRIP credit is still "
        "on its way)",
    )
    market_version = serializers.IntegerField(
        help_text="The market's version with this trade in it: a market read with "
        "?min_version=<this> shows these odds or newer"
    )
    created_at = serializers.DateTimeField()


def trade_output(result: TradeResult) -> dict[str, object]:
    trade = result.trade
    balance_after = result.balance
    if balance_after is None:
        # A replay: from the ledger, so it answers exactly what the original did.
        balance_after = (
            LedgerEntry.objects.filter(
                transaction_id=trade.ledger_transaction_id, account__member_id=trade.member_id
            )
            .values_list("balance_after", flat=True)
            .first()
        )
    return TradeOutput(
        {
            "trade_id": trade.pk,
            "market_id": trade.market_id,
            "side": trade.side,
            "outcome": trade.outcome.index,
            "outcome_label": result.outcome_label,
            "points": trade.points,
            "shares": trade.shares,
            "average_price": trade.average_price,
            "payout_if_wins": result.payout_if_wins,
            "probabilities_after": [Decimal(p) for p in trade.probabilities_after],
            "balance_after": balance_after,
            "market_version": result.market_version,
            "created_at": trade.created_at,
        }
    ).data


class BetInput(QuoteInput):
    min_shares = serializers.DecimalField(
        max_digits=36,
        decimal_places=6,
        required=False,
        min_value=Decimal(0),
        help_text="Refuse the bet (409 price_moved) if it would get fewer shares, "
        "e.g. the shares of a quote",
    )


class BetView(APIView):
    permission_classes = [IsMember]

    @extend_schema(
        operation_id="markets_bet",
        request=BetInput,
        parameters=[IDEMPOTENCY_HEADER],
        responses={201: TradeOutput, **WRITE_ERRORS},
        examples=[
            OpenApiExample(
                "Bet 50 on outcome 0", value={"outcome": 0, "amount": 50}, request_only=True
            )
        ],
        tags=["trading"],
    )
    def post(self, request: Request, market_id: int) -> Response:
        data = BetInput(data=request.data)
        data.is_valid(raise_exception=True)
        member = request_member(request)
        # No market_get() first: bet_place locks the market within the member's guild
        # only, so another guild's market is a 404 there, one query fewer per bet.
        result = bet_place(
            member=member,
            market_id=existing_id(market_id),
            outcome_index=data.validated_data["outcome"],
            amount=data.validated_data["amount"],
            idempotency_key=_idempotency_key(request),
            min_shares=data.validated_data.get("min_shares"),
        )
        return Response(trade_output(result), status=status.HTTP_201_CREATED)


class SellInput(serializers.Serializer):
    outcome = serializers.IntegerField(min_value=0, help_text=OUTCOME_INDEX_HELP)
    shares = serializers.CharField(
        max_length=40, help_text='A number of shares (up to 6 decimals), or "all"'
    )
    min_points = serializers.IntegerField(min_value=0, required=False)


class SellView(APIView):
    permission_classes = [IsMember]

    @extend_schema(
        operation_id="markets_sell",
        request=SellInput,
        parameters=[IDEMPOTENCY_HEADER],
        responses={201: TradeOutput, **WRITE_ERRORS},
        tags=["trading"],
    )
    def post(self, request: Request, market_id: int) -> Response:
        data = SellInput(data=request.data)
        data.is_valid(raise_exception=True)
        member = request_member(request)
        # As for bets: shares_sell answers 404 for a market of another guild.
        result = shares_sell(
            member=member,
            market_id=existing_id(market_id),
            outcome_index=data.validated_data["outcome"],
            shares=data.validated_data["shares"],
            idempotency_key=_idempotency_key(request),
            min_points=data.validated_data.get("min_points"),
        )
        return Response(trade_output(result), status=status.HTTP_201_CREATED)


class PublicTradeOutput(serializers.Serializer):
    trade_id = serializers.IntegerField(source="pk")
    side = serializers.CharField()
    outcome = serializers.IntegerField(source="outcome.index")
    member = serializers.CharField(source="member.display_name")
    points = serializers.IntegerField()
    shares = serializers.DecimalField(max_digits=36, decimal_places=6)
    average_price = serializers.DecimalField(max_digits=20, decimal_places=8)
    created_at = serializers.DateTimeField()


class MarketTradesView(APIView):
    @extend_schema(
        operation_id="markets_trades",
        parameters=[PageParams],
        responses={200: page_of("TradePage", PublicTradeOutput(many=True)), **ERRORS},
        tags=["markets"],
    )
    def get(self, request: Request, market_id: int) -> Response:
        market = market_get(market_id, guild_id=request_guild_id(request))
        paginator = Pagination()
        page = paginator.paginate_queryset(market_trades(market), request, view=self)
        return paginator.get_paginated_response(PublicTradeOutput(page, many=True).data)


class HoldingOutput(serializers.Serializer):
    market_id = serializers.IntegerField()
    question = serializers.CharField()
    market_status = serializers.CharField()
    outcome = serializers.IntegerField(source="outcome_index")
    outcome_label = serializers.CharField()
    shares = serializers.DecimalField(max_digits=36, decimal_places=6)
    probability = serializers.DecimalField(max_digits=10, decimal_places=6)
    value = serializers.DecimalField(max_digits=30, decimal_places=2)
    points_spent = serializers.IntegerField()
    points_received = serializers.IntegerField()
    profit = serializers.DecimalField(max_digits=30, decimal_places=2)


class PortfolioOutput(serializers.Serializer):
    value = serializers.DecimalField(max_digits=30, decimal_places=2)
    profit = serializers.DecimalField(max_digits=30, decimal_places=2)
    holdings = HoldingOutput(many=True)


class MyPortfolioView(APIView):
    permission_classes = [IsMember]

    @extend_schema(
        operation_id="me_portfolio", responses={200: PortfolioOutput, **ERRORS}, tags=["me"]
    )
    def get(self, request: Request) -> Response:
        portfolio = member_portfolio(request_member(request))
        return Response(PortfolioOutput(portfolio).data)


class LeaderboardRowOutput(serializers.Serializer):
    rank = serializers.IntegerField()
    member_id = serializers.IntegerField()
    discord_id = serializers.CharField()
    display_name = serializers.CharField()
    score = serializers.DecimalField(max_digits=30, decimal_places=2)


class LeaderboardOutput(serializers.Serializer):
    by = serializers.CharField()
    period = serializers.CharField()
    rows = LeaderboardRowOutput(many=True)
    me = LeaderboardRowOutput(allow_null=True)


class LeaderboardView(APIView):
    class Params(serializers.Serializer):
        by = serializers.ChoiceField(choices=["balance", "net_worth", "profit"], default="balance")
        limit = serializers.IntegerField(min_value=1, max_value=100, default=10)
        period = serializers.ChoiceField(
            choices=list(PERIOD_CHOICES),
            default="all",
            help_text="Profit over the markets settled in the last week or month, or since the "
            "current season started (by=profit)",
        )

        def validate(self, attrs: dict) -> dict:
            if attrs["period"] != "all" and attrs["by"] != "profit":
                raise serializers.ValidationError({"period": "Only the profit board has periods."})
            return attrs

    @extend_schema(
        operation_id="leaderboard",
        parameters=[Params],
        # 409: period=season in a server where no season has been started.
        responses={200: LeaderboardOutput, **ERRORS, 409: WRITE_ERRORS[409]},
        tags=["leaderboard"],
    )
    def get(self, request: Request) -> Response:
        params = self.Params(data=request.query_params)
        params.is_valid(raise_exception=True)
        by, limit = params.validated_data["by"], params.validated_data["limit"]
        period = params.validated_data["period"]
        guild_id = request_guild_id(request)
        member = getattr(request.user, "member", None)
        if by == "balance":
            board = balance_leaderboard(guild_id, limit=limit, member=member)
            rows = [
                _row(r.rank, r.member_id, r.discord_id, r.display_name, r.balance)
                for r in board.rows
            ]
            own = board.own and _row(
                board.own.rank,
                board.own.member_id,
                board.own.discord_id,
                board.own.display_name,
                board.own.balance,
            )
        else:
            ranked, mine = worth_leaderboard(
                guild_id,
                by=by,
                limit=limit,
                member=member,
                since=period_start(period, guild_id=guild_id),
            )
            rows = [
                _row(
                    r.rank,
                    r.member_id,
                    r.discord_id,
                    r.display_name,
                    r.net_worth if by == "net_worth" else r.profit,
                )
                for r in ranked
            ]
            own = mine and _row(
                mine.rank,
                mine.member_id,
                mine.discord_id,
                mine.display_name,
                mine.net_worth if by == "net_worth" else mine.profit,
            )
        body = {"by": by, "period": period, "rows": rows, "me": own or None}
        return Response(LeaderboardOutput(body).data)


def _row(rank: int, member_id: int, discord_id: int, name: str, score: object) -> dict:
    return {
        "rank": rank,
        "member_id": member_id,
        "discord_id": str(discord_id),
        "display_name": name,
        "score": Decimal(score).quantize(Decimal("0.01")),
    }
