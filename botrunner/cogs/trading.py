"""Buying and selling: ``/bet``, ``/sell``, ``/portfolio`` and the market message's buttons.

A bet is two steps. First the quote (shares, average price, payout if the
answer wins) with Confirm/Cancel; Confirm then places the bet with the quote's
``min_shares``, so a price that moved against the member refuses the bet
instead of filling it worse. Confirm's custom id carries the id of the
interaction that asked for the quote (``/bet`` or the amount modal), which is
the bet's idempotency key: however often Confirm is clicked, one bet is placed.

A sale is two steps the same way: its quote says what it pays, and Confirm
sells the quoted number of shares with the quote's points as ``min_points``,
keyed by the interaction that showed the quote (``/sell`` or the shares modal).

A Confirm refused because the price moved replaces its stale quote with a
fresh one for the same amount and answer: the old button could only be
refused again. The fresh Confirm is keyed by the click that showed it, a new
idempotency key, so it never collides with the refused attempt's.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import nextcord
from nextcord.ext import commands

from betting.selectors import member_portfolio
from betting.services import SlippageExceeded, TradeResult, bet_place, shares_sell
from botrunner.autocomplete import OPEN_ONLY, suggest_markets, suggest_outcomes
from botrunner.calls import call
from botrunner.components import (
    amount_modal,
    confirm_view,
    holding_select,
    modal_values,
    outcome_select,
    selected_label,
    selected_values,
    sell_confirm_view,
    shares_modal,
)
from botrunner.embeds import position_embed, quote_embed, sale_quote_embed
from botrunner.invocation import Ack, Invocation, handler
from botrunner.parsing import parse_id
from botrunner.reads import (
    market_outcomes,
    outcome_index,
    positions_in_market,
    quote_bet,
    quote_sale,
)
from botrunner.replies import domain_error_text
from botrunner.text import clip, points, safe, shares
from predictmarket.errors import InvalidState, ValidationFailed


def trade_text(result: TradeResult, *, bought: bool) -> str:
    label = safe(result.outcome_label, 200)
    if bought:
        text = (
            f"✅ Bought {shares(result.shares)} shares of **{label}** for "
            f"{points(result.points)} points (average price "
            f"{result.average_price.quantize(Decimal('0.0001'))}). "
            f"If it wins you get {points(result.payout_if_wins)} points."
        )
    else:
        text = (
            f"✅ Sold {shares(result.shares)} shares of **{label}** for "
            f"{points(result.points)} points."
        )
    if result.replayed:
        text += " (This was already done; nothing was charged twice.)"
    elif result.balance is not None:
        text += f" Your balance: {points(result.balance)} points."
    return text


async def bet_quote_message(
    inv: Invocation, *, market_id: int, outcome: int, amount: object, origin_id: int
) -> tuple[nextcord.Embed, nextcord.ui.View]:
    """The quote of a bet at today's price, and the Confirm that places it."""
    actor = await inv.actor()
    view = await call(
        quote_bet,
        guild_id=actor.guild_id,
        market_id=market_id,
        outcome_index=outcome,
        amount=amount,
    )
    quote = view.quote
    return (
        quote_embed(
            question=view.question,
            outcome_label=view.outcome_label,
            amount=quote.amount,
            shares_out=quote.shares,
            average_price=quote.average_price,
            payout_if_wins=quote.payout_if_wins,
            probability_after=quote.probabilities_after[outcome],
            fee=quote.fee,
        ),
        confirm_view(
            market_id=market_id,
            outcome_index=outcome,
            amount=quote.amount,
            min_shares=quote.shares,
            origin_id=origin_id,
        ),
    )


async def show_quote(
    inv: Invocation, *, market_id: int, outcome: int, amount: object, origin_id: int
) -> None:
    embed, view = await bet_quote_message(
        inv, market_id=market_id, outcome=outcome, amount=amount, origin_id=origin_id
    )
    await inv.reply(embed=embed, view=view)


async def offer_fresh_quote(
    inv: Invocation, moved: SlippageExceeded, quoted: tuple[nextcord.Embed, nextcord.ui.View]
) -> None:
    """Replace a stale quote (and its Confirm, which could only be refused again)."""
    embed, view = quoted
    await inv.edit(
        content=f"{domain_error_text(moved)} Here is a fresh quote: confirm it or cancel.",
        embed=embed,
        view=view,
    )


# -- /bet and Confirm -----------------------------------------------------------
@handler("bet")
async def bet_command(inv: Invocation, *, market: str, outcome: str, amount: int) -> None:
    actor = await inv.actor()
    market_id = parse_id(market)
    index = await call(outcome_index, guild_id=actor.guild_id, market_id=market_id, typed=outcome)
    await show_quote(
        inv, market_id=market_id, outcome=index, amount=amount, origin_id=inv.interaction.id
    )


