"""``/market create|list|show|cancel|resolve|describe``: the members' market commands.

``/market cancel`` is for a market's creator (while nobody else has traded);
moderators close and cancel with ``/moderate``, hidden from members
(``botrunner.cogs.moderation``). ``/market resolve`` is for a market's creator or
named arbitrator when the server's rule lets them resolve it (and moderators);
``/market describe`` clarifies a description (the creator before anyone else
trades, moderators until it is decided).

Posting a market (create, show) leaves one public message in the channel; its
id is recorded with ``market_set_discord_message`` so the outbox consumer keeps
it live. With the guild's market threads on, the live message goes in the
market's thread instead, under a short line in the channel. Everything else a
member sees here is ephemeral.
"""

from __future__ import annotations

from typing import Any

import nextcord
from nextcord.ext import commands

from botrunner.autocomplete import (
    ANY_STATUS,
    UNDECIDED,
    suggest_categories,
    suggest_markets,
    suggest_outcomes,
)
from botrunner.calls import call
from botrunner.cards import render_market_message
from botrunner.cogs.moderation import own_market_cancel_command, own_market_resolve_command
from botrunner.cogs.points import member_of
from botrunner.components import (
    STATUS_CODES,
    create_market_modal,
    modal_values,
    selected_values,
)
from botrunner.context import require_guild
from botrunner.embeds import market_list_embed
from botrunner.invocation import Ack, Invocation, handler
from botrunner.list_pager import (
    CATEGORY_MAX,
    DEFAULT_SORT,
    PICKED_PAGE,
    SEARCH_MAX,
    SORT_CHOICES,
    SORT_CODES,
    ListQuery,
    StalePager,
    pager_view,
    parse_pager,
    picked_page,
)
from botrunner.parsing import parse_duration, parse_id, parse_options
from botrunner.reads import market_card, market_page
from botrunner.text import safe
from botrunner.threads import post_in_thread, wants_thread
from markets.descriptions import market_description_edit
from markets.services import market_create, market_set_discord_message
from predictmarket.errors import ValidationFailed

PAGE_SIZE = 5
STATUS_CHOICES = {
    "Open": "open",
    "Closed (waiting for resolution)": "closed",
    "Resolved": "resolved",
    "Cancelled": "cancelled",
    "Refunded": "refunded",
}


async def post_market(inv: Invocation, market_id: int, *, note: str) -> None:
    """Post the market publicly and make that message the live one.

    In this channel, or in the market's thread when its guild gives markets
    threads (``botrunner.threads``).
    """
    actor = await inv.actor(rate_limited=False)
    card = await call(market_card, market_id, guild_id=actor.guild_id)
    message = await render_market_message(card)
    # The deferred reply is ephemeral and the first follow-up would replace it
    # (keeping it ephemeral), so settle it first; the next follow-up is public.
    await inv.edit(content=note)
    if wants_thread(inv, card):
        in_thread = await post_in_thread(inv, card, message)
        if in_thread is not None:
            thread_id, message_id = in_thread
            await call(
                market_set_discord_message,
                market_id=card.market_id,
                channel_id=thread_id,
                message_id=message_id,
            )
            return
    posted = await inv.reply(ephemeral=False, **message.send_kwargs())
    channel_id = getattr(inv.interaction, "channel_id", None)
    if posted is not None and channel_id:
        await call(
            market_set_discord_message,
            market_id=card.market_id,
            channel_id=int(channel_id),
            message_id=int(posted.id),
        )


# -- /market create -------------------------------------------------------------
@handler("market create", ack=Ack.NONE)
async def market_create_start(inv: Invocation, *, arbitrator: Any = None) -> None:
    require_guild(inv.interaction)  # before the modal: a DM gets an answer, not a form
    named = None
    if arbitrator is not None:
        if getattr(arbitrator, "bot", False):
            raise ValidationFailed("Bots do not take part in the markets: name a member.")
        named = (int(arbitrator.id), getattr(arbitrator, "display_name", "") or "")
    await inv.send_modal(create_market_modal(named))


@handler("market create submit")
async def market_create_submit(inv: Invocation, parts: list[str] | None = None) -> None:
    actor = await inv.actor()
    values = modal_values(inv.interaction)
    options = parse_options(values.get("options"))
    duration = parse_duration(values.get("duration"))
    arbitrator = None
    if parts:
        # The member picked on /market create (Discord resolved them in this server).
        named = _ArbitratorOption(int(parts[0]), parts[1] if len(parts) > 1 else "")
        arbitrator = await member_of(actor, named)
    market = await call(
        market_create,
        creator=actor.member,
        question=values.get("question", ""),
        options=options,
        duration=duration,
        category=values.get("category", ""),
        arbitrator=arbitrator,
        actor=actor.name,
        idempotency_key=inv.idempotency_key,
        bypass_rate_limit=actor.is_moderator,
    )
    await post_market(inv, market.pk, note=f"✅ Market #{market.pk} is open — posted below.")


