"""REST API for markets: browse, create, and the moderators' lifecycle actions."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from markets.descriptions import market_description_edit
from markets.models import Market, MarketStatus
from markets.resolvers import market_resolver
from markets.selectors import market_list, market_price_history
from markets.services import (
    market_cancel,
    market_close,
    market_create,
    market_get,
    resolution_vote,
)
from markets.snapshots import (
    MarketSnapshot,
    cached_market_ids,
    market_snapshot,
    market_snapshots,
)
from markets.validation import DESCRIPTION_MAX, MAX_OPTIONS
from markets.voters import discord_voter
from points.models import Member, ResolverRule
from points.services import member_ensure
from points.snowflakes import parse_snowflake
from predictmarket.api.auth import MemberPrincipal
from predictmarket.api.context import (
    IsMember,
    IsModerator,
    existing_id,
    is_moderator,
    may_bypass_rate_limits,
    request_actor,
    request_guild_id,
    request_member,
    request_voter,
)
from predictmarket.api.idempotency import IDEMPOTENCY_HEADER, request_idempotency_key
from predictmarket.api.output import represent, represent_many
from predictmarket.api.pagination import PageParams, Pagination, page_of
from predictmarket.api.schema import ERRORS, WRITE_ERRORS
from predictmarket.discord_api import guild_member_name
from predictmarket.errors import ValidationFailed
from predictmarket.http_cache import combined_etag, mark_cacheable, not_modified

OUTCOME_QUANTUM = Decimal("0.000001")


class OutcomeOutput(serializers.Serializer):
    index = serializers.IntegerField()
    label = serializers.CharField()
    probability = serializers.DecimalField(max_digits=10, decimal_places=6)
    is_winner = serializers.BooleanField()


class MarketSummary(serializers.Serializer):
    id = serializers.IntegerField()
    question = serializers.CharField()
    category = serializers.CharField()
    status = serializers.ChoiceField(choices=MarketStatus.choices)
    opens_at = serializers.DateTimeField()
    closes_at = serializers.DateTimeField()
    volume = serializers.IntegerField()
    version = serializers.IntegerField(
        help_text="Bumped by every trade and lifecycle change; pass it as min_version"
    )


class DescriptionVersionOutput(serializers.Serializer):
    version = serializers.IntegerField()
    text = serializers.CharField(allow_blank=True)
    by = serializers.CharField(help_text="Who wrote this version")
    at = serializers.DateTimeField()


class ResolverOutput(serializers.Serializer):
    rule = serializers.ChoiceField(
        choices=ResolverRule.choices,
        help_text="Who may resolve it besides moderators (copied from the server at creation)",
    )
    member = serializers.CharField(
        allow_null=True,
        help_text="The creator's or arbitrator's display name, when the rule names one",
    )
    discord_id = serializers.CharField(allow_null=True)


class HistoryStepOutput(serializers.Serializer):
    text = serializers.CharField(help_text='"resolved Yes", then "corrected to resolved No", …')
    at = serializers.DateTimeField(allow_null=True)
    by = serializers.ListField(
        child=serializers.CharField(), help_text="The people whose votes decided it"
    )


class MarketOutput(MarketSummary):
    description = serializers.CharField()
    description_edited = serializers.BooleanField()
    description_history = DescriptionVersionOutput(
        many=True, help_text="Every version, oldest first; empty when never edited"
    )
    resolver = ResolverOutput()
    creator = serializers.CharField(help_text="The creator's display name")
    resolved_at = serializers.DateTimeField(allow_null=True)
    settled_at = serializers.DateTimeField(allow_null=True)
    liquidity = serializers.IntegerField()
    fee_bps = serializers.IntegerField()
    traders = serializers.IntegerField()
    trades = serializers.IntegerField()
    accepting_bets = serializers.BooleanField()
    seconds_left = serializers.IntegerField(allow_null=True)
    outcomes = OutcomeOutput(many=True)
    history = HistoryStepOutput(
        many=True, help_text="The market's decisions, first to last (corrections included)"
    )
    history_text = serializers.CharField(
        help_text='The history in one line: "resolved Yes, corrected to resolved No by …"'
    )
    correctable_until = serializers.DateTimeField(
        allow_null=True, help_text="Until when moderators may still correct the result"
    )


def _summary(snapshot: MarketSnapshot) -> dict[str, object]:
    return {
        "id": snapshot.market_id,
        "question": snapshot.question,
        "category": snapshot.category,
        "status": snapshot.status,
        "opens_at": snapshot.opens_at,
        "closes_at": snapshot.closes_at,
        "volume": snapshot.volume,
        "version": snapshot.version,
    }


def market_output(snapshot: MarketSnapshot) -> dict[str, object]:
    time_left = snapshot.time_left()
    return represent(
        MarketOutput,
        {
            **_summary(snapshot),
            "description": snapshot.description,
            "description_edited": bool(snapshot.description_history),
            "description_history": [
                {"version": v.number, "text": v.text, "by": v.by, "at": v.at}
                for v in snapshot.description_history
            ],
            "resolver": {
                "rule": snapshot.resolver_rule,
                "member": snapshot.resolver_name,
                "discord_id": (
                    str(snapshot.resolver_discord_id) if snapshot.resolver_discord_id else None
                ),
            },
            "creator": snapshot.creator_name,
            "resolved_at": snapshot.resolved_at,
            "settled_at": snapshot.settled_at,
            "liquidity": snapshot.liquidity,
            "fee_bps": snapshot.fee_bps,
            "traders": snapshot.traders,
            "trades": snapshot.trades,
            "accepting_bets": snapshot.accepting_bets(),
            "seconds_left": int(time_left.total_seconds()) if time_left else None,
            "outcomes": [
                {
                    "index": o.index,
                    "label": o.label,
                    "probability": o.probability.quantize(OUTCOME_QUANTUM),
                    "is_winner": o.is_winner,
                }
                for o in snapshot.outcomes
            ],
            "history": [
                {"text": step.text, "at": step.at, "by": step.by} for step in snapshot.history
            ],
            "history_text": snapshot.history_text,
            "correctable_until": snapshot.correctable_until,
        },
    )


def market_output_after(guild_id: int, market_id: int, version: int) -> dict[str, object]:
    """The market as a write just left it (or newer): never an older cached copy."""
    return market_output(
        market_snapshot(guild_id=guild_id, market_id=market_id, min_version=version)
    )


MIN_VERSION_HEADER = "X-Min-Version"
MAX_VERSION = 2**63 - 1


def request_min_version(request: Request) -> int | None:
    """``?min_version=`` or the ``X-Min-Version`` header: the response is at least this fresh."""
    raw = request.query_params.get("min_version") or request.headers.get(MIN_VERSION_HEADER)
    if raw is None or raw == "":
        return None
    text = str(raw).strip()
    if not (text.isascii() and text.isdecimal()) or int(text) > MAX_VERSION:
        raise ValidationFailed(
            "min_version must be a whole number from 0 (a market_version you were given).",
            field="min_version",
        )
    return int(text)


class MarketListView(APIView):
    class Params(serializers.Serializer):
        status = serializers.ChoiceField(choices=MarketStatus.choices, required=False)
        category = serializers.CharField(max_length=50, required=False)
        search = serializers.CharField(
            max_length=200, required=False, help_text="Text in the question or options"
        )

    class CreateInput(serializers.Serializer):
        question = serializers.CharField(max_length=500, trim_whitespace=True)
        options = serializers.ListField(
            child=serializers.CharField(max_length=100), min_length=2, max_length=MAX_OPTIONS
        )
        duration_minutes = serializers.IntegerField(min_value=1, max_value=30 * 24 * 60)
        category = serializers.CharField(max_length=50, required=False, allow_blank=True)
        description = serializers.CharField(max_length=2000, required=False, allow_blank=True)
        arbitrator = serializers.CharField(
            required=False,
            max_length=20,
            help_text="Discord user id of the member who resolves it, when the server's rule "
            "for this kind of market (two answers, or three and more) is an arbitrator",
        )

    def get_permissions(self) -> list:
        if self.request.method == "POST":
            return [IsMember()]
        return super().get_permissions()

    @extend_schema(
        operation_id="markets_list",
        parameters=[Params, PageParams],
        responses={200: page_of("MarketPage", MarketSummary(many=True)), **ERRORS},
        tags=["markets"],
    )
    def get(self, request: Request) -> Response:
        params = self.Params(data=request.query_params)
        params.is_valid(raise_exception=True)
        guild_id = request_guild_id(request)
        filters = params.validated_data
        # Which markets (cached until one is created or changes status), then each
        # market's own numbers from its snapshot: no database when both are cached.
        ids = cached_market_ids(
            guild_id=guild_id,
            kind="market_list",
            filters=filters,
            load=lambda: market_list(guild_id=guild_id, **filters).values_list("pk", flat=True),
        )
        paginator = Pagination()
        page_ids = paginator.paginate_queryset(ids, request, view=self) or []
        snapshots = market_snapshots(guild_id=guild_id, market_ids=page_ids)
        etag = combined_etag(
            "markets",
            [len(ids), *(f"{s.market_id}:{s.version}" for s in snapshots)],
        )
        if (answer := not_modified(request, etag, private=True)) is not None:
            return answer
        response = paginator.get_paginated_response(
            represent_many(MarketSummary, [_summary(s) for s in snapshots])
        )
        return mark_cacheable(response, etag, private=True)

    @extend_schema(
        operation_id="markets_create",
        request=CreateInput,
        parameters=[IDEMPOTENCY_HEADER],
        responses={201: MarketOutput, **WRITE_ERRORS},
        examples=[
            OpenApiExample(
                "A two-way market",
                value={
                    "question": "Will it snow on Friday?",
                    "options": ["Yes", "No"],
                    "duration_minutes": 1440,
                    "category": "weather",
                },
                request_only=True,
            )
        ],
        tags=["markets"],
    )
    def post(self, request: Request) -> Response:
        data = self.CreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        member = request_member(request)
        key = request_idempotency_key(request)
        # One transaction: a refused market leaves no arbitrator member behind either.
        with transaction.atomic():
            arbitrator = _arbitrator(member, data.validated_data.get("arbitrator"))
            market = market_create(
                creator=member,
                question=data.validated_data["question"],
                options=data.validated_data["options"],
                duration=timedelta(minutes=data.validated_data["duration_minutes"]),
                category=data.validated_data.get("category", ""),
                description=data.validated_data.get("description", ""),
                arbitrator=arbitrator,
                actor=request_actor(request),
                idempotency_key=f"api:{member.pk}:{key}" if key else None,
                bypass_rate_limit=may_bypass_rate_limits(request),
            )
        return Response(
            market_output_after(market.guild_id, market.pk, market.version),
            status=status.HTTP_201_CREATED,
        )


def _arbitrator(creator: Member, raw: str | None) -> Member | None:
    """The member named as arbitrator: Discord must say they are in the creator's server."""
    if raw is None:
        return None
    discord_id = parse_snowflake(raw.strip(), field="arbitrator")
    name = guild_member_name(guild_id=creator.guild_id, user_id=discord_id)
    if name is None:
        raise ValidationFailed("The arbitrator is not a member of this server.", field="arbitrator")
    return member_ensure(guild_id=creator.guild_id, discord_id=discord_id, display_name=name)