@handler("bet confirm", ack=Ack.UPDATE)
async def bet_confirm(inv: Invocation, parts: list[str]) -> None:
    market_id, index, amount = int(parts[0]), int(parts[1]), int(parts[2])
    min_shares, origin_id = Decimal(parts[3]), int(parts[4])
    actor = await inv.actor()
    try:
        result = await call(
            bet_place,
            member=actor.member,
            market_id=market_id,
            outcome_index=index,
            amount=amount,
            idempotency_key=f"discord:{origin_id}",
            min_shares=min_shares,
            bypass_rate_limit=actor.is_moderator,
        )
    except SlippageExceeded as moved:
        fresh = await bet_quote_message(
            inv, market_id=market_id, outcome=index, amount=amount, origin_id=inv.interaction.id
        )
        await offer_fresh_quote(inv, moved, fresh)
        return
    # Replace the quote (and its buttons) with the result.
    await inv.edit(content=trade_text(result, bought=True), embed=None, view=None)


@handler("bet cancel", ack=Ack.NONE)
async def bet_cancel(inv: Invocation, parts: list[str]) -> None:
    await inv.interaction.response.edit_message(
        content="Bet cancelled: nothing was charged.", embed=None, view=None
    )


# -- the Buy button: pick an answer, type an amount, see the quote --------------
@handler("buy")
async def buy_button(inv: Invocation, parts: list[str]) -> None:
    actor = await inv.actor()
    found = await call(market_outcomes, guild_id=actor.guild_id, market_id=int(parts[0]))
    if not found.accepting_bets:
        raise InvalidState("Betting is over on this market.")
    await inv.reply(
        f"Buy shares in: {safe(found.question, 300)}",
        view=outcome_select(
            "buypick", found.market_id, found.outcomes, placeholder="Which answer do you buy?"
        ),
    )


@handler("buy pick", ack=Ack.NONE)
async def buy_pick(inv: Invocation, parts: list[str]) -> None:
    value = (selected_values(inv.interaction) or ["0"])[0]
    label = selected_label(inv.interaction, value, fallback=f"answer {int(value) + 1}")
    await inv.send_modal(amount_modal(int(parts[0]), int(value), label))


@handler("buy amount")
async def buy_amount(inv: Invocation, parts: list[str]) -> None:
    amount = modal_values(inv.interaction).get("amount", "")
    await show_quote(
        inv,
        market_id=int(parts[0]),
        outcome=int(parts[1]),
        amount=amount,
        origin_id=inv.interaction.id,
    )


# -- selling: the quote, then Confirm ------------------------------------------
async def sale_quote_message(
    inv: Invocation, *, market_id: int, outcome: int, amount: object, origin_id: int
) -> tuple[nextcord.Embed, nextcord.ui.View]:
    """What the sale pays at today's price, and the Confirm that sells."""
    actor = await inv.actor()
    view = await call(
        quote_sale, member=actor.member, market_id=market_id, outcome_index=outcome, shares=amount
    )
    quote = view.quote
    return (
        sale_quote_embed(
            question=view.question,
            outcome_label=view.outcome_label,
            shares_in=quote.shares,
            points_out=quote.points_out,
            average_price=quote.average_price,
            probability_after=quote.probabilities_after[outcome],
            fee=quote.fee,
        ),
        sell_confirm_view(
            market_id=market_id,
            outcome_index=outcome,
            shares_in=quote.shares,
            min_points=quote.points_out,
            origin_id=origin_id,
        ),
    )


async def show_sale_quote(
    inv: Invocation, *, market_id: int, outcome: int, amount: object, origin_id: int
) -> None:
    """Like a bet: what the sale pays now, and Confirm/Cancel; nothing is sold yet."""
    embed, view = await sale_quote_message(
        inv, market_id=market_id, outcome=outcome, amount=amount, origin_id=origin_id
    )
    await inv.reply(embed=embed, view=view)


@handler("sell confirm", ack=Ack.UPDATE)
async def sell_confirm(inv: Invocation, parts: list[str]) -> None:
    market_id, index, amount = int(parts[0]), int(parts[1]), Decimal(parts[2])
    min_points, origin_id = int(parts[3]), int(parts[4])
    actor = await inv.actor()
    try:
        result = await call(
            shares_sell,
            member=actor.member,
            market_id=market_id,
            outcome_index=index,
            shares=amount,
            idempotency_key=f"discord:{origin_id}",
            min_points=min_points,
            bypass_rate_limit=actor.is_moderator,
        )
    except SlippageExceeded as moved:
        fresh = await sale_quote_message(
            inv, market_id=market_id, outcome=index, amount=amount, origin_id=inv.interaction.id
        )
        await offer_fresh_quote(inv, moved, fresh)
        return
    await inv.edit(content=trade_text(result, bought=False), embed=None, view=None)


@handler("sell cancel", ack=Ack.NONE)
async def sell_cancel(inv: Invocation, parts: list[str]) -> None:
    await inv.interaction.response.edit_message(
        content="Sale cancelled: nothing was sold.", embed=None, view=None
    )


