from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from betting import public_views
from predictmarket import health, landing
from predictmarket.api.urls import v1

urlpatterns = [
    path("", landing.landing, name="landing"),
    # Sign in with Discord (allauth: the provider's login and callback, logout, errors).
    path("accounts/", include("allauth.urls")),
    path("health/live", health.live, name="health-live"),
    path("health/ready", health.ready, name="health-ready"),
    path("admin/", admin.site.urls),
    path("api/v1/", include((v1, "api"), namespace="v1")),
    path("api/", include("predictmarket.api.urls")),
    # The members' web app (signed in with Discord): their servers' markets and trading.
    path("app/", include("webapp.urls")),
    path("g/<int:guild_id>/", public_views.guild_markets, name="public-markets"),
    path(
        "g/<int:guild_id>/markets/<int:market_id>/",
        public_views.market_page,
        name="public-market",
    ),
    path("g/<int:guild_id>/leaderboard/", public_views.leaderboard_page, name="public-leaderboard"),
    path("", include("django_prometheus.urls")),
]
