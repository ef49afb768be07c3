from __future__ import annotations

from django.apps import AppConfig


class DiscordLoginConfig(AppConfig):
    """Sign in with Discord (allauth finds ``provider.py`` in each installed app)."""

    name = "predictmarket.discord_login"
    label = "discord_login"
    verbose_name = "Sign in with Discord"
