"""/api/v1/ routes, the OpenAPI schema and the interactive docs."""

from __future__ import annotations

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from betting import api as betting_api
from betting import season_api
from markets import api as markets_api
from points import api as points_api
from predictmarket.api.errors import api_not_found

v1 = [
    path("markets/", markets_api.MarketListView.as_view(), name="markets"),
    path("markets/<int:market_id>/", markets_api.MarketDetailView.as_view(), name="market"),
    path(
        "markets/<int:market_id>/history/",
        markets_api.MarketHistoryView.as_view(),
        name="market-history",
    ),
    path(
        "markets/<int:market_id>/trades/",
        betting_api.MarketTradesView.as_view(),
        name="market-trades",
    ),
    path("markets/<int:market_id>/quote/", betting_api.QuoteView.as_view(), name="market-quote"),
    path("markets/<int:market_id>/bets/", betting_api.BetView.as_view(), name="market-bets"),
    path("markets/<int:market_id>/sell/", betting_api.SellView.as_view(), name="market-sell"),
    path(
        "markets/<int:market_id>/votes/", markets_api.MarketVoteView.as_view(), name="market-votes"
    ),
    path(
        "markets/<int:market_id>/description/",
        markets_api.MarketDescriptionView.as_view(),
        name="market-description",
    ),
    path(
        "markets/<int:market_id>/corrections/",
        markets_api.MarketCorrectionVoteView.as_view(),
        name="market-corrections",
    ),
    path(
        "markets/<int:market_id>/close/", markets_api.MarketCloseView.as_view(), name="market-close"
    ),
    path(
        "markets/<int:market_id>/cancel/",
        markets_api.MarketCancelView.as_view(),
        name="market-cancel",
    ),
    path("me/", points_api.MeView.as_view(), name="me"),
    path("me/portfolio/", betting_api.MyPortfolioView.as_view(), name="me-portfolio"),
    path("me/transactions/", points_api.MyTransactionsView.as_view(), name="me-transactions"),
    path("leaderboard/", betting_api.LeaderboardView.as_view(), name="leaderboard"),
    path("seasons/", season_api.SeasonListView.as_view(), name="seasons"),
    path(
        "seasons/<int:number>/standings/",
        season_api.SeasonStandingsView.as_view(),
        name="season-standings",
    ),
    # Last: a client's typo gets the JSON envelope like every other error.
    re_path(r"", api_not_found),
]

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]
