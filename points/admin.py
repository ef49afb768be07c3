"""Admin for guild settings, members (with moderator actions) and the read-only ledger."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Model
from django.http import HttpRequest
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path

from points.api_tokens import api_token_issue, api_token_revoke
from points.drip.secrets import masked
from points.drip.services import guild_connect_drip, guild_use_local_points
from points.models import (
    Account,
    DripTransfer,
    Guild,
    LedgerEntry,
    LedgerTransaction,
    Member,
    PointsBackend,
)
from points.services import (
    GUILD_SETTINGS,
    guild_ensure,
    guild_update_settings,
    member_set_frozen,
    points_deduct,
    points_grant,
)
from predictmarket.admin import ReadOnlyAdmin
from predictmarket.admin_actions import admin_actor, form_action
from predictmarket.console.csv_export import CsvExportMixin
from predictmarket.console.scoping import (
    GuildScopedAdmin,
    GuildScopedInline,
    console_scope,
    is_operator,
)
from predictmarket.discord_login.memberships import managed_guilds
from predictmarket.errors import DomainError


class GuildForm(forms.ModelForm):
    drip_api_key = forms.CharField(
        label="DRIP API key",
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Stored encrypted and never shown again; leave empty to keep the current key.",
    )

    class Meta:
        model = Guild
        fields = [
            "id",
            "name",
            *GUILD_SETTINGS,
            "points_backend",
            "drip_realm_id",
            "drip_currency_id",
        ]
        help_texts = {
            "min_resolution_votes": "Agreeing votes that decide a market, one per person "
            "(Discord, the API and a linked staff user in the admin are the same person). "
            "Copied onto each new market: a change affects new markets only.",
            "auto_refund_hours": "Hours after closing before an undecided market is unwound "
            "automatically. Copied onto each new market: a change affects new markets only.",
            "correction_window_hours": "Hours after a market is decided during which "
            "moderators may correct its result (to another answer, or to cancel) by the same "
            "votes; 0 turns corrections off. Copied onto each new market.",
            "resolvers_binary": "Who may resolve (and correct) a market with two answers "
            "besides moderators: its creator, or an arbitrator named when it is created. One "
            "holding shares needs a moderator to agree. Copied onto each new market.",
            "resolvers_multiple": "The same for markets with 3 to 10 answers.",
            "closing_soon_lead_minutes": "Minutes before a market closes when it is announced "
            "as closing soon (at most 10,080, a week); 0 turns it off. Applies to markets "
            "already open too.",
        }


@admin.register(Guild)
class GuildAdmin(GuildScopedAdmin):
    """Guild settings. Saving goes through the services (validated and audited).

    A moderator configures their own guilds; only operators add one (a guild
    appears when the bot is first used in it).
    """

    guild_lookup = "pk"
    moderator_permissions = frozenset({"view", "change"})
    form = GuildForm

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Settings change only for the server's managers (owner, Manage Server), as /config set.

        The moderator role alone shows them read-only: otherwise a role-only
        moderator could set the moderator role to @everyone, one vote to decide,
        or the points backend.
        """
        if not super().has_change_permission(request, obj) or is_operator(request):
            return super().has_change_permission(request, obj)
        managed = managed_guilds(request)
        return obj.pk in managed if obj is not None else bool(managed)

    list_display = [
        "id",
        "name",
        "points_backend",
        "fee_bps",
        "min_resolution_votes",
        "public_pages",
    ]
    search_fields = ["name", "=id"]
    readonly_fields = ["created_at", "updated_at", "drip_api_key_stored"]
    fieldsets = [
        (None, {"fields": ["id", "name"]}),
        ("Discord", {"fields": ["moderator_role_id", "announcement_channel_id"]}),
        (
            "Announcements and threads",
            {
                "fields": ["announce_new_markets", "closing_soon_lead_minutes", "market_threads"],
                "description": "New markets and markets closing soon are announced in the "
                "announcement channel (nothing is posted without one). A closing-soon notice "
                "is posted once per market, this many minutes before it closes; 0 turns it "
                "off. With market threads on, each market the bot posts gets a thread that "
                "holds its live message, and the market's updates (closing soon, result, "
                "correction, refund) are posted there too.",
            },
        ),
        (
            "Points",
            {"fields": ["starting_balance", "daily_amount", "transfers_enabled"]},
        ),
        (
            "Markets",
            {
                "fields": [
                    "min_bet",
                    "max_bet",
                    "default_liquidity",
                    "fee_bps",
                    "min_resolution_votes",
                    "auto_refund_hours",
                    "correction_window_hours",
                    "resolvers_binary",
                    "resolvers_multiple",
                    "public_pages",
                ],
                "description": "A new market copies its fee, liquidity, resolution votes, "
                "auto-refund delay, correction window and who-resolves rule from here; "
                "changing them affects new markets only. A "
                "cancelled or automatically refunded market is unwound: members who are down "
                "get their loss back, members who are up give their gain back as far as their "
                "balance holds, and the house loses at most the market's liquidity.",
            },
        ),
        (
            "Points backend",
            {
                "fields": [
                    "points_backend",
                    "drip_realm_id",
                    "drip_api_key",
                    "drip_api_key_stored",
                    "drip_currency_id",
                ],
                "description": "Local keeps points in this project's ledger; DRIP keeps them "
                "in drip.re (bets debit DRIP, payouts and refunds are credited back). The "
                "backend, realm or currency can change only when every market is settled and "
                "every DRIP transfer delivered; a new API key can be entered at any time.",
            },
        ),
        ("Times", {"fields": ["created_at", "updated_at"]}),
    ]

    @admin.display(description="stored DRIP API key")
    def drip_api_key_stored(self, guild: Guild) -> str:
        return masked(guild.drip_api_key_encrypted)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # The Discord id is the primary key: fixed once the guild exists.
        return [*self.readonly_fields, "id"] if obj else list(self.readonly_fields)

    def save_model(self, request: HttpRequest, obj: Guild, form: Any, change: bool) -> None:
        actor = admin_actor(request)
        data = form.cleaned_data
        if not change or "name" in form.changed_data:
            guild_ensure(guild_id=obj.pk, name=obj.name)
        changes = {
            name: data[name] for name in GUILD_SETTINGS if name in form.changed_data or not change
        }
        if changes:
            guild_update_settings(guild_id=obj.pk, actor=actor, **changes)
        backend_fields = {"points_backend", "drip_realm_id", "drip_api_key", "drip_currency_id"}
        if backend_fields & set(form.changed_data):
            if data["points_backend"] == PointsBackend.DRIP:
                guild_connect_drip(
                    guild_id=obj.pk,
                    realm_id=data["drip_realm_id"],
                    api_key=data.get("drip_api_key") or None,
                    currency_id=data.get("drip_currency_id", ""),
                    actor=actor,
                )
            elif change:
                guild_use_local_points(guild_id=obj.pk, actor=actor)
        obj.refresh_from_db()

    def changeform_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().changeform_view(request, *args, **kwargs)
        except DomainError as exc:
            # Nothing was saved (the services validate before writing).
            self.message_user(request, exc.message, messages.ERROR)
            return redirect(request.path)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a guild's ledger is kept for ever


