from __future__ import annotations

from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The cross-cutting core: errors, audit log, event outbox, rate limits."""

    name = "predictmarket"
    label = "core"
    verbose_name = "Core"