@handler("sell")
async def sell_command(inv: Invocation, *, market: str, outcome: str, shares: str) -> None:
    actor = await inv.actor()
    market_id = parse_id(market)
    index = await call(outcome_index, guild_id=actor.guild_id, market_id=market_id, typed=outcome)
    await show_sale_quote(
        inv, market_id=market_id, outcome=index, amount=shares, origin_id=inv.interaction.id
    )


@handler("sell button")
async def sell_button(inv: Invocation, parts: list[str]) -> None:
    actor = await inv.actor()
    market_id = int(parts[0])
    held = await call(positions_in_market, actor.member, market_id)
    holdings = [(p.outcome_index, p.outcome_label, p.shares) for p in held if p.shares > 0]
    if not holdings:
        raise ValidationFailed("You hold no shares in this market.")
    await inv.reply("Sell shares:", view=holding_select(market_id, holdings))


@handler("sell pick", ack=Ack.NONE)
async def sell_pick(inv: Invocation, parts: list[str]) -> None:
    value = (selected_values(inv.interaction) or ["0"])[0]
    label = selected_label(inv.interaction, value, fallback=f"answer {int(value) + 1}")
    await inv.send_modal(shares_modal(int(parts[0]), int(value), label))


@handler("sell amount")
async def sell_amount(inv: Invocation, parts: list[str]) -> None:
    amount = modal_values(inv.interaction).get("shares", "")
    await show_sale_quote(
        inv,
        market_id=int(parts[0]),
        outcome=int(parts[1]),
        amount=amount,
        origin_id=inv.interaction.id,
    )


# -- positions ------------------------------------------------------------------
@handler("my position")
async def position_button(inv: Invocation, parts: list[str]) -> None:
    actor = await inv.actor()
    market_id = int(parts[0])
    found = await call(market_outcomes, guild_id=actor.guild_id, market_id=market_id)
    lines = await call(positions_in_market, actor.member, market_id)
    await inv.reply(embed=position_embed(found.question, lines))


@handler("portfolio")
async def portfolio_command(inv: Invocation) -> None:
    actor = await inv.actor()
    portfolio = await call(member_portfolio, actor.member)
    lines = [
        f"**#{h.market_id}** {safe(h.question, 80)} — {safe(h.outcome_label, 60)}: "
        f"{shares(h.shares)} shares, worth {points(h.value)} ({points(h.profit, sign=True)} profit)"
        for h in portfolio.holdings[:30]
    ]
    embed = nextcord.Embed(
        title="Your portfolio",
        description=clip("\n".join(lines) or "You hold no shares in open markets.", 4096),
    )
    embed.add_field(name="Value now", value=f"{points(portfolio.value)} points")
    embed.add_field(name="Profit so far", value=f"{points(portfolio.profit, sign=True)} points")
    await inv.reply(embed=embed)


class TradingCog(commands.Cog, name="Trading"):
    @nextcord.slash_command(name="bet", description="Buy shares of an answer", dm_permission=False)
    async def bet(
        self,
        interaction: nextcord.Interaction,
        market: str = nextcord.SlashOption(description="The market", autocomplete=True),
        outcome: str = nextcord.SlashOption(description="The answer", autocomplete=True),
        amount: int = nextcord.SlashOption(description="Points to spend", min_value=1),
    ) -> None:
        await bet_command(interaction, market=market, outcome=outcome, amount=amount)

    @bet.on_autocomplete("market")
    async def _bet_market(self, interaction: nextcord.Interaction, market: str) -> None:
        await suggest_markets(interaction, market, OPEN_ONLY)

    @bet.on_autocomplete("outcome")
    async def _bet_outcome(
        self, interaction: nextcord.Interaction, outcome: str, market: str | None = None
    ) -> None:
        await suggest_outcomes(interaction, outcome, market)

    @nextcord.slash_command(
        name="sell", description="Sell shares back to the market", dm_permission=False
    )
    async def sell(
        self,
        interaction: nextcord.Interaction,
        market: str = nextcord.SlashOption(description="The market", autocomplete=True),
        outcome: str = nextcord.SlashOption(description="The answer", autocomplete=True),
        shares: str = nextcord.SlashOption(
            description="How many shares, or all", max_length=40, default="all", required=False
        ),
    ) -> None:
        await sell_command(interaction, market=market, outcome=outcome, shares=shares or "all")

    @sell.on_autocomplete("market")
    async def _sell_market(self, interaction: nextcord.Interaction, market: str) -> None:
        await suggest_markets(interaction, market, OPEN_ONLY)

    @sell.on_autocomplete("outcome")
    async def _sell_outcome(
        self, interaction: nextcord.Interaction, outcome: str, market: str | None = None
    ) -> None:
        await suggest_outcomes(interaction, outcome, market)

    @nextcord.slash_command(
        name="portfolio", description="Your shares and their value", dm_permission=False
    )
    async def portfolio(self, interaction: nextcord.Interaction) -> None:
        await portfolio_command(interaction)


def setup(bot: Any) -> None:
    bot.add_cog(TradingCog())
