"""Trades and positions, read-only: they only change through trading and settlement."""

from __future__ import annotations

from django.contrib import admin

from betting.models import Position, Trade
from predictmarket.admin import ReadOnlyAdmin


@admin.register(Trade)
class TradeAdmin(ReadOnlyAdmin):
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


@admin.register(Position)
class PositionAdmin(ReadOnlyAdmin):
    list_display = ["member", "market", "outcome", "shares", "points_spent", "points_received"]
    search_fields = ["=market__id", "member__display_name", "=member__discord_id"]
    list_select_related = ["market", "member", "outcome"]
