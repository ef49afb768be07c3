"""allauth adapters: sign-up only through Discord, the client from settings, the link kept."""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.shortcuts import render

from predictmarket.discord_login.services import (
    DiscordAlreadyLinked,
    LinkedToAnotherDiscord,
    discord_link_check,
    discord_link_ensure,
)


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        # No username-and-password accounts from the public: people sign in with
        # Discord, operators are made with createsuperuser.
        return False


def _refused(request: HttpRequest, error: DiscordAlreadyLinked) -> ImmediateHttpResponse:
    return ImmediateHttpResponse(
        render(request, "site/signin_refused.html", {"message": error.message}, status=409)
    )


class DiscordAccountAdapter(DefaultSocialAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest, sociallogin: Any) -> bool:
        return True

    def list_apps(
        self, request: HttpRequest, provider: Any = None, client_id: Any = None
    ) -> list[Any]:
        """The one Discord client, from ``DISCORD_OAUTH_CLIENT_ID``/``SECRET``, read now."""
        from allauth.socialaccount.models import SocialApp

        if provider not in (None, "discord"):
            return []
        if not (settings.DISCORD_OAUTH_CLIENT_ID and settings.DISCORD_OAUTH_CLIENT_SECRET):
            return []
        if client_id and client_id != settings.DISCORD_OAUTH_CLIENT_ID:
            return []
        return [
            SocialApp(
                provider="discord",
                name="Discord",
                client_id=settings.DISCORD_OAUTH_CLIENT_ID,
                secret=settings.DISCORD_OAUTH_CLIENT_SECRET,
            )
        ]

    def pre_social_login(self, request: HttpRequest, sociallogin: Any) -> None:
        """Before anyone is signed in: refuse a Discord user linked to another web user."""
        if sociallogin.state.get("process") == "connect":
            # Attaching a second Discord account to a signed-in user would let the
            # next sign-in with it stand for that user: one link per person, set once.
            raise _refused(request, LinkedToAnotherDiscord(discord_id=str(sociallogin.account.uid)))
        user_id = sociallogin.user.pk if sociallogin.is_existing else None
        try:
            discord_link_check(user_id=user_id, discord_id=int(sociallogin.account.uid))
            if sociallogin.is_existing:
                discord_link_ensure(user=sociallogin.user, discord_id=int(sociallogin.account.uid))
        except DiscordAlreadyLinked as error:
            raise _refused(request, error) from error

    def save_user(self, request: HttpRequest, sociallogin: Any, form: Any = None) -> Any:
        """A first sign-in: the new user is that Discord user from the start."""
        try:
            # One transaction: a sign-in that lost a race for the id leaves no user behind.
            with transaction.atomic():
                user = super().save_user(request, sociallogin, form)
                discord_link_ensure(user=user, discord_id=int(sociallogin.account.uid))
        except DiscordAlreadyLinked as error:
            raise _refused(request, error) from error
        return user
