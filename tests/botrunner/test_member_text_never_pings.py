"""Text written by members never pings anyone and cannot break the layout."""

from __future__ import annotations

from datetime import timedelta

import pytest

from botrunner.cogs.markets import market_show_command
from botrunner.cogs.points import tip_command
from markets.services import market_create
from tests.botrunner.conftest import member_for, persona, run

pytestmark = pytest.mark.django_db(transaction=True)
NASTY = "@everyone <@&765000000000000001> **bold** `code` ||spoiler||"


def test_a_market_full_of_mentions_and_markdown_is_shown_harmlessly(slash, guild, alice) -> None:
    creator = member_for(alice, guild)
    market = market_create(
        creator=creator,
        question=NASTY,
        options=["@here", "<@770000000000000001>", "plain"],
        duration=timedelta(hours=1),
        category="@everyone",
        actor="test",
        bypass_rate_limit=True,
    )
    interaction = slash(alice)
    run(market_show_command(interaction, market=str(market.pk)))
    for reply in interaction.replies:
        mentions = reply.kwargs["allowed_mentions"].to_dict()
        assert mentions == {"parse": []}, reply  # no user, role or everyone pings
    text = interaction.last.text
    assert "@everyone" not in text and "@here" not in text
    assert "@\u200beveryone" in text  # still readable, never a ping
    assert "<@770000000000000001>" not in text
    assert r"\*\*bold\*\*" in text and r"\|\|spoiler\|\|" in text


def test_a_display_name_with_a_mention_does_not_ping(slash, guild, alice) -> None:
    member_for(alice, guild)
    shady = persona("@everyone look")
    interaction = slash(alice)
    run(tip_command(interaction, member=shady, amount=1))
    assert "@everyone" not in interaction.last.text
    assert interaction.last.kwargs["allowed_mentions"].to_dict()["parse"] == []


def test_the_bot_pings_nobody_by_default() -> None:
    import asyncio

    from botrunner.bot import PredictBot

    async def default() -> dict:
        bot = PredictBot(run_outbox=False)
        try:
            return bot.allowed_mentions.to_dict()
        finally:
            await bot.close()

    assert asyncio.run(default()) == {"parse": []}
