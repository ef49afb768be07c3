"""REST API for a member's own points: profile, transactions, balance leaderboard."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from points.selectors import member_display_balance, member_history
from predictmarket.api.context import IsMember, request_member
from predictmarket.api.schema import ERRORS


class MeOutput(serializers.Serializer):
    member_id = serializers.IntegerField()
    discord_id = serializers.CharField(help_text="Discord user id (a string: it exceeds 2^53)")
    display_name = serializers.CharField()
    guild_id = serializers.CharField()
    guild_name = serializers.CharField()
    balance = serializers.IntegerField(help_text="From DRIP when the server keeps its points there")
    is_frozen = serializers.BooleanField()
    notify_results = serializers.BooleanField(
        help_text="A DM with the member's result on each market they traded (/notify on|off)"
    )


class MeView(APIView):
    permission_classes = [IsMember]

    @extend_schema(operation_id="me", responses={200: MeOutput, **ERRORS}, tags=["me"])
    def get(self, request: Request) -> Response:
        member = request_member(request)
        return Response(
            MeOutput(
                {
                    "member_id": member.pk,
                    "discord_id": str(member.discord_id),
                    "display_name": member.display_name,
                    "guild_id": str(member.guild_id),
                    "guild_name": member.guild.name,
                    "balance": member_display_balance(member),
                    "is_frozen": member.is_frozen,
                    "notify_results": member.notify_results,
                }
            ).data
        )


class TransactionOutput(serializers.Serializer):
    entry_id = serializers.IntegerField()
    transaction_id = serializers.IntegerField()
    kind = serializers.CharField()
    amount = serializers.IntegerField(help_text="Positive: points in; negative: points out")
    balance_after = serializers.IntegerField()
    memo = serializers.CharField()
    created_at = serializers.DateTimeField()


class TransactionPage(serializers.Serializer):
    results = TransactionOutput(many=True)
    next_before = serializers.IntegerField(
        allow_null=True, help_text="Pass as ?before= for the next (older) page"
    )


class MyTransactionsView(APIView):
    permission_classes = [IsMember]

    class Params(serializers.Serializer):
        limit = serializers.IntegerField(min_value=1, max_value=100, default=20)
        before = serializers.IntegerField(
            min_value=1, required=False, help_text="The next_before of the previous page"
        )

    @extend_schema(
        operation_id="me_transactions",
        parameters=[Params],
        responses={200: TransactionPage, **ERRORS},
        tags=["me"],
    )
    def get(self, request: Request) -> Response:
        params = self.Params(data=request.query_params)
        params.is_valid(raise_exception=True)
        page = member_history(
            request_member(request),
            limit=params.validated_data["limit"],
            before=params.validated_data.get("before"),
        )
        results = [
            {
                "entry_id": e.pk,
                "transaction_id": e.transaction_id,
                "kind": e.transaction.kind,
                "amount": e.amount,
                "balance_after": e.balance_after,
                "memo": e.transaction.memo,
                "created_at": e.transaction.created_at,
            }
            for e in page.entries
        ]
        return Response(TransactionPage({"results": results, "next_before": page.next_before}).data)
