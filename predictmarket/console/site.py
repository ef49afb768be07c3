"""The project's admin site: operators as before, moderators in their own guilds only."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers

from predictmarket.console.scoping import GuildScopedAdmin, is_operator, moderated_guilds
from predictmarket.discord_login.memberships import DiscordSignInNeeded
from predictmarket.errors import ModeratorCheckUnavailable


class OperatorsOnly:
    """Mixed into every admin that is not guild-scoped: only operators reach it.

    Auth users and groups, allauth's social apps, tokens, accounts and email
    addresses, the outbox: nothing in them belongs to one guild, and most of
    them are other people's identities. A newly registered admin starts here
    too, until it is given a ``guild_lookup`` (default deny).
    """

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_operator(request) and super().has_module_permission(request)  # type: ignore[misc]

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_operator(request) and super().has_view_permission(request, obj)  # type: ignore[misc]

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return is_operator(request) and super().has_add_permission(request, *args)  # type: ignore[misc]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_operator(request) and super().has_change_permission(request, obj)  # type: ignore[misc]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_operator(request) and super().has_delete_permission(request, obj)  # type: ignore[misc]


class ConsoleAdminSite(admin.AdminSite):
    site_header = "predictmarket console"
    site_title = "predictmarket console"
    index_title = "Your servers"

    def register(self, model_or_iterable: Any, admin_class: Any = None, **options: Any) -> None:
        admin_class = admin_class or admin.ModelAdmin
        if not issubclass(admin_class, GuildScopedAdmin):
            admin_class = type(
                admin_class.__name__,
                (OperatorsOnly, admin_class),
                {"__module__": admin_class.__module__, "__doc__": admin_class.__doc__},
            )
        super().register(model_or_iterable, admin_class, **options)

    def has_permission(self, request: HttpRequest) -> bool:
        """Operators (active staff superusers), or someone Discord says moderates a guild here."""
        user = request.user
        if not (user.is_authenticated and user.is_active):
            return False
        if user.is_superuser:
            return bool(user.is_staff)
        try:
            return bool(moderated_guilds(request))
        except (DiscordSignInNeeded, ModeratorCheckUnavailable):
            if getattr(request, "_console_reports_failures", False):
                raise  # admin_view shows the reason
            return False  # the login page: "not authorized", never a 500

    def admin_view(self, view: Callable[..., HttpResponse], cacheable: bool = False) -> Any:
        inner = super().admin_view(view, cacheable)

        @wraps(view)
        def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            request._console_reports_failures = True  # type: ignore[attr-defined]
            try:
                return inner(request, *args, **kwargs)
            except DiscordSignInNeeded as exc:
                return _refused(request, exc.message, status=403)
            except ModeratorCheckUnavailable as exc:
                return _refused(request, exc.message, status=503)

        checked.admin_site = self  # type: ignore[attr-defined]  # as Django's own wrapper
        return checked


def _refused(request: HttpRequest, message: str, *, status: int) -> HttpResponse:
    # Nothing was done: the check comes before the view, for every request.
    response = render(request, "site/console_refused.html", {"message": message}, status=status)
    add_never_cache_headers(response)
    return response
