from __future__ import annotations

from django.contrib.admin.apps import AdminConfig


class ConsoleAdminConfig(AdminConfig):
    """``django.contrib.admin`` with the console as ``admin.site`` (Django's documented way)."""

    default_site = "predictmarket.console.site.ConsoleAdminSite"
