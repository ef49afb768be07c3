"""The provider's URLs (allauth includes them under ``accounts/``), guarded by the settings."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import path

from predictmarket.discord_login import oauth
from predictmarket.discord_login.views import signin_configured, signin_not_configured


def _when_configured(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Without a client id and secret, a page that says so instead of allauth's 500."""

    @wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not signin_configured():
            return signin_not_configured(request)
        return view(request, *args, **kwargs)

    return guarded


urlpatterns = [
    path("discord/login/", _when_configured(oauth.oauth2_login), name="discord_login"),
    path(
        "discord/login/callback/",
        _when_configured(oauth.oauth2_callback),
        name="discord_callback",
    ),
]
