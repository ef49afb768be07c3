"""``/notify on`` → a DM with the member's own result when the market is paid out.

A member who asked gets one; one who did not gets none; one who asked but whose
DMs are closed gets none (Discord answers 403, code 50007), the bot counts it
on its metrics endpoint, and the announcement in the guild is posted all the same.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator

import pytest
import requests

from markets.models import Market
from points.models import Member
from tests.botrunner.e2e.bot_process import BotProcess
from tests.botrunner.e2e.conftest import (
    Personas,
    open_market,
    resolved_by_two_moderators,
)
from tests.discord_emulator import DiscordEmulator, GuildSetup, Persona, message_text

pytestmark = [
    pytest.mark.discord_e2e,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]

REFUSED = re.compile(r'^predictmarket_bot_result_dms_total\{result="refused"\} (\S+)$', re.M)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class BotWithMetrics(BotProcess):
    """The bot serving its Prometheus endpoint, so the test reads its counters."""

    metrics_port = free_port()

    def environment(self) -> dict[str, str]:
        return {**super().environment(), "BOT_METRICS_PORT": str(self.metrics_port)}

    def refused_dms(self) -> float:
        scraped = requests.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5).text
        found = REFUSED.search(scraped)
        return float(found.group(1)) if found else 0.0


@pytest.fixture(scope="module")
def bot(
    django_db_setup: None, emulator: DiscordEmulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BotWithMetrics]:
    process = BotWithMetrics(emulator, tmp_path_factory.mktemp("runbot") / "runbot.log")
    process.start()
    try:
        yield process
    finally:
        process.stop()


def test_a_member_who_asked_gets_their_result_by_dm(
    emulator: DiscordEmulator, bot: BotWithMetrics, people: Personas, discord_guild: GuildSetup
) -> None:
    closed = discord_guild.member("carol")  # opts in, but does not accept DMs from the server
    emulator.close_dms(closed)
    for persona in (people.alice, closed):
        asked = emulator.slash(persona, "notify", setting="on")
        assert "direct message" in emulator.wait_for_reply(asked, contains="🔔")["content"]
    assert set(Member.objects.filter(notify_results=True).values_list("discord_id", flat=True)) == {
        people.alice.user_id,
        closed.user_id,
    }
    refused_before = bot.refused_dms()

    market = open_market(discord_guild, people.alice, "Will the fair be on?", ["Yes", "No"])
    resolved_by_two_moderators(
        emulator,
        discord_guild,
        market,
        [(people.alice, 0), (people.bob, 0), (closed, 1)],
        (people.mod_one, people.mod_two),
        key="notify",
    )

    dms = emulator.wait_for(
        lambda: emulator.direct_messages(people.alice), timeout=30, what="alice's result DM"
    )
    text = message_text(dms[0])
    assert f"#{market.pk} Will the fair be on?" in text
    assert "the winning answer is **Yes**" in text
    received = Market.objects.get(pk=market.pk).positions.get(
        member__discord_id=people.alice.user_id
    )
    profit = received.points_received - received.points_spent
    assert profit > 0
    assert f"You were paid **{received.points_received:,}** points." in text
    assert f"Your result on this market: **+{profit:,}** points." in text

    channel = str(discord_guild.announcement_channel_id)
    emulator.wait_for(
        lambda: any(
            "Paid out" in message_text(m)
            for m in emulator.messages.values()
            if m["channel_id"] == channel
        ),
        timeout=30,
        what="the result announcement",
    )
    emulator.wait_for(
        lambda: bot.refused_dms() == refused_before + 1, timeout=30, what="the refused DM counted"
    )
    # carol's DM was tried once and refused as Discord refuses it, and not retried.
    carol_dm = emulator.dm_channels[closed.user_id]
    tried = emulator.requests_matching("POST", rf"^/channels/{carol_dm}/messages$")
    assert [r.status for r in tried] == [403]
    assert emulator.direct_messages(closed) == []
    assert people.bob.user_id not in emulator.dm_channels  # he never asked
    assert len(emulator.direct_messages(people.alice)) == 1


def test_a_correction_tells_each_opted_in_member_again_and_off_means_off(
    emulator: DiscordEmulator, bot: BotWithMetrics, people: Personas, discord_guild: GuildSetup
) -> None:
    asked = emulator.slash(people.alice, "notify", setting="on")
    emulator.wait_for_reply(asked, contains="🔔")
    for setting in ("on", "off"):
        changed = emulator.slash(people.bob, "notify", setting=setting)
        emulator.wait_for_reply(changed, contains="🔔" if setting == "on" else "🔕")
    market = open_market(discord_guild, people.alice, "Did the fair happen?", ["Yes", "No"])
    resolved_by_two_moderators(
        emulator,
        discord_guild,
        market,
        [(people.alice, 0), (people.bob, 1)],
        (people.mod_one, people.mod_two),
        key="notify-correct",
    )

    def about_this_market(persona: Persona) -> list[str]:
        texts = [message_text(m) for m in emulator.direct_messages(persona)]
        return [t for t in texts if f"#{market.pk} Did the fair happen?" in t]

    emulator.wait_for(lambda: about_this_market(people.alice), timeout=30, what="the first DM")
    for mod in (people.mod_one, people.mod_two):
        voted = emulator.slash(mod, "moderate correct", market=str(market.pk), outcome="No")
        emulator.wait_for_reply(voted, contains="market")

    dms = emulator.wait_for(
        lambda: (found := about_this_market(people.alice)) and len(found) >= 2 and found,
        timeout=30,
        what="alice's correction DM",
    )
    corrected = dms[-1]
    assert "was corrected from resolved Yes to **resolved No**" in corrected, corrected
    assert "You gave back" in corrected
    assert "Your result on this market: **-100** points." in corrected
    assert len(dms) == 2
    assert about_this_market(people.bob) == []  # he turned them off again
