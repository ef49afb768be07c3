"""Discord rejects a message whose embed, custom ids, selects or modals are over its limits.

The worst case members can produce — a 500-character question, ten answers of
100 characters, the longest category, all full of markdown that escaping
doubles — is built through the real services and rendered as the bot renders it.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from typing import Any

import nextcord
import pytest

from botrunner.announcements import build_announcement
from botrunner.cards import render_market_message
from botrunner.components import (
    amount_modal,
    confirm_view,
    create_market_modal,
    history_view,
    holding_select,
    market_view,
    outcome_select,
    shares_modal,
)
from botrunner.embeds import market_list_embed, quote_embed
from botrunner.list_pager import ListQuery, pager_view
from botrunner.reads import MarketPage, MarketRow, market_card
from markets.descriptions import market_description_edit
from markets.services import market_create
from points.models import Guild, ResolverRule
from points.services import guild_ensure, member_ensure

BIG_ID = 9_223_372_036_854_775_807  # the largest BIGINT: the longest id Discord or we produce
QUESTION = ("*_`~|>" * 100)[:500]
OPTIONS = [("*_" * 50)[:99] + str(n) for n in range(10)]
CATEGORY = "_*" * 25


def check_embed(embed: nextcord.Embed) -> None:
    assert len(embed.title or "") <= 256
    assert len(embed.description or "") <= 4096
    assert len(embed.fields) <= 25
    for embed_field in embed.fields:
        assert 1 <= len(embed_field.name) <= 256
        assert 1 <= len(embed_field.value) <= 1024
    assert len(embed.footer.text or "") <= 2048
    assert len(embed) <= 6000


def check_view(view: nextcord.ui.View) -> None:
    assert len(view.children) <= 25
    rows = view.to_components()
    assert len(rows) <= 5
    for item in view.children:
        assert len(item.custom_id) <= 100, item.custom_id
        options = getattr(item, "options", None)
        if options is not None:
            assert 1 <= len(options) <= 25
            for option in options:
                assert len(option.label) <= 100 and len(option.value) <= 100
                assert len(option.description or "") <= 100


def check_modal(modal: nextcord.ui.Modal) -> None:
    assert len(modal.custom_id) <= 100
    assert len(modal.title) <= 45
    assert 1 <= len(modal.children) <= 5
    for text_input in modal.children:
        assert len(text_input.label) <= 45
        assert len(text_input.placeholder or "") <= 100
        assert len(text_input.custom_id) <= 100


@pytest.fixture
def worst_market_id(db: None) -> int:
    guild = guild_ensure(guild_id=761_000_000_000_000_001, name="x" * 100)
    creator = member_ensure(
        guild_id=guild.pk, discord_id=771_000_000_000_000_001, display_name="@everyone " + "*" * 90
    )
    market = market_create(
        creator=creator,
        question=QUESTION,
        options=OPTIONS,
        duration=timedelta(days=30),
        category=CATEGORY,
        description="~" * 2000,
        actor="test",
        bypass_rate_limit=True,
    )
    return market.pk


def test_the_worst_market_message_fits(worst_market_id: int) -> None:
    card = market_card(worst_market_id)

    async def render() -> Any:
        return await render_market_message(card)

    message = asyncio.run(render())
    check_embed(message.embed)
    check_view(message.view)
    # Every answer and its probability is still there, none cut away by the limits.
    for n in range(10):
        assert f"{n}" in message.embed.description
    assert message.embed.description.count("10.0%") == 10
    assert message.png and message.png.startswith(b"\x89PNG")
    assert message.embed.image.url == f"attachment://{message.filename}"


def test_the_worst_message_fits_with_an_arbitrator_and_many_edits(db: None) -> None:
    guild = guild_ensure(guild_id=761_000_000_000_000_002, name="x" * 100)
    Guild.objects.filter(pk=guild.pk).update(resolvers_multiple=ResolverRule.ARBITRATOR)
    creator, arbitrator = (
        member_ensure(
            guild_id=guild.pk, discord_id=771_000_000_000_000_002 + n, display_name="*_" * 50
        )
        for n in range(2)
    )
    market = market_create(
        creator=creator,
        question=QUESTION,
        options=OPTIONS,
        duration=timedelta(days=30),
        category=CATEGORY,
        description="~" * 2000,
        arbitrator=arbitrator,
        actor="test",
        bypass_rate_limit=True,
    )
    for n in range(30):
        market_description_edit(
            market_id=market.pk,
            description=("*" * 1999) + str(n % 10),
            actor="test",
            actor_name="_" * 100,
            is_moderator=True,
        )
    card = market_card(market.pk)

    async def render() -> Any:
        return await render_market_message(card, with_chart=False)

    message = asyncio.run(render())
    check_embed(message.embed)
    assert "*(edited)*" in message.embed.description
    history = next(f for f in message.embed.fields if f.name == "Description history")
    assert "older" in history.value  # 31 versions cannot all be shown: the rest are counted
    assert message.embed.description.count("10.0%") == 10


def test_every_component_fits_with_the_largest_ids() -> None:
    async def build() -> None:
        outcomes = [(n, label, Decimal("0.1")) for n, label in enumerate(OPTIONS)]
        check_view(market_view(BIG_ID, accepting_bets=True))
        check_view(outcome_select("buypick", BIG_ID, outcomes, placeholder="Which answer?"))
        check_view(
            holding_select(BIG_ID, [(n, label, Decimal(10**12)) for n, label, _ in outcomes])
        )
        check_view(
            confirm_view(
                market_id=BIG_ID,
                outcome_index=9,
                amount=10**12,
                min_shares=Decimal("999999999999999.999999"),
                origin_id=BIG_ID,
            )
        )
        longest = ListQuery("cancelled", "volume", "c:" * 25, "s:" * 15)
        for page in (0, 1, 9_999, 10**6):  # past 99,999 pages the search is cut to fit
            check_view(pager_view(longest, page=page, pages=10**6 + 1))
        view = history_view(BIG_ID)
        assert view is not None
        check_view(view)
        check_modal(create_market_modal())
        check_modal(create_market_modal((BIG_ID, ":" * 200)))
        check_modal(amount_modal(BIG_ID, 9, OPTIONS[0]))
        check_modal(shares_modal(BIG_ID, 9, OPTIONS[0]))

    asyncio.run(build())


def test_the_other_embeds_fit_with_the_longest_texts() -> None:
    check_embed(
        quote_embed(
            question=QUESTION,
            outcome_label=OPTIONS[0],
            amount=10**12,
            shares_out=Decimal("999999999999999.999999"),
            average_price=Decimal("0.99999999"),
            payout_if_wins=10**15,
            probability_after=Decimal("0.999999"),
            fee=Decimal("50000000000.5"),
        )
    )
    rows = [
        MarketRow(BIG_ID, QUESTION, CATEGORY, "refunded", "Refunded (automatic)", _now(), 10**15)
    ] * 25
    found = MarketPage(rows, page=10**8, pages=10**8 + 1, total=10**9, first=10**9 - 24)
    filters = " · category: " + "x" * 50 + " · search: " + "x" * 30
    check_embed(market_list_embed(found, order="open first, most traded", filters=filters))
    payload = {
        "market_id": BIG_ID,
        "question": QUESTION,
        "winning_outcome": OPTIONS[0],
        "paid_total": 10**15,
        "members_paid": 10**6,
        "top": [{"display_name": "*" * 100, "amount": 10**15}] * 10,
        "closes_at": _now().isoformat(),
        "votes_needed": 25,
        "decided_by": [{"name": "*" * 100, "role": "arbitrator"}] * 25,
        "from": "resolved " + OPTIONS[0],
        "to": "resolved " + OPTIONS[1],
        "voter_names": ["*" * 100] * 25,
        "taken_back_total": 10**15,
        "not_taken_back": 10**15,
        "payments_cut": True,
    }
    for kind in (
        "market.resolved",
        "market.settled",
        "market.cancelled",
        "market.refunded",
        "market.auto_refunded",
        "market.corrected",
        "market.correction_settled",
        "market.reminder",
    ):
        announcement = build_announcement(kind, payload, moderator_role_id=BIG_ID)
        assert announcement is not None
        check_embed(announcement.embed)


def _now() -> Any:
    from django.utils import timezone

    return timezone.now()


def test_the_period_and_season_announcements_fit_and_ping_nobody() -> None:
    top = [{"rank": 10**6, "display_name": "@everyone " + "*" * 90, "profit": -(10**15)}] * 10
    period = {
        "period": "week",
        "starts_at": _now().isoformat(),
        "ends_at": _now().isoformat(),
        "top": top,
    }
    season = {"number": 10**6, "reset": True, "starting_balance": 10**15, "ended": 10**6 - 1}
    for kind, payload in (
        ("leaderboard.period_ended", period),
        ("leaderboard.period_ended", {**period, "period": "month"}),
        ("season.started", {**season, "top": top}),
        ("season.started", {"number": 1, "reset": False, "ended": None, "top": []}),
    ):
        announcement = build_announcement(kind, payload)
        assert announcement is not None
        check_embed(announcement.embed)
        assert announcement.allowed_mentions.everyone is False
        assert "@everyone" not in (announcement.embed.description or "")  # escaped
