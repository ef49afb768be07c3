"""Read-only public web pages for guilds that turned them on (others answer 404)."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from betting.charts_svg import chart_series
from betting.selectors import market_top_holders, market_trades, worth_leaderboard
from markets.corrections import history_sentence
from markets.descriptions import description_history
from markets.models import Market
from markets.resolvers import who_may_resolve
from markets.selectors import market_detail, market_list, price_history
from points.models import Guild
from points.selectors import balance_leaderboard

BOARDS = {"balance": "Balance", "net_worth": "Net worth", "profit": "Profit"}


def _public_guild(guild_id: int) -> Guild:
    guild = Guild.objects.filter(pk=guild_id, public_pages=True).first()
    if guild is None:
        raise Http404("No public pages here.")
    return guild


@require_GET
def guild_markets(request: HttpRequest, guild_id: int) -> HttpResponse:
    guild = _public_guild(guild_id)
    status = request.GET.get("status") or None
    markets = list(market_list(guild_id=guild.pk, status=status)[:100])
    rows = [(m, market_detail(m)) for m in markets]
    return render(
        request, "public/guild_markets.html", {"guild": guild, "rows": rows, "status": status}
    )


@require_GET
def market_page(request: HttpRequest, guild_id: int, market_id: int) -> HttpResponse:
    guild = _public_guild(guild_id)
    market = Market.objects.filter(pk=market_id, guild=guild).select_related("creator").first()
    if market is None:
        raise Http404("No such market.")
    detail = market_detail(market)
    until = min(timezone.now(), market.resolved_at or market.closes_at)
    series = chart_series([o.label for o in detail.outcomes], price_history(market), until=until)
    return render(
        request,
        "public/market.html",
        {
            "guild": guild,
            "market": market,
            "detail": detail,
            "series": series,
            "trades": list(market_trades(market)[:25]),
            "holders": market_top_holders(market, limit=10),
            "who_resolves": who_may_resolve(market),
            # Newest first: the current text is shown above, the earlier ones below it.
            "description_history": list(reversed(description_history(market))),
            # "resolved Yes, corrected to resolved No by …", once it was corrected.
            "history": history_sentence(market) if market.correction_count else "",
        },
    )


@require_GET
def leaderboard_page(request: HttpRequest, guild_id: int) -> HttpResponse:
    guild = _public_guild(guild_id)
    by = request.GET.get("by", "balance")
    if by not in BOARDS:
        by = "balance"
    if by == "balance":
        rows = [
            (r.rank, r.display_name, r.balance)
            for r in balance_leaderboard(guild.pk, limit=50).rows
        ]
    else:
        ranked, _ = worth_leaderboard(guild.pk, by=by, limit=50)
        rows = [
            (r.rank, r.display_name, r.net_worth if by == "net_worth" else r.profit) for r in ranked
        ]
    return render(
        request,
        "public/leaderboard.html",
        {"guild": guild, "rows": rows, "by": by, "boards": BOARDS},
    )
