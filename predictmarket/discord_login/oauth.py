"""allauth's Discord OAuth2 adapter with Discord's URLs taken from settings."""

from __future__ import annotations

from typing import Any

from allauth.socialaccount.adapter import get_adapter
from allauth.socialaccount.providers.discord.views import (
    DiscordOAuth2Adapter as AllauthDiscordAdapter,
)
from allauth.socialaccount.providers.oauth2.views import OAuth2CallbackView, OAuth2LoginView
from django.conf import settings
from django.http import HttpRequest


class DiscordOAuth2Adapter(AllauthDiscordAdapter):
    """Authorize on ``DISCORD_OAUTH_AUTHORIZE_URL``; token and user under ``DISCORD_API_BASE_URL``.

    Read on each use (properties, not class attributes) so a test's settings
    override reaches them.
    """

    @property
    def authorize_url(self) -> str:  # type: ignore[override]
        return settings.DISCORD_OAUTH_AUTHORIZE_URL

    @property
    def access_token_url(self) -> str:  # type: ignore[override]
        return f"{settings.DISCORD_API_BASE_URL}/oauth2/token"

    @property
    def profile_url(self) -> str:  # type: ignore[override]
        return f"{settings.DISCORD_API_BASE_URL}/users/@me"

    def get_callback_url(self, request: HttpRequest, app: Any) -> str:
        # The exact URL registered in Discord's developer portal, not one built from
        # the request's Host header (which a proxy may rewrite).
        return settings.DISCORD_OAUTH_REDIRECT_URL

    def complete_login(self, request: HttpRequest, app: Any, token: Any, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {token.token}"}
        with get_adapter().get_requests_session() as session:
            response = session.get(self.profile_url, headers=headers)
            # A 401 or a 5xx is a failed sign-in, not a profile without an id.
            response.raise_for_status()
            extra_data = response.json()
        return self.get_provider().sociallogin_from_response(request, extra_data)


oauth2_login = OAuth2LoginView.adapter_view(DiscordOAuth2Adapter)
oauth2_callback = OAuth2CallbackView.adapter_view(DiscordOAuth2Adapter)
