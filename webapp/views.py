"""The members' read pages: their servers, markets, a market with live odds, portfolio,
history and leaderboards. Trading is in ``webapp.trading``."""

from __future__ import annotations

from typing import Any

from django.contrib.messages import get_messages
from django.core.paginator import Paginator
from django.db.models import Case, F, Q, QuerySet, Value, When
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.utils import timezone
from django.utils.timesince import timeuntil
from django.views.decorators.http import require_GET

from betting.board_pages import board_page
from betting.models import Position
from betting.selectors import member_portfolio
from markets.models import Market, MarketStatus
from markets.selectors import market_categories, market_detail, market_list
from markets.snapshots import MarketSnapshot, market_snapshot, snapshot_price_history
from points.selectors import member_display_balance, member_history
from predictmarket.api.context import existing_id
from predictmarket.errors import DomainError, NotFound, RateLimited
from predictmarket.http_cache import combined_etag, mark_cacheable, not_modified
from webapp.access import (
    MemberContext,
    as_domain_error,
    error_page,
    member_page,
    sign_in_first,
)
from webapp.charts import price_chart
from webapp.forms import BuyForm, MarketSearchForm, SellForm
from webapp.membership import member_guilds

# Live odds are fetched again this often (htmx polling of the odds fragment).
ODDS_POLL_SECONDS = 2
MARKETS_PER_PAGE = 20
RECENT_TRADES = 20


def shown_balance(ctx: MemberContext) -> int | None:
    try:
        return member_display_balance(ctx.member)
    except DomainError:
        return None  # DRIP briefly unreachable: the page still shows, without the balance


def page(request: HttpRequest, ctx: MemberContext, template: str, **context: Any) -> HttpResponse:
    status = context.pop("status", 200)
    return render(
        request,
        template,
        {"guild": ctx.guild, "member": ctx.member, "balance": shown_balance(ctx), **context},
        status=status,
    )


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """The servers the person is in that the bot serves."""
    if not request.user.is_authenticated:
        return sign_in_first(request)
    try:
        guilds = member_guilds(request.user)
    except Exception as exc:
        error = as_domain_error(exc)
        if error is None:
            raise
        return error_page(request, error)
    return render(request, "webapp/home.html", {"guilds": guilds})


def _ordered(markets: QuerySet[Market]) -> QuerySet[Market]:
    """Open markets first, the soonest to close first; then the rest, newest first."""
    taking_bets = Q(status=MarketStatus.OPEN, closes_at__gt=timezone.now())
    return markets.annotate(
        live_rank=Case(When(taking_bets, then=Value(0)), default=Value(1)),
        live_close=Case(When(taking_bets, then=F("closes_at")), default=None),
    ).order_by("live_rank", "live_close", "-created_at", "-id")


@require_GET
@member_page
def markets(request: HttpRequest, ctx: MemberContext) -> HttpResponse:
    form = MarketSearchForm(request.GET)
    filters = form.cleaned_data if form.is_valid() else {}
    found = _ordered(
        market_list(
            guild_id=ctx.guild.pk,
            status=filters.get("status") or None,
            category=filters.get("category") or None,
            search=filters.get("q") or None,
        )
    )
    listing = Paginator(found, MARKETS_PER_PAGE).get_page(request.GET.get("page"))
    rows = [(m, market_detail(m)) for m in listing.object_list]
    query = request.GET.copy()
    query.pop("page", None)
    return page(
        request,
        ctx,
        "webapp/markets.html",
        form=form,
        rows=rows,
        listing=listing,
        categories=market_categories(ctx.guild.pk),
        query=query.urlencode(),
        invalid=not form.is_valid(),
    )


def _holdings(ctx: MemberContext, market_id: int) -> list[Position]:
    return list(
        Position.objects.filter(member=ctx.member, market_id=market_id, shares__gt=0)
        .select_related("outcome")
        .order_by("outcome__index")
    )


def _snapshot(ctx: MemberContext, market_id: int) -> MarketSnapshot:
    """The market's cached snapshot, of this guild only (another guild's id is a 404)."""
    try:
        return market_snapshot(guild_id=ctx.guild.pk, market_id=existing_id(market_id))
    except NotFound:
        raise Http404("No such market in this server.") from None


def live_parts(snapshot: MarketSnapshot) -> dict[str, Any]:
    """What changes with every trade: the odds, the chart and the recent trades."""
    until = min(timezone.now(), snapshot.resolved_at or snapshot.closes_at)
    return {
        "market": snapshot,
        "chart": price_chart(
            [o.label for o in snapshot.outcomes], snapshot_price_history(snapshot), until=until
        ),
        "trades": snapshot.recent_trades[:RECENT_TRADES],
    }