class MarketDetailView(APIView):
    class Params(serializers.Serializer):
        min_version = serializers.IntegerField(
            min_value=0,
            required=False,
            help_text="Answer at least this fresh: a trade's market_version (or send the "
            "X-Min-Version header)",
        )

    @extend_schema(
        operation_id="markets_retrieve",
        parameters=[Params],
        responses={200: MarketOutput, 304: None, **ERRORS},
        tags=["markets"],
    )
    def get(self, request: Request, market_id: int) -> Response:
        snapshot = market_snapshot(
            guild_id=request_guild_id(request),
            market_id=existing_id(market_id),
            min_version=request_min_version(request),
        )
        etag = snapshot.etag()
        if (answer := not_modified(request, etag, private=True)) is not None:
            return answer
        return mark_cacheable(Response(market_output(snapshot)), etag, private=True)


class PricePointOutput(serializers.Serializer):
    at = serializers.DateTimeField()
    probabilities = serializers.ListField(
        child=serializers.DecimalField(max_digits=10, decimal_places=6),
        help_text="One per outcome, in outcome order",
    )


class MarketHistoryView(APIView):
    @extend_schema(
        operation_id="markets_history",
        responses={200: PricePointOutput(many=True), **ERRORS},
        tags=["markets"],
    )
    def get(self, request: Request, market_id: int) -> Response:
        market = market_get(market_id, guild_id=request_guild_id(request))
        return Response(
            PricePointOutput(
                [
                    {"at": p.at, "probabilities": p.probabilities}
                    for p in market_price_history(market)
                ],
                many=True,
            ).data
        )


