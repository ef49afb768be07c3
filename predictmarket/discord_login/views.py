"""Pages of signing in that are not allauth's: "not configured"."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def signin_configured() -> bool:
    return bool(settings.DISCORD_OAUTH_CLIENT_ID and settings.DISCORD_OAUTH_CLIENT_SECRET)


def signin_not_configured(request: HttpRequest) -> HttpResponse:
    # 503: the site works, this one feature waits for its operator.
    return render(request, "site/signin_not_configured.html", status=503)
