"""One base for every ModelAdmin a moderator may use: everything limited to their guilds.

``console_scope(request)`` is ``None`` for an operator (a superuser: every
guild) and otherwise the ids of the guilds Discord says the person moderates
(asked by ``predictmarket.discord_login.memberships``, at most once per
request). ``GuildScopedAdmin`` applies it to each way the admin reaches rows:

* ``get_queryset`` — the change list, search, date drill-down, actions (Django
  picks an action's objects from it), autocomplete and the CSV export;
* object URLs — another guild's object is not found, and answers 404;
* list filters — a relation's choices are the related objects of the
  person's rows only (``ScopedRelatedListFilter``), a column's values
  likewise (``ScopedValuesListFilter``);
* forms — every model choice (a market's creator, any foreign key) is cut to
  the person's guilds, with the same rule applied to the related model.

A moderator's rights come from Discord, not from Django's model permissions:
they may do what ``moderator_permissions`` lists on their guilds' rows (view,
by default), and never delete.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.filters import AllValuesFieldListFilter, RelatedOnlyFieldListFilter
from django.contrib.admin.utils import get_fields_from_path
from django.db.models import Model, QuerySet
from django.forms import BaseForm
from django.http import Http404, HttpRequest

from predictmarket.discord_login.memberships import memberships_for


def is_operator(request: HttpRequest) -> bool:
    user = request.user
    return bool(user.is_active and user.is_staff and user.is_superuser)


def moderated_guilds(request: HttpRequest) -> frozenset[int]:
    """The guilds the signed-in person moderates, asked once per request.

    Fresh within ``MODERATOR_CONSOLE_REFRESH_SECONDS``, and asked of Discord
    anew for a POST (every action). Raises ``DiscordSignInNeeded`` or
    ``ModeratorCheckUnavailable`` when that cannot be told.
    """
    cached = getattr(request, "_console_guilds", None)
    if cached is not None:
        return cached
    max_age = 0 if request.method == "POST" else settings.MODERATOR_CONSOLE_REFRESH_SECONDS
    guilds = memberships_for(user=request.user, max_age=max_age).moderator_of
    request._console_guilds = guilds  # type: ignore[attr-defined]
    return guilds


def console_scope(request: HttpRequest) -> frozenset[int] | None:
    """``None`` (every guild) for an operator; else the guilds the person moderates."""
    if is_operator(request):
        return None
    if not (request.user.is_authenticated and request.user.is_active):
        return frozenset()
    return moderated_guilds(request)


class ScopedValuesListFilter(AllValuesFieldListFilter):
    """Django's "all values" filter, with the values read from the admin's own queryset.

    Django reads them from the whole table when the field is across a relation
    (``market__category``), which would list other guilds' values.
    """

    def __init__(
        self,
        field: Any,
        request: HttpRequest,
        params: Any,
        model: Any,
        model_admin: Any,
        field_path: str,
    ) -> None:
        super().__init__(field, request, params, model, model_admin, field_path)
        values = (
            model_admin.get_queryset(request)
            .distinct()
            .order_by(field_path)
            .values_list(field_path, flat=True)
        )
        self.lookup_choices = values


class ScopedRelatedListFilter(RelatedOnlyFieldListFilter):
    """Choices: the related objects of the person's own rows.

    Always applied: Django hides a filter with a single choice *and then
    ignores its parameter*, so ``?guild__id__exact=<another guild>`` would list
    the person's own rows instead of none.
    """

    def has_output(self) -> bool:
        return True


class GuildScopedAdmin(admin.ModelAdmin):
    """A ModelAdmin whose rows belong to a guild: ``guild_lookup`` is the ORM path to its id.

    Subclasses say which of ``view``, ``change``, ``add`` a moderator may do
    (``moderator_permissions``); read-only admins override the permission
    methods to refuse changes for everyone, which this respects.
    """

    guild_lookup: str = ""
    moderator_permissions: frozenset[str] = frozenset({"view"})

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.guild_lookup:
            raise TypeError(f"{cls.__name__} must set guild_lookup (the ORM path to its guild id)")

    # -- rows -----------------------------------------------------------------
    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return scope_queryset(super().get_queryset(request), self.guild_lookup, request)

    def object_guild_id(self, obj: Model) -> int | None:
        value: Any = obj
        for part in self.guild_lookup.split("__"):
            value = getattr(value, part, None)
            if value is None:
                return None
        return value.pk if isinstance(value, Model) else int(value)

    def _get_obj_does_not_exist_redirect(
        self, request: HttpRequest, opts: Any, object_id: str
    ) -> Any:
        # Django redirects to the index with "doesn't exist. Perhaps it was deleted?".
        # For a moderator another guild's object does not exist: a plain 404.
        if not is_operator(request):
            raise Http404("No such object in the guilds you moderate.")
        return super()._get_obj_does_not_exist_redirect(request, opts, object_id)

    # -- permissions: Discord's answer, not Django's model permissions ----------
    def _moderator_may(self, request: HttpRequest, permission: str, obj: Any = None) -> bool:
        if permission not in self.moderator_permissions:
            return False
        scope = console_scope(request)
        if not scope:
            return False
        return obj is None or self.object_guild_id(obj) in scope

    def has_module_permission(self, request: HttpRequest) -> bool:
        if is_operator(request):
            return super().has_module_permission(request)
        return self._moderator_may(request, "view")

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if is_operator(request):
            return super().has_view_permission(request, obj)
        return self._moderator_may(request, "view", obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if is_operator(request):
            return super().has_change_permission(request, obj)
        return self._moderator_may(request, "change", obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        if is_operator(request):
            return super().has_add_permission(request)
        return self._moderator_may(request, "add")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if is_operator(request):
            return super().has_delete_permission(request, obj)
        return False  # deleting bypasses the services; moderators never do

    # -- filters and forms ------------------------------------------------------
    def get_list_filter(self, request: HttpRequest) -> Any:
        filters = super().get_list_filter(request)
        if is_operator(request):
            return filters
        return [scoped_list_filter(self.model, item) for item in filters]

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        return scoped_form(form, request, self.admin_site)


class GuildScopedInline:
    """For inlines of a scoped admin: a moderator sees them with their parent, read-only."""

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if is_operator(request):
            return super().has_view_permission(request, obj)  # type: ignore[misc]
        parent = self.admin_site._registry.get(self.parent_model)  # type: ignore[attr-defined]
        return isinstance(parent, GuildScopedAdmin) and parent.has_view_permission(request, obj)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_operator(request) and super().has_add_permission(request, obj)  # type: ignore[misc]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_operator(request) and super().has_change_permission(request, obj)  # type: ignore[misc]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_operator(request) and super().has_delete_permission(request, obj)  # type: ignore[misc]


def scope_queryset(queryset: QuerySet, guild_lookup: str, request: HttpRequest) -> QuerySet:
    scope = console_scope(request)
    if scope is None:
        return queryset
    return queryset.filter(**{f"{guild_lookup}__in": sorted(scope)})


def scoped_list_filter(model: type[Model], item: Any) -> Any:
    """``list_filter`` entry for a moderator: relations and values read from their rows."""
    if not isinstance(item, str):
        return item  # a (field, FilterClass) pair or a SimpleListFilter: its own business
    field = get_fields_from_path(model, item)[-1]
    if field.is_relation:
        return (item, ScopedRelatedListFilter)
    if getattr(field, "flatchoices", None) or field.get_internal_type() == "BooleanField":
        return item  # fixed choices, the same in every guild
    return (item, ScopedValuesListFilter)


def scoped_form(form_class: type[BaseForm], request: HttpRequest, site: Any) -> type[BaseForm]:
    """``form_class`` with every model choice cut to the person's guilds (operators: as is)."""
    if is_operator(request):
        return form_class

    class ScopedForm(form_class):  # type: ignore[valid-type,misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            for field in self.fields.values():
                queryset = getattr(field, "queryset", None)
                if isinstance(queryset, QuerySet):
                    field.queryset = scoped_choices(queryset, request, site)

    ScopedForm.__name__ = form_class.__name__
    return ScopedForm


def scoped_choices(queryset: QuerySet, request: HttpRequest, site: Any) -> QuerySet:
    """Choices of a related model for a moderator: through its scoped admin, else none."""
    related = site._registry.get(queryset.model)
    if isinstance(related, GuildScopedAdmin):
        return scope_queryset(queryset, related.guild_lookup, request)
    return queryset.none()


__all__ = [
    "GuildScopedAdmin",
    "GuildScopedInline",
    "console_scope",
    "is_operator",
    "moderated_guilds",
]