class AmountReasonForm(forms.Form):
    amount = forms.IntegerField(min_value=1, help_text="Whole points.")
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 3}))


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 3}))


def _grant(request: HttpRequest, member: Model, data: dict[str, Any]) -> str:
    txn = points_grant(
        member=member, amount=data["amount"], reason=data["reason"], actor=admin_actor(request)
    )
    return f"granted {data['amount']} points (transaction #{txn.pk})"


def _deduct(request: HttpRequest, member: Model, data: dict[str, Any]) -> str:
    txn = points_deduct(
        member=member, amount=data["amount"], reason=data["reason"], actor=admin_actor(request)
    )
    return f"deducted {data['amount']} points (transaction #{txn.pk})"


class ApiKeyForm(forms.Form):
    moderator = forms.BooleanField(
        required=False,
        label="Issued to a moderator",
        help_text="Shown with the key, and lets it skip the rate limits while Discord says the "
        "member is a moderator. It grants nothing: the moderator endpoints (votes, close, "
        "cancel) ask Discord at each use whether the member still has the moderator role or "
        "Manage Server.",
    )


def _issue_key(request: HttpRequest, member: Model, data: dict[str, Any]) -> str:
    issued = api_token_issue(
        member=member, actor=admin_actor(request), issued_by_moderator=data["moderator"]
    )
    # Shown once, here; only its hash is stored. Any earlier key stops working.
    return f"new API key (copy it now, it is not shown again): {issued.key}"


def _revoke_keys(request: HttpRequest, member: Model, data: dict[str, Any]) -> str:
    revoked = api_token_revoke(member=member, actor=admin_actor(request))
    return "API key revoked" if revoked else "had no API key"


def _freeze(request: HttpRequest, member: Model, data: dict[str, Any]) -> str:
    member_set_frozen(member=member, frozen=True, reason=data["reason"], actor=admin_actor(request))
    return "frozen"


def _unfreeze(request: HttpRequest, member: Model, data: dict[str, Any]) -> str:
    member_set_frozen(
        member=member, frozen=False, reason=data["reason"], actor=admin_actor(request)
    )
    return "unfrozen"


