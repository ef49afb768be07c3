"""REST API for seasons: list them, start the next (moderators), read an ended one's standings."""

from __future__ import annotations

import uuid

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from betting.models import Season, SeasonStanding
from betting.seasons import season_standings, season_start, seasons_list
from predictmarket.api.context import IsModerator, request_actor, request_guild_id
from predictmarket.api.idempotency import IDEMPOTENCY_HEADER, request_idempotency_key
from predictmarket.api.schema import ERRORS, WRITE_ERRORS


class SeasonOutput(serializers.Serializer):
    number = serializers.IntegerField()
    started_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField(allow_null=True)
    started_by = serializers.CharField()
    reset = serializers.BooleanField(help_text="Every balance was reset to the starting balance")


class SeasonListOutput(serializers.Serializer):
    seasons = SeasonOutput(many=True)


class StandingOutput(serializers.Serializer):
    rank = serializers.IntegerField()
    member_id = serializers.IntegerField()
    discord_id = serializers.CharField()
    display_name = serializers.CharField()
    profit = serializers.IntegerField(help_text="Points received - spent on the season's markets")
    balance = serializers.IntegerField(help_text="The balance when the season ended")


class StandingsOutput(serializers.Serializer):
    season = SeasonOutput()
    members = serializers.IntegerField()
    rows = StandingOutput(many=True)
    me = StandingOutput(allow_null=True)


def _standing(row: SeasonStanding | None) -> dict | None:
    if row is None:
        return None
    return {
        "rank": row.rank,
        "member_id": row.member_id,
        "discord_id": str(row.member.discord_id),
        "display_name": row.member.display_name,
        "profit": row.profit,
        "balance": row.balance,
    }


def _season(season: Season) -> dict:
    return SeasonOutput(season).data


class SeasonListView(APIView):
    class StartInput(serializers.Serializer):
        reset = serializers.BooleanField(
            default=False,
            help_text="Also bring every member's balance to the starting balance (one ledger "
            "transaction per member; frozen members keep theirs). Refused (409) while a market "
            "not yet settled holds members' shares. Undone only by a new season.",
        )

    def get_permissions(self) -> list:
        if self.request.method == "POST":
            return [IsModerator()]
        return super().get_permissions()

    @extend_schema(
        operation_id="seasons_list", responses={200: SeasonListOutput, **ERRORS}, tags=["seasons"]
    )
    def get(self, request: Request) -> Response:
        seasons = seasons_list(guild_id=request_guild_id(request))
        return Response({"seasons": [_season(s) for s in seasons]})

    @extend_schema(
        operation_id="seasons_start",
        request=StartInput,
        responses={201: SeasonOutput, 200: SeasonOutput, **WRITE_ERRORS},
        tags=["moderation"],
        description="End the open season (its standings are archived) and start the next. "
        f"Send an {IDEMPOTENCY_HEADER} header so a retry starts one season.",
    )
    def post(self, request: Request) -> Response:
        body = self.StartInput(data=request.data)
        body.is_valid(raise_exception=True)
        guild_id = request_guild_id(request)
        key = request_idempotency_key(request)
        started = season_start(
            guild_id=guild_id,
            actor=request_actor(request),
            is_moderator=True,  # IsModerator asked Discord for this request
            reset=body.validated_data["reset"],
            idempotency_key=f"api:{guild_id}:{key or uuid.uuid4().hex}",
        )
        code = status.HTTP_200_OK if started.replayed else status.HTTP_201_CREATED
        return Response(_season(started.season), status=code)


class SeasonStandingsView(APIView):
    class Params(serializers.Serializer):
        limit = serializers.IntegerField(min_value=1, max_value=100, default=10)

    @extend_schema(
        operation_id="seasons_standings",
        parameters=[Params],
        # 409: the season is still going (its board is the leaderboard's period=season).
        responses={200: StandingsOutput, **ERRORS, 409: WRITE_ERRORS[409]},
        tags=["seasons"],
    )
    def get(self, request: Request, number: int) -> Response:
        params = self.Params(data=request.query_params)
        params.is_valid(raise_exception=True)
        member = getattr(request.user, "member", None)
        archived = season_standings(
            guild_id=request_guild_id(request),
            number=number,
            limit=params.validated_data["limit"],
            member_id=member.pk if member is not None else None,
        )
        return Response(
            {
                "season": _season(archived.season),
                "members": archived.members,
                "rows": [_standing(r) for r in archived.rows],
                "me": _standing(archived.own),
            }
        )