def _market_or_none(market_id: int, guild_id: int) -> Market | None:
    """The guild's market, to tell whether the caller is its creator or resolver."""
    return (
        Market.objects.select_related("creator", "arbitrator")
        .filter(pk=market_id, guild_id=guild_id)
        .first()
    )


class VoteInput(serializers.Serializer):
    outcome = serializers.IntegerField(
        min_value=0,
        required=False,
        allow_null=True,
        help_text="0-based outcome index to resolve as (the first answer is 0)",
    )
    cancel = serializers.BooleanField(default=False, help_text="Vote to cancel and refund")

    def validate(self, attrs: dict) -> dict:
        if attrs.get("cancel") == (attrs.get("outcome") is not None):
            raise serializers.ValidationError("Give exactly one of outcome or cancel=true.")
        return attrs


class VoteOutput(serializers.Serializer):
    choice = serializers.CharField()
    votes_for_choice = serializers.IntegerField()
    votes_needed = serializers.IntegerField()
    decided = serializers.BooleanField()
    waiting_for_moderator = serializers.BooleanField(
        help_text="The market's creator or arbitrator voted but holds shares: a moderator "
        "must agree before it is decided"
    )
    market = MarketOutput()


class DescriptionInput(serializers.Serializer):
    description = serializers.CharField(
        max_length=DESCRIPTION_MAX, allow_blank=True, trim_whitespace=True
    )


