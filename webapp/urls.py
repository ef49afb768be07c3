"""The members' web app under ``/app/``: ``/app/g/<guild>/…`` for each of the person's servers."""

from __future__ import annotations

from django.urls import path

from webapp import trading, views

app_name = "webapp"

urlpatterns = [
    path("", views.home, name="home"),
    path("g/<int:guild_id>/", views.markets, name="markets"),
    path("g/<int:guild_id>/m/<int:market_id>/", views.market, name="market"),
    path("g/<int:guild_id>/m/<int:market_id>/odds/", views.odds, name="odds"),
    path("g/<int:guild_id>/m/<int:market_id>/buy/", trading.buy_quote, name="buy-quote"),
    path("g/<int:guild_id>/m/<int:market_id>/buy/confirm/", trading.buy_confirm, name="buy"),
    path("g/<int:guild_id>/m/<int:market_id>/sell/", trading.sell_quote_view, name="sell-quote"),
    path("g/<int:guild_id>/m/<int:market_id>/sell/confirm/", trading.sell_confirm, name="sell"),
    path("g/<int:guild_id>/portfolio/", views.portfolio, name="portfolio"),
    path("g/<int:guild_id>/history/", views.history, name="history"),
    path("g/<int:guild_id>/leaderboard/", views.leaderboard, name="leaderboard"),
]
