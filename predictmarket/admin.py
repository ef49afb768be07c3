"""Admin for the core records: the audit log and the outbox (read-only), staff identities.

The audit log is guild-scoped (moderators see their guilds' entries, and export
them); the outbox and the users are for operators only (see predictmarket.console).
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.http import HttpRequest

from predictmarket.console.csv_export import CsvExportMixin
from predictmarket.console.scoping import GuildScopedAdmin
from predictmarket.models import AuditLogEntry, OutboxCursor, OutboxEvent, StaffDiscordLink


class ReadOnlyAdmin(admin.ModelAdmin):
    """Append-only records: visible to staff, never edited or deleted in the admin."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AuditLogEntry)
class AuditLogEntryAdmin(CsvExportMixin, ReadOnlyAdmin, GuildScopedAdmin):
    guild_lookup = "guild_id"  # entries without a guild (sign-in links) are operators' only
    list_display = ["created_at", "actor", "action", "guild_id", "target_type", "target_id"]
    list_filter = ["action", "target_type"]
    search_fields = ["actor", "action", "target_id", "request_id", "=guild_id"]
    date_hierarchy = "created_at"
    csv_columns = [
        ("id", lambda e: e.pk),
        ("created_at", lambda e: e.created_at),
        ("guild_id", lambda e: str(e.guild_id) if e.guild_id else ""),
        ("actor", lambda e: e.actor),
        ("action", lambda e: e.action),
        ("target_type", lambda e: e.target_type),
        ("target_id", lambda e: e.target_id),
        ("data", lambda e: json.dumps(e.data, sort_keys=True, default=str)),
        ("request_id", lambda e: e.request_id),
    ]


@admin.register(OutboxEvent)
class OutboxEventAdmin(ReadOnlyAdmin):
    list_display = ["id", "created_at", "kind", "guild_id", "aggregate_type", "aggregate_id"]
    list_filter = ["kind"]
    search_fields = ["=aggregate_id", "=guild_id"]


@admin.register(OutboxCursor)
class OutboxCursorAdmin(ReadOnlyAdmin):
    list_display = ["consumer", "position", "updated_at"]


class StaffDiscordLinkInline(admin.StackedInline):
    """Which Discord user a staff user is; only superusers may say so.

    It decides whose vote a staff user's admin vote is (one person, one vote), so
    a staff user must not set it for themself.
    """

    model = StaffDiscordLink
    fields = ["discord_id"]
    extra = 1  # the empty form is the way to add it
    max_num = 1
    can_delete = True

    def _superuser(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._superuser(request) or super().has_view_permission(request, obj)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._superuser(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._superuser(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._superuser(request)


# django.contrib.auth (listed before this app) registered its UserAdmin; extend it.
admin.site.unregister(get_user_model())


@admin.register(get_user_model())
class StaffUserAdmin(UserAdmin):
    """Django's user admin, with the user's Discord account (their votes count as that person)."""

    inlines = [*UserAdmin.inlines, StaffDiscordLinkInline]
