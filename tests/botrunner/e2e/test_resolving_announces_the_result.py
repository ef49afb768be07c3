"""Two moderators ``/resolve`` → settlement → the result is announced in the right channel."""

from __future__ import annotations

import pytest

from betting.services import bet_place
from markets.models import Market, MarketStatus
from markets.services import market_close
from tests.botrunner.e2e.bot_process import BotProcess
from tests.botrunner.e2e.conftest import Personas, member_row, open_market
from tests.discord_emulator import DiscordEmulator, GuildSetup, message_text

pytestmark = [
    pytest.mark.discord_e2e,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]


def test_two_moderator_votes_settle_and_announce_the_result(
    emulator: DiscordEmulator, bot: BotProcess, people: Personas, discord_guild: GuildSetup
) -> None:
    market = open_market(discord_guild, people.alice, "Will the fair be on?", ["Yes", "No"])
    bet_place(
        member=member_row(discord_guild, people.alice),
        market_id=market.pk,
        outcome_index=0,
        amount=100,
        idempotency_key=f"e2e:alice:{market.pk}",
        bypass_rate_limit=True,
    )
    market_close(market_id=market.pk, actor="system:e2e")

    refused = emulator.slash(people.bob, "resolve", market=str(market.pk), outcome="Yes")
    assert "Only moderators" in emulator.wait_for_reply(refused, contains="moderators")["content"]

    first = emulator.slash(people.mod_one, "resolve", market=str(market.pk), outcome="Yes")
    assert "1 of 2 votes" in emulator.wait_for_reply(first, contains="votes")["content"]
    second = emulator.slash(people.mod_two, "resolve", market=str(market.pk), outcome="Yes")
    assert "decided" in emulator.wait_for_reply(second, contains="decided")["content"]

    channel = discord_guild.announcement_channel_id

    def announced() -> list[str]:
        return [
            message_text(m) for m in emulator.messages.values() if m["channel_id"] == str(channel)
        ]

    texts = emulator.wait_for(
        lambda: (found := announced()) and any("Paid out" in t for t in found) and found,
        timeout=30,
        what="the result announcement",
    )
    assert any("Resolved:" in t and "**Yes**" in t for t in texts), texts
    assert any("Paid out:" in t and "alice" in t for t in texts), texts
    assert Market.objects.get(pk=market.pk).status == MarketStatus.RESOLVED
