"""Two moderators ``/moderate correct`` a paid market → reversed, re-paid, and announced."""

from __future__ import annotations

import pytest

from markets.models import Market, MarketCorrection
from tests.botrunner.e2e.bot_process import BotProcess
from tests.botrunner.e2e.conftest import (
    Personas,
    open_market,
    resolved_by_two_moderators,
)
from tests.discord_emulator import DiscordEmulator, GuildSetup, message_text

pytestmark = [
    pytest.mark.discord_e2e,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]


def test_a_correction_is_voted_paid_and_announced(
    emulator: DiscordEmulator, bot: BotProcess, people: Personas, discord_guild: GuildSetup
) -> None:
    market = open_market(discord_guild, people.alice, "Did the fair happen?", ["Yes", "No"])
    resolved_by_two_moderators(
        emulator,
        discord_guild,
        market,
        [(people.alice, 0), (people.bob, 1)],
        (people.mod_one, people.mod_two),
        key="correct",
    )
    emulator.wait_for(
        lambda: Market.objects.filter(pk=market.pk, settled_at__isnull=False).exists(),
        timeout=30,
        what="the settlement",
    )

    refused = emulator.slash(people.bob, "moderate correct", market=str(market.pk), outcome="No")
    assert "Only moderators" in emulator.wait_for_reply(refused, contains="moderators")["content"]
    first = emulator.slash(people.mod_one, "moderate correct", market=str(market.pk), outcome="No")
    assert "1 of 2 votes" in emulator.wait_for_reply(first, contains="votes")["content"]
    second = emulator.slash(people.mod_two, "moderate correct", market=str(market.pk), outcome="No")
    assert "corrected" in emulator.wait_for_reply(second, contains="corrected")["content"]

    channel = str(discord_guild.announcement_channel_id)

    def announced() -> list[str]:
        return [message_text(m) for m in emulator.messages.values() if m["channel_id"] == channel]

    texts = emulator.wait_for(
        lambda: (found := announced()) and any("Correction paid" in t for t in found) and found,
        timeout=30,
        what="the correction announcements",
    )
    corrected = [t for t in texts if "Corrected:" in t]
    assert corrected and "corrected to **resolved No**" in corrected[0], texts
    paid = next(t for t in texts if "Correction paid" in t)
    assert "bob" in paid and "alice" in paid, paid  # bob is paid, alice gives hers back
    assert MarketCorrection.objects.get(market_id=market.pk).applied_at is not None
