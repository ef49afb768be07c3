from __future__ import annotations

import contextlib
from typing import Any

from django.apps import AppConfig


class DiscordLoginConfig(AppConfig):
    """Sign in with Discord (allauth finds ``provider.py`` in each installed app)."""

    name = "predictmarket.discord_login"
    label = "discord_login"
    verbose_name = "Sign in with Discord"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in, user_logged_out

        user_logged_in.connect(_ask_discord_at_sign_in, dispatch_uid="memberships_at_sign_in")
        user_logged_out.connect(_forget_at_sign_out, dispatch_uid="memberships_at_sign_out")


def _ask_discord_at_sign_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    """Signing in with Discord asks at once which servers the person is in and moderates."""
    from predictmarket.discord_login.memberships import (
        DiscordSignInNeeded,
        memberships_for,
        memberships_forget,
    )
    from predictmarket.errors import ModeratorCheckUnavailable

    if kwargs.get("sociallogin") is None and not _has_discord_account(user):
        return  # a password login (an operator): nothing to ask Discord
    memberships_forget(user=user)  # a new sign-in never reuses the last one's answer
    # The sign-in stands either way; the console asks again and says why it cannot.
    with contextlib.suppress(DiscordSignInNeeded, ModeratorCheckUnavailable):
        memberships_for(user=user, max_age=0)


def _has_discord_account(user: Any) -> bool:
    from allauth.socialaccount.models import SocialAccount

    return SocialAccount.objects.filter(user_id=user.pk, provider="discord").exists()


def _forget_at_sign_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    from predictmarket.discord_login.memberships import memberships_forget

    if user is not None:
        memberships_forget(user=user)