class _ArbitratorOption:
    """The arbitrator as ``member_of`` reads a Discord user: an id and a display name."""

    bot = False

    def __init__(self, user_id: int, display_name: str) -> None:
        self.id = user_id
        self.display_name = display_name


# -- /market describe -----------------------------------------------------------
@handler("market describe")
async def market_describe_command(inv: Invocation, *, market: str, description: str) -> None:
    actor = await inv.actor()
    edited = await call(
        market_description_edit,
        market_id=parse_id(market),
        description=description,
        actor=actor.name,
        actor_name=actor.member.display_name,
        is_moderator=actor.is_moderator,
        member=actor.member,
        guild_id=actor.guild_id,
    )
    await inv.reply(
        f"✏️ The description of market #{edited.pk} is updated; its message shows it as "
        "edited, with the earlier versions."
    )


# -- /market list ---------------------------------------------------------------
def _order_name(query: ListQuery) -> str:
    """How the page is ordered, in the words of the list's count line."""
    if query.sort == "volume":
        order = "most traded first"
    elif query.sort == "newest":
        order = "newest first"
    elif query.status in ("", "open"):
        order = "closing soonest first"
    else:
        order = "most recently closed first"
    return order if query.status else f"open first, {order}"


async def _show_list(inv: Invocation, query: ListQuery, *, public: bool, edit: bool) -> None:
    actor = await inv.actor()
    found = await call(
        market_page,
        guild_id=actor.guild_id,
        status=query.status or None,
        category=query.category or None,
        search=query.search or None,
        sort=query.sort,
        page=query.page,
        size=PAGE_SIZE,
    )
    filters = "".join(
        f" · {name}: {safe(value, 60)}"
        for name, value in (
            ("status", query.status),
            ("category", query.category),
            ("search", query.search),
        )
        if value
    )
    embed = market_list_embed(found, order=_order_name(query), filters=filters)
    view = pager_view(query, page=found.page, pages=found.pages)
    if edit:
        await inv.edit(embed=embed, view=view)
    elif public:
        # The deferred reply is ephemeral and the first follow-up would replace it
        # (keeping it ephemeral), so settle it first; the next follow-up is public.
        await inv.edit(content="The list is posted below for everyone in this channel.")
        await inv.reply(embed=embed, view=view, ephemeral=False)
    else:
        await inv.reply(embed=embed, view=view)


@handler("market list")
async def market_list_command(
    inv: Invocation,
    *,
    status: str | None = None,
    sort: str | None = None,
    category: str | None = None,
    search: str | None = None,
    public: bool | None = None,
) -> None:
    status, sort = status or "", sort or DEFAULT_SORT
    if status not in STATUS_CODES:
        raise ValidationFailed("Unknown status: choose one of the list.", field="status")
    if sort not in SORT_CODES:
        raise ValidationFailed("Unknown order: choose one of the list.", field="sort")
    query = ListQuery(
        status=status,
        sort=sort,
        category=" ".join((category or "").split())[:CATEGORY_MAX],
        search=" ".join((search or "").split())[:SEARCH_MAX],
    )
    await _show_list(inv, query, public=bool(public), edit=False)


@handler("market list page", ack=Ack.UPDATE)
async def market_list_page(inv: Invocation, parts: list[str]) -> None:
    try:
        query = parse_pager(parts)
        if query.page == PICKED_PAGE:
            query = query.at(picked_page(selected_values(inv.interaction)))
    except StalePager as exc:
        raise ValidationFailed("This list is out of date: run /market list again.") from exc
    # The guild is the clicker's, never one named in the custom id.
    await _show_list(inv, query, public=False, edit=True)


# -- /market show and Refresh ---------------------------------------------------
@handler("market show")
async def market_show_command(inv: Invocation, *, market: str) -> None:
    await inv.actor()
    market_id = parse_id(market)
    await post_market(
        inv, market_id, note=f"Market #{market_id} is posted below; it updates as people trade."
    )


@handler("refresh", ack=Ack.UPDATE)
async def market_refresh(inv: Invocation, parts: list[str]) -> None:
    actor = await inv.actor()
    card = await call(market_card, int(parts[0]), guild_id=actor.guild_id)
    message = await render_market_message(card)
    await inv.edit(**message.edit_kwargs())