class MarketDescriptionView(APIView):
    """Clarify the description: the creator until anyone else trades, moderators until decided."""

    @extend_schema(
        operation_id="markets_describe",
        request=DescriptionInput,
        responses={200: MarketOutput, **WRITE_ERRORS},
        tags=["markets"],
    )
    def post(self, request: Request, market_id: int) -> Response:
        guild_id = request_guild_id(request)
        market = _market_or_none(market_id, guild_id)
        member = request.user.member if isinstance(request.user, MemberPrincipal) else None
        own = market is not None and member is not None and market.creator_id == member.pk
        # The creator's own edit needs no moderator rights; anyone else's is asked about now.
        moderator = not own and is_moderator(request)
        if not (own or moderator):
            raise exceptions.PermissionDenied(
                "Only moderators or the market's creator can edit its description."
            )
        market_get(market_id, guild_id=guild_id)  # 404
        data = DescriptionInput(data=request.data)
        data.is_valid(raise_exception=True)
        edited = market_description_edit(
            market_id=market_id,
            description=data.validated_data["description"],
            actor=request_actor(request),
            actor_name=member.display_name if member else request.user.get_username(),
            is_moderator=moderator,
            member=member,
            guild_id=guild_id,
        )
        return Response(market_output_after(guild_id, edited.pk, edited.version))


