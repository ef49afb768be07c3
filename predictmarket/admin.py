"""Admin for the core records: the audit log and the outbox, both read-only."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from predictmarket.models import AuditLogEntry, OutboxCursor, OutboxEvent


class ReadOnlyAdmin(admin.ModelAdmin):
    """Append-only records: visible to staff, never edited or deleted in the admin."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AuditLogEntry)
class AuditLogEntryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "actor", "action", "guild_id", "target_type", "target_id"]
    list_filter = ["action", "target_type"]
    search_fields = ["actor", "action", "target_id", "request_id", "=guild_id"]
    date_hierarchy = "created_at"


@admin.register(OutboxEvent)
class OutboxEventAdmin(ReadOnlyAdmin):
    list_display = ["id", "created_at", "kind", "guild_id", "aggregate_type", "aggregate_id"]
    list_filter = ["kind"]
    search_fields = ["=aggregate_id", "=guild_id"]


@admin.register(OutboxCursor)
class OutboxCursorAdmin(ReadOnlyAdmin):
    list_display = ["consumer", "position", "updated_at"]
