"""Trades and positions, read-only: they only change through trading and settlement."""

from __future__ import annotations

from collections.abc import Iterator

from django.contrib import admin
from django.db.models import QuerySet

from betting.models import Position, Trade
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
