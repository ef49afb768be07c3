"""Trades and positions, read-only: they only change through trading and settlement."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from betting.models import Position, Season, SeasonStanding, Trade
from predictmarket.admin import ReadOnlyAdmin
from predictmarket.console.csv_export import CsvExportMixin
from predictmarket.console.scoping import GuildScopedAdmin


@admin.register(Trade)
class TradeAdmin(CsvExportMixin, ReadOnlyAdmin, GuildScopedAdmin):
    guild_lookup = "market__guild_id"
    list_display = ["id", "created_at", "market", "member", "side", "outcome", "points", "shares"]
    list_filter = ["side", "market__guild"]
    search_fields = [
        "=market__id",
        "member__display_name",
        "=member__discord_id",
        "idempotency_key",
    ]
    list_select_related = ["market", "member", "outcome"]
    date_hierarchy = "created_at"
    csv_columns = [
        ("id", lambda t: t.pk),
        ("created_at", lambda t: t.created_at),
        ("guild_id", lambda t: str(t.market.guild_id)),
        ("market_id", lambda t: t.market_id),
        ("question", lambda t: t.market.question),
        ("member_discord_id", lambda t: str(t.member.discord_id)),
        ("member", lambda t: t.member.display_name),
        ("side", lambda t: t.side),
        ("outcome", lambda t: t.outcome.label),
        ("points", lambda t: t.points),
        ("shares", lambda t: t.shares),
        ("average_price", lambda t: t.average_price),
        ("fee", lambda t: t.fee),
        ("idempotency_key", lambda t: t.idempotency_key),
    ]

    def csv_rows(self, queryset: QuerySet[Trade]) -> Iterator[Trade]:
        return queryset.select_related("market", "member", "outcome").iterator(chunk_size=500)


@admin.register(Position)
class PositionAdmin(ReadOnlyAdmin, GuildScopedAdmin):
    guild_lookup = "market__guild_id"
    list_display = ["member", "market", "outcome", "shares", "points_spent", "points_received"]
    search_fields = ["=market__id", "member__display_name", "=member__discord_id"]
    list_select_related = ["market", "member", "outcome"]


SEASONS_HELP = (
    "A moderator starts a season with /season start [reset] in Discord (or POST "
    "/api/v1/seasons/): the open season ends and its standings are archived (Season "
    "standings), and with reset every member's balance is brought to the starting balance "
    "(one ledger transaction per member; refused while an unsettled market holds members' "
    "shares; frozen members keep their balance). Read-only here: only a new season undoes a "
    "reset."
)


@admin.register(Season)
class SeasonAdmin(ReadOnlyAdmin, GuildScopedAdmin):
    guild_lookup = "guild_id"
    fieldsets = [
        (
            None,
            {
                "fields": ["guild", "number", "started_at", "ended_at", "started_by", "reset"],
                "description": SEASONS_HELP,
            },
        ),
        ("Ledger", {"fields": ["members_reset", "idempotency_key"]}),
    ]
    list_display = ["number", "guild", "started_at", "ended_at", "started_by", "reset"]
    list_filter = ["reset", "guild"]
    search_fields = ["=number", "started_by", "guild__name"]
    list_select_related = ["guild"]

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> Any:
        return super().changelist_view(request, {"subtitle": SEASONS_HELP, **(extra_context or {})})


@admin.register(SeasonStanding)
class SeasonStandingAdmin(ReadOnlyAdmin, GuildScopedAdmin):
    """An ended season's final places, written once when the next season started."""

    guild_lookup = "season__guild_id"
    list_display = ["season", "rank", "member", "profit", "balance"]
    list_filter = ["season__number", "season__guild"]
    search_fields = ["member__display_name", "=member__discord_id"]
    list_select_related = ["season", "member"]
    ordering = ["season", "rank", "member"]