def _page_etag(request: HttpRequest, ctx: MemberContext, snapshot: MarketSnapshot) -> str:
    """The market page's tag: the market's version, and what else it shows of this person.

    Their shares change only through trades and endings of this market, which bump
    its version; their balance and their form's CSRF secret are part of the tag,
    and so are the server's name (in the header) and the "(… left)" the page
    shows while betting is open (it changes by the minute).
    """
    get_token(request)  # the secret the forms' tokens are made from (set now if new)
    left = timeuntil(snapshot.closes_at) if snapshot.accepting_bets else ""
    return combined_etag(
        "app-market",
        [
            snapshot.etag(),
            ctx.member.pk,
            shown_balance(ctx),
            request.META["CSRF_COOKIE"],
            ctx.guild.name,
            left,
        ],
    )


def market_page_response(
    request: HttpRequest,
    ctx: MemberContext,
    market_id: int,
    *,
    buy_form: BuyForm | None = None,
    sell_form: SellForm | None = None,
    error: DomainError | None = None,
    status: int = 200,
) -> HttpResponse:
    """The market page, also re-shown with a refused quote's message and the form as typed."""
    return _market_page(
        request,
        ctx,
        _snapshot(ctx, market_id),
        buy_form=buy_form,
        sell_form=sell_form,
        error=error,
        status=status,
    )


def _market_page(
    request: HttpRequest,
    ctx: MemberContext,
    snapshot: MarketSnapshot,
    *,
    buy_form: BuyForm | None = None,
    sell_form: SellForm | None = None,
    error: DomainError | None = None,
    status: int = 200,
    etag: str | None = None,
) -> HttpResponse:
    live = live_parts(snapshot)
    holdings = _holdings(ctx, snapshot.market_id)
    held = [o for o in snapshot.outcomes if any(p.outcome.index == o.index for p in holdings)]
    response = page(
        request,
        ctx,
        "webapp/market.html",
        holdings=holdings,
        **live,
        buy_form=buy_form or BuyForm(outcomes=list(snapshot.outcomes)),
        sell_form=sell_form or (SellForm(outcomes=held) if held else None),
        error=error,
        poll_seconds=ODDS_POLL_SECONDS,
        status=error.http_status if error is not None and status == 200 else status,
    )
    if isinstance(error, RateLimited):
        response["Retry-After"] = str(error.retry_after)
    if etag is not None:
        mark_cacheable(response, etag, private=True)
    return response


@require_GET
@member_page
def market(request: HttpRequest, ctx: MemberContext, market_id: int) -> HttpResponseBase:
    snapshot = _snapshot(ctx, market_id)
    etag = _page_etag(request, ctx, snapshot)
    # A notice waiting to be shown once (a trade's "Bought …") is in no cached copy.
    if not get_messages(request) and (answer := not_modified(request, etag, private=True)):
        return answer
    return _market_page(request, ctx, snapshot, etag=etag)


@require_GET
@member_page
def odds(request: HttpRequest, ctx: MemberContext, market_id: int) -> HttpResponseBase:
    """The odds, with the chart and the trades out of band: the market page polls it (htmx).

    A poll with the current ETag is a 304 from the cached snapshot: no market row is read.
    """
    snapshot = _snapshot(ctx, market_id)
    etag = combined_etag("app-odds", [snapshot.etag(), ctx.guild.pk])
    if (answer := not_modified(request, etag, private=True)) is not None:
        return answer
    response = render(
        request,
        "webapp/_live_update.html",
        {"guild": ctx.guild, "poll_seconds": ODDS_POLL_SECONDS, **live_parts(snapshot)},
    )
    return mark_cacheable(response, etag, private=True)


@require_GET
@member_page
def portfolio(request: HttpRequest, ctx: MemberContext) -> HttpResponse:
    return page(request, ctx, "webapp/portfolio.html", portfolio=member_portfolio(ctx.member))


@require_GET
@member_page
def history(request: HttpRequest, ctx: MemberContext) -> HttpResponse:
    before = request.GET.get("before", "")
    older_than = int(before) if before.isascii() and before.isdigit() and len(before) < 19 else None
    return page(
        request,
        ctx,
        "webapp/history.html",
        history=member_history(ctx.member, limit=25, before=older_than),
    )


@require_GET
@member_page
def leaderboard(request: HttpRequest, ctx: MemberContext) -> HttpResponse:
    board = board_page(ctx.guild.pk, request.GET, limit=25, member=ctx.member)
    return page(request, ctx, "webapp/leaderboard.html", board=board)
