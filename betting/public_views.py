"""Read-only public web pages for guilds that turned them on (others answer 404).

The market pages come from the cached market snapshots (``markets.snapshots``)
with an ETag, so a browser revalidating gets its 304 without the database.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from betting.board_pages import board_page
from betting.charts_svg import chart_series
from markets.selectors import market_list
from markets.snapshots import (
    cached_market_ids,
    market_snapshot,
    market_snapshots,
    snapshot_price_history,
)
from points.public_guild import PublicGuild, public_guild
from predictmarket.errors import NotFound
from predictmarket.http_cache import combined_etag, mark_cacheable, not_modified

LIST_LIMIT = 100


def _public_guild(guild_id: int) -> PublicGuild:
    guild = public_guild(guild_id)
    if guild is None:
        raise Http404("No public pages here.")
    return guild


@require_GET
def guild_markets(request: HttpRequest, guild_id: int) -> HttpResponseBase:
    guild = _public_guild(guild_id)
    status = request.GET.get("status") or None
    ids = cached_market_ids(
        guild_id=guild.pk,
        kind="public_market_list",
        filters={"status": status},
        load=lambda: market_list(guild_id=guild.pk, status=status).values_list("pk", flat=True)[
            :LIST_LIMIT
        ],
    )
    snapshots = market_snapshots(guild_id=guild.pk, market_ids=ids)
    etag = combined_etag(
        "public-markets", [guild.name, *(f"{s.market_id}:{s.version}" for s in snapshots)]
    )
    if (answer := not_modified(request, etag, private=False)) is not None:
        return answer
    rows = [(s, s) for s in snapshots]
    response = render(
        request, "public/guild_markets.html", {"guild": guild, "rows": rows, "status": status}
    )
    return mark_cacheable(response, etag, private=False)


@require_GET
def market_page(request: HttpRequest, guild_id: int, market_id: int) -> HttpResponseBase:
    guild = _public_guild(guild_id)
    try:
        snapshot = market_snapshot(guild_id=guild.pk, market_id=market_id)
    except NotFound:
        raise Http404("No such market.") from None
    etag = combined_etag("public-market", [snapshot.etag(), guild.name])
    if (answer := not_modified(request, etag, private=False)) is not None:
        return answer
    history = snapshot_price_history(snapshot)
    until = min(timezone.now(), snapshot.resolved_at or snapshot.closes_at)
    series = chart_series([o.label for o in snapshot.outcomes], history, until=until)
    response = render(
        request,
        "public/market.html",
        {
            "guild": guild,
            "market": snapshot,
            "series": series,
            "trades": snapshot.recent_trades,
            "holders": snapshot.holders,
            "who_resolves": snapshot.who_may_resolve,
            # Newest first: the current text is shown above, the earlier ones below it.
            "description_history": list(reversed(snapshot.description_history)),
            # "resolved Yes, corrected to resolved No by …", once it was corrected.
            "history": snapshot.history_text if len(snapshot.history) > 1 else "",
        },
    )
    return mark_cacheable(response, etag, private=False)


@require_GET
def leaderboard_page(request: HttpRequest, guild_id: int) -> HttpResponse:
    guild = _public_guild(guild_id)
    board = board_page(guild.pk, request.GET, limit=50)
    return render(request, "public/leaderboard.html", {"guild": guild, "board": board})
