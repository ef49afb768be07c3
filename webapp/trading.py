"""Buy and sell from the browser: a quote, then a confirmation, through the bot's services.

The quote page is a form carrying what was quoted (``min_shares`` or
``min_points``) and a signed idempotency token issued with it
(``webapp.trade_keys``). Confirming calls ``bet_place`` / ``shares_sell`` with
both, so the rules are the bot's and the API's: limits, rate limits, a frozen
account, slippage, idempotency. A double submit carries one token and trades
once; a price that moved since the quote is refused by the service and answered
with a fresh quote to confirm again.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from betting.models import TradeSide
from betting.services import (
    SlippageExceeded,
    TradeResult,
    bet_place,
    bet_quote,
    sell_quote,
    shares_sell,
)
from markets.models import Market
from markets.selectors import market_detail
from predictmarket.errors import ValidationFailed
from predictmarket.ratelimit import rate_limit_hit
from webapp.access import MemberContext, as_domain_error, guild_market, member_page
from webapp.forms import BuyConfirmForm, BuyForm, SellConfirmForm, SellForm
from webapp.trade_keys import trade_key_from_token, trade_token_issue
from webapp.views import market_page_response, shown_balance


def _form_error(form: BuyForm | SellForm) -> ValidationFailed:
    first = next(iter(form.errors.items()))
    field, errors = first
    label = form.fields[field].label if field in form.fields else "The form"
    return ValidationFailed(f"{label}: {' '.join(errors)}", field=field)


def _count_command(ctx: MemberContext) -> None:
    # The same counters as a bot command or an API request (predictmarket.ratelimit).
    rate_limit_hit("command", ctx.member.pk)
    rate_limit_hit("guild_command", ctx.guild.pk)


def _confirm_page(
    request: HttpRequest,
    ctx: MemberContext,
    market: Market,
    *,
    side: str,
    quote: object,
    form: BuyConfirmForm | SellConfirmForm,
    notice: str = "",
    status: int = 200,
) -> HttpResponse:
    detail = market_detail(market)
    return render(
        request,
        "webapp/confirm.html",
        {
            "guild": ctx.guild,
            "member": ctx.member,
            "balance": shown_balance(ctx),
            "market": market,
            "detail": detail,
            "side": side,
            "quote": quote,
            "label": detail.outcomes[quote.outcome_index].label,  # type: ignore[attr-defined]
            "after": list(zip(detail.outcomes, quote.probabilities_after, strict=True)),  # type: ignore[attr-defined]
            "form": form,
            "notice": notice,
        },
        status=status,
    )


def _done(request: HttpRequest, ctx: MemberContext, result: TradeResult) -> HttpResponse:
    trade = result.trade
    if trade.side == TradeSide.BUY:
        text = (
            f"Bought {trade.shares:,.2f} shares of “{result.outcome_label}” "
            f"for {trade.points:,} points."
        )
    else:
        text = (
            f"Sold {trade.shares:,.2f} shares of “{result.outcome_label}” "
            f"for {trade.points:,} points."
        )
    messages.success(request, text)
    # Post/redirect/get: reloading the market page never resubmits the trade.
    return redirect(
        reverse("webapp:market", kwargs={"guild_id": ctx.guild.pk, "market_id": trade.market_id})
    )


# ------------------------------------------------------------------------------
# Buying
# ------------------------------------------------------------------------------
def _buy_confirm_page(
    request: HttpRequest,
    ctx: MemberContext,
    market: Market,
    *,
    outcome: int,
    amount: object,
    notice: str = "",
    status: int = 200,
) -> HttpResponse:
    quote = bet_quote(
        market_id=market.pk, outcome_index=outcome, amount=amount, guild_id=ctx.guild.pk
    )
    detail = market_detail(market)
    form = BuyConfirmForm(
        outcomes=detail.outcomes,
        initial={
            "outcome": quote.outcome_index,
            "amount": quote.amount,
            "min_shares": quote.shares,
            "token": trade_token_issue(member=ctx.member, market_id=market.pk, side="buy"),
        },
    )
    return _confirm_page(
        request, ctx, market, side="buy", quote=quote, form=form, notice=notice, status=status
    )


@require_POST
@member_page
def buy_quote(request: HttpRequest, ctx: MemberContext, market_id: int) -> HttpResponse:
    market = guild_market(ctx, market_id)
    form = BuyForm(request.POST, outcomes=market_detail(market).outcomes)
    try:
        if not form.is_valid():
            raise _form_error(form)
        _count_command(ctx)
        return _buy_confirm_page(
            request,
            ctx,
            market,
            outcome=form.cleaned_data["outcome"],
            amount=form.cleaned_data["amount"],
        )
    except Exception as exc:
        error = as_domain_error(exc)
        if error is None:
            raise
        return market_page_response(request, ctx, market.pk, buy_form=form, error=error)


@require_POST
@member_page
def buy_confirm(request: HttpRequest, ctx: MemberContext, market_id: int) -> HttpResponse:
    market = guild_market(ctx, market_id)
    form = BuyConfirmForm(request.POST, outcomes=market_detail(market).outcomes)
    try:
        if not form.is_valid():
            raise _form_error(form)
        data = form.cleaned_data
        key = trade_key_from_token(
            data["token"], member=ctx.member, market_id=market.pk, side="buy"
        )
        try:
            result = bet_place(
                member=ctx.member,
                market_id=market.pk,
                outcome_index=data["outcome"],
                amount=data["amount"],
                idempotency_key=key,
                min_shares=data["min_shares"],
            )
        except SlippageExceeded as moved:
            # Refused, nothing charged: the same bet at today's price, to confirm again.
            return _buy_confirm_page(
                request,
                ctx,
                market,
                outcome=data["outcome"],
                amount=data["amount"],
                notice=f"{moved.message} Here is a new quote; confirm it if you still want it.",
                status=moved.http_status,
            )
        return _done(request, ctx, result)
    except Exception as exc:
        error = as_domain_error(exc)
        if error is None:
            raise
        return market_page_response(request, ctx, market.pk, error=error)


# ------------------------------------------------------------------------------
# Selling
# ------------------------------------------------------------------------------
def _sell_confirm_page(
    request: HttpRequest,
    ctx: MemberContext,
    market: Market,
    *,
    outcome: int,
    shares: object,
    notice: str = "",
    status: int = 200,
) -> HttpResponse:
    quote = sell_quote(member=ctx.member, market_id=market.pk, outcome_index=outcome, shares=shares)
    if quote.points_out < 1:
        raise ValidationFailed(
            "Too few shares: selling them would return less than 1 point.", field="shares"
        )
    detail = market_detail(market)
    form = SellConfirmForm(
        outcomes=detail.outcomes,
        initial={
            "outcome": quote.outcome_index,
            # The exact count quoted, even for "all": the confirmation sells what it showed.
            "shares": f"{quote.shares:f}",
            "min_points": quote.points_out,
            "token": trade_token_issue(member=ctx.member, market_id=market.pk, side="sell"),
        },
    )
    return _confirm_page(
        request, ctx, market, side="sell", quote=quote, form=form, notice=notice, status=status
    )


@require_POST
@member_page
def sell_quote_view(request: HttpRequest, ctx: MemberContext, market_id: int) -> HttpResponse:
    market = guild_market(ctx, market_id)
    form = SellForm(request.POST, outcomes=market_detail(market).outcomes)
    try:
        if not form.is_valid():
            raise _form_error(form)
        _count_command(ctx)
        return _sell_confirm_page(
            request,
            ctx,
            market,
            outcome=form.cleaned_data["outcome"],
            shares=form.cleaned_data["shares"],
        )
    except Exception as exc:
        error = as_domain_error(exc)
        if error is None:
            raise
        return market_page_response(request, ctx, market.pk, error=error)


@require_POST
@member_page
def sell_confirm(request: HttpRequest, ctx: MemberContext, market_id: int) -> HttpResponse:
    market = guild_market(ctx, market_id)
    form = SellConfirmForm(request.POST, outcomes=market_detail(market).outcomes)
    try:
        if not form.is_valid():
            raise _form_error(form)
        data = form.cleaned_data
        key = trade_key_from_token(
            data["token"], member=ctx.member, market_id=market.pk, side="sell"
        )
        try:
            result = shares_sell(
                member=ctx.member,
                market_id=market.pk,
                outcome_index=data["outcome"],
                shares=data["shares"],
                idempotency_key=key,
                min_points=data["min_points"],
            )
        except SlippageExceeded as moved:
            return _sell_confirm_page(
                request,
                ctx,
                market,
                outcome=data["outcome"],
                shares=data["shares"],
                notice=f"{moved.message} Here is a new quote; confirm it if you still want it.",
                status=moved.http_status,
            )
        return _done(request, ctx, result)
    except Exception as exc:
        error = as_domain_error(exc)
        if error is None:
            raise
        return market_page_response(request, ctx, market.pk, error=error)