@admin.register(Member)
class MemberAdmin(GuildScopedAdmin):
    guild_lookup = "guild_id"
    moderator_permissions = frozenset({"view", "change"})  # the actions need "change"
    list_display = ["display_name", "discord_id", "guild", "balance", "is_frozen", "created_at"]
    list_filter = ["is_frozen", "guild"]
    search_fields = ["display_name", "=discord_id"]
    list_select_related = ["guild", "account"]
    readonly_fields = [
        "guild",
        "discord_id",
        "display_name",
        "is_frozen",
        "frozen_reason",
        "last_daily_at",
        # The member's own choice (/notify on|off): shown, never set for them here.
        "notify_results",
        "created_at",
    ]
    actions = [
        form_action(
            name="grant_points",
            description="Grant points",
            form_class=AmountReasonForm,
            perform=_grant,
            submit_label="Grant",
        ),
        form_action(
            name="deduct_points",
            description="Deduct points",
            form_class=AmountReasonForm,
            perform=_deduct,
            submit_label="Deduct",
        ),
        form_action(
            name="issue_api_key",
            description="Issue (or regenerate) an API key",
            form_class=ApiKeyForm,
            perform=_issue_key,
            submit_label="Issue key",
        ),
        form_action(
            name="revoke_api_keys",
            description="Revoke API keys",
            form_class=forms.Form,
            perform=_revoke_keys,
            submit_label="Revoke",
        ),
        form_action(
            name="freeze_members",
            description="Freeze (no betting, transfers or claims)",
            form_class=ReasonForm,
            perform=_freeze,
            submit_label="Freeze",
        ),
        form_action(
            name="unfreeze_members",
            description="Unfreeze",
            form_class=ReasonForm,
            perform=_unfreeze,
            submit_label="Unfreeze",
        ),
    ]

    @admin.display(description="balance")
    def balance(self, member: Member) -> int:
        return member.account.balance

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # members appear on first use in Discord

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class EntryInline(GuildScopedInline, admin.TabularInline):
    model = LedgerEntry
    fields = ["account", "amount", "balance_after"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin, GuildScopedAdmin):
    guild_lookup = "guild_id"
    list_display = ["id", "kind", "label", "guild", "member", "balance"]
    list_filter = ["kind", "guild"]
    search_fields = ["label", "=member__discord_id", "=id"]
    list_select_related = ["guild", "member"]


def _member_discord_id(account: Account) -> str:
    return str(account.member.discord_id) if account.member else ""


@admin.register(LedgerTransaction)
class LedgerTransactionAdmin(CsvExportMixin, ReadOnlyAdmin, GuildScopedAdmin):
    """The ledger; its CSV export has one line per entry (a transaction's legs)."""

    guild_lookup = "guild_id"
    ordering = ["-id"]  # newest first, and a stable order for pages and autocomplete
    list_display = ["id", "created_at", "kind", "guild", "actor", "memo"]
    list_filter = ["kind", "guild"]
    search_fields = ["idempotency_key", "actor", "memo"]
    date_hierarchy = "created_at"
    inlines = [EntryInline]
    list_select_related = ["guild"]
    csv_columns = [
        ("transaction_id", lambda e: e.transaction_id),
        ("created_at", lambda e: e.transaction.created_at),
        ("guild_id", lambda e: str(e.transaction.guild_id)),
        ("kind", lambda e: e.transaction.kind),
        ("actor", lambda e: e.transaction.actor),
        ("memo", lambda e: e.transaction.memo),
        ("account_id", lambda e: e.account_id),
        ("account", lambda e: str(e.account)),
        ("member_discord_id", lambda e: _member_discord_id(e.account)),
        ("amount", lambda e: e.amount),
        ("balance_after", lambda e: e.balance_after),
    ]

    def csv_rows(self, queryset: Any) -> Any:
        return (
            LedgerEntry.objects.filter(transaction__in=queryset.order_by().values("pk"))
            .select_related("transaction", "account", "account__member")
            .order_by("transaction_id", "id")
            .iterator(chunk_size=500)
        )


@admin.register(DripTransfer)
class DripTransferAdmin(ReadOnlyAdmin, GuildScopedAdmin):
    """Every change asked of DRIP; ambiguous ones need a person (see the reconciliation).

    *Sending* means the request was sent and its outcome not recorded yet: the
    delivery task settles it from the member's balance after a short delay.
    """

    list_display = [
        "created_at",
        "guild",
        "member",
        "purpose",
        "subject",
        "amount",
        "status",
        "attempts",
        "sent_at",
        "last_error",
    ]
    list_filter = ["status", "purpose", "guild"]
    search_fields = ["idempotency_key", "=member__discord_id", "member__display_name"]
    guild_lookup = "guild_id"
    list_select_related = ["guild", "member"]
    change_list_template = "admin/points/driptransfer/change_list.html"

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view(self.reconciliation_view)
        return [path("reconcile/", view, name="points_drip_reconcile"), *super().get_urls()]

    def reconciliation_view(self, request: HttpRequest) -> Any:
        """Runs the DRIP reconciliation now and shows drift (nothing is changed).

        A moderator reconciles their own guilds only.
        """
        from points.drip.reconciliation import drip_reconcile_all, drip_reconcile_guild

        if not self.has_view_permission(request):
            raise PermissionDenied
        scope = console_scope(request)
        if scope is None:
            reports = drip_reconcile_all()
        else:
            guilds = Guild.objects.filter(pk__in=scope, points_backend=PointsBackend.DRIP)
            reports = [drip_reconcile_guild(guild) for guild in guilds.order_by("pk")]
        context = {
            **self.admin_site.each_context(request),
            "title": "DRIP reconciliation",
            "opts": self.model._meta,
            "reports": reports,
        }
        return TemplateResponse(request, "admin/points/drip_reconciliation.html", context)
