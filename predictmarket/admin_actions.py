"""Admin actions that ask for input (a reason, an amount) on a confirmation page.

The action's work is done by a service; each object's result or domain error is
reported with a message. Used by every app's admin.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from predictmarket.errors import DomainError


def admin_actor(request: HttpRequest) -> str:
    return f"admin:{request.user.get_username()}"


def form_action(
    *,
    name: str,
    description: str,
    form_class: type[forms.Form] | Callable[[QuerySet, HttpRequest], type[forms.Form]],
    perform: Callable[[HttpRequest, Model, dict[str, Any]], str],
    submit_label: str = "Confirm",
    permissions: tuple[str, ...] = ("change",),
) -> Callable[..., HttpResponse | None]:
    """Build an admin action: show ``form_class``, then call ``perform`` per object.

    ``form_class`` may be a function of the selected objects and the request
    returning the form class (for choices that depend on them, like a market's
    outcomes, or text that depends on who is acting).
    """

    @admin.action(description=description, permissions=permissions)
    def action(
        modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet
    ) -> HttpResponse | None:
        if not queryset.exists():
            # The selection is read through the admin's (guild-scoped) queryset: ids of
            # another guild's objects posted into the form select nothing, and say so.
            modeladmin.message_user(
                request,
                "Nothing was done: none of the selected items is one you may change "
                "(another server's items are not yours to change).",
                messages.ERROR,
            )
            return None
        factory = form_class
        if not (isinstance(factory, type) and issubclass(factory, forms.Form)):
            factory = factory(queryset, request)
        form = factory(request.POST if request.POST.get("confirm") == "yes" else None)
        if form.is_bound and form.is_valid():
            for obj in queryset:
                try:
                    result = perform(request, obj, form.cleaned_data)
                except DomainError as exc:
                    modeladmin.message_user(request, f"{obj}: {exc.message}", messages.ERROR)
                else:
                    modeladmin.message_user(request, f"{obj}: {result}", messages.SUCCESS)
            return None
        context = {
            **modeladmin.admin_site.each_context(request),
            "title": description,
            "description": description,
            "opts": modeladmin.model._meta,
            "queryset": queryset,
            "form": form,
            "action": name,
            "submit_label": submit_label,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/action_form.html", context)

    action.__name__ = name
    return action