class MarketVoteView(APIView):
    """Moderators vote; so may the market's creator or arbitrator when its rule names them."""

    correct = False

    @extend_schema(
        operation_id="markets_vote",
        request=VoteInput,
        responses={200: VoteOutput, **WRITE_ERRORS},
        tags=["moderation"],
    )
    def post(self, request: Request, market_id: int) -> Response:
        guild_id = request_guild_id(request)
        market = _market_or_none(market_id, guild_id)
        voter = request_voter(request)
        resolver = market_resolver(market) if market is not None else None
        as_resolver = resolver is not None and voter == discord_voter(resolver.discord_id)
        # The market's resolver needs no moderator rights; everyone else is asked about now,
        # and learns whether the market exists only if they moderate.
        moderator = not as_resolver and is_moderator(request)
        if not (as_resolver or moderator):
            raise exceptions.PermissionDenied(IsModerator.message)
        market_get(market_id, guild_id=guild_id)  # 404
        data = VoteInput(data=request.data)
        data.is_valid(raise_exception=True)
        result = resolution_vote(
            market_id=market_id,
            voter=voter,
            actor=request_actor(request),
            outcome_index=data.validated_data.get("outcome"),
            cancel=data.validated_data["cancel"],
            guild_id=guild_id,
            is_moderator=moderator,
            correct=self.correct,
        )
        return Response(
            VoteOutput(
                {
                    "choice": result.choice,
                    "votes_for_choice": result.votes_for_choice,
                    "votes_needed": result.votes_needed,
                    "decided": result.decided,
                    "waiting_for_moderator": result.waiting_for_moderator,
                    "market": market_output_after(guild_id, market_id, result.market.version),
                }
            ).data
        )


class MarketCorrectionVoteView(MarketVoteView):
    """A vote to correct a decided market: the same body, and the same who-may-decide rule."""

    correct = True

    @extend_schema(
        operation_id="markets_correct",
        summary="Vote to correct a decided market's result",
        description="Within the market's correction window, vote to change a resolved, "
        "cancelled or refunded market to another answer, or to cancel. The same number of "
        "agreeing votes as resolving decides it; the earlier payouts are then reversed and "
        "the new result paid. The market's creator or arbitrator may vote when its rule names "
        "them; one holding shares needs a moderator to agree.",
        request=VoteInput,
        responses={200: VoteOutput, **WRITE_ERRORS},
        tags=["moderation"],
    )
    def post(self, request: Request, market_id: int) -> Response:
        return super().post(request, market_id)


class MarketCloseView(APIView):
    permission_classes = [IsModerator]

    @extend_schema(
        operation_id="markets_close",
        request=None,
        responses={200: MarketOutput, **WRITE_ERRORS},
        tags=["moderation"],
    )
    def post(self, request: Request, market_id: int) -> Response:
        guild_id = request_guild_id(request)
        market = market_close(market_id=market_id, actor=request_actor(request), guild_id=guild_id)
        return Response(market_output_after(guild_id, market_id, market.version))


class MarketCancelView(APIView):
    permission_classes = [IsModerator]

    @extend_schema(
        operation_id="markets_cancel",
        request=None,
        responses={200: MarketOutput, **WRITE_ERRORS},
        tags=["moderation"],
    )
    def post(self, request: Request, market_id: int) -> Response:
        guild_id = request_guild_id(request)
        market = market_cancel(
            market_id=market_id,
            actor=request_actor(request),
            is_moderator=True,
            guild_id=guild_id,
        )
        return Response(market_output_after(guild_id, market_id, market.version))
