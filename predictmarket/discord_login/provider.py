"""The Discord provider allauth registers: its own, with this project's adapter and scopes."""

from __future__ import annotations

from allauth.socialaccount.providers.discord.provider import DiscordProvider as AllauthDiscord
from django.conf import settings

from predictmarket.discord_login.oauth import DiscordOAuth2Adapter


class DiscordProvider(AllauthDiscord):
    oauth2_adapter_class = DiscordOAuth2Adapter
    # allauth imports the provider's URLs from this package (predictmarket.discord_login.urls).
    package = "predictmarket.discord_login"

    def get_default_scope(self) -> list[str]:
        # Not allauth's "email": the project needs who the person is and their servers only.
        return list(settings.DISCORD_OAUTH_SCOPES)


provider_classes = [DiscordProvider]