class MarketsCog(commands.Cog, name="Markets"):
    @nextcord.slash_command(name="market", description="Prediction markets", dm_permission=False)
    async def market(self, interaction: nextcord.Interaction) -> None:
        """Group: the subcommands below do the work."""

    @market.subcommand(name="create", description="Ask a question with 2 to 10 answers")
    async def create(
        self,
        interaction: nextcord.Interaction,
        arbitrator: nextcord.Member | None = nextcord.SlashOption(  # noqa: B008
            description="Who resolves it, when this server's markets are resolved by an arbitrator",
            required=False,
        ),
    ) -> None:
        await market_create_start(interaction, arbitrator=arbitrator)

    @market.subcommand(name="list", description="Browse this server's markets, open ones first")
    async def list_(
        self,
        interaction: nextcord.Interaction,
        status: str | None = nextcord.SlashOption(
            description="Only markets in this state", choices=STATUS_CHOICES, required=False
        ),
        sort: str | None = nextcord.SlashOption(
            description="Order within each state (default: closing soon)",
            choices=SORT_CHOICES,
            required=False,
        ),
        category: str | None = nextcord.SlashOption(
            description="Only this category",
            required=False,
            max_length=CATEGORY_MAX,
            autocomplete=True,
        ),
        search: str | None = nextcord.SlashOption(
            description="Words in the question or answers",
            required=False,
            max_length=SEARCH_MAX,
        ),
        public: bool | None = nextcord.SlashOption(
            description="Post the list for everyone in this channel (default: only you see it)",
            required=False,
        ),
    ) -> None:
        await market_list_command(
            interaction,
            status=status,
            sort=sort,
            category=category,
            search=search,
            public=public,
        )

    @list_.on_autocomplete("category")
    async def _list_category(self, interaction: nextcord.Interaction, category: str) -> None:
        await suggest_categories(interaction, category)

    @market.subcommand(name="show", description="Post a market with its odds, chart and buttons")
    async def show(
        self,
        interaction: nextcord.Interaction,
        market: str = nextcord.SlashOption(description="The market", autocomplete=True),
    ) -> None:
        await market_show_command(interaction, market=market)

    @show.on_autocomplete("market")
    async def _show_market(self, interaction: nextcord.Interaction, market: str) -> None:
        await suggest_markets(interaction, market, ANY_STATUS)

    @market.subcommand(
        name="cancel", description="Cancel your own market while nobody else has traded on it"
    )
    async def cancel(
        self,
        interaction: nextcord.Interaction,
        market: str = nextcord.SlashOption(description="The market", autocomplete=True),
    ) -> None:
        await own_market_cancel_command(interaction, market=market)

    @cancel.on_autocomplete("market")
    async def _cancel_market(self, interaction: nextcord.Interaction, market: str) -> None:
        await suggest_markets(interaction, market, UNDECIDED)

    @market.subcommand(
        name="resolve",
        description="Resolve a market you are the creator or arbitrator of, or vote to correct it",
    )
    async def resolve(
        self,
        interaction: nextcord.Interaction,
        market: str = nextcord.SlashOption(description="The market", autocomplete=True),
        outcome: str = nextcord.SlashOption(
            description="The winning answer, or cancel", autocomplete=True
        ),
    ) -> None:
        await own_market_resolve_command(interaction, market=market, outcome=outcome)

    @resolve.on_autocomplete("market")
    async def _resolve_market(self, interaction: nextcord.Interaction, market: str) -> None:
        # Decided markets too: on one of them this is a vote to correct it.
        await suggest_markets(interaction, market, ANY_STATUS)

    @resolve.on_autocomplete("outcome")
    async def _resolve_outcome(
        self, interaction: nextcord.Interaction, outcome: str, market: str | None = None
    ) -> None:
        await suggest_outcomes(interaction, outcome, market, with_cancel=True)

    @market.subcommand(
        name="describe",
        description="Clarify a market's description (every version is kept and shown)",
    )
    async def describe(
        self,
        interaction: nextcord.Interaction,
        market: str = nextcord.SlashOption(description="The market", autocomplete=True),
        description: str = nextcord.SlashOption(
            description="The new description (the question and answers never change)",
            min_length=1,
            max_length=2000,
        ),
    ) -> None:
        await market_describe_command(interaction, market=market, description=description)

    @describe.on_autocomplete("market")
    async def _describe_market(self, interaction: nextcord.Interaction, market: str) -> None:
        await suggest_markets(interaction, market, UNDECIDED)


def setup(bot: Any) -> None:
    bot.add_cog(MarketsCog())
