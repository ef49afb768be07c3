"""New and closing-soon markets are announced as the guild asks, and in a market's thread."""

from __future__ import annotations

from datetime import timedelta

import pytest

from botrunner import outbox_consumer
from botrunner.models import DeliveredAnnouncement
from markets.closing_soon import markets_announce_closing_soon
from markets.models import Market
from markets.services import market_create, market_set_discord_thread
from points.models import Guild
from tests.botrunner.conftest import member_for, run
from tests.botrunner.discord_fakes import FakeClock, FakeDiscord
from tests.botrunner.outbox_setup import consumer, start_cursor_here

pytestmark = pytest.mark.django_db(transaction=True)
ANNOUNCEMENTS = 880_000_000_000_000_778
THREAD = 882_000_000_000_000_001


def _guild(guild: Guild, **settings: object) -> Guild:
    Guild.objects.filter(pk=guild.pk).update(announcement_channel_id=ANNOUNCEMENTS, **settings)
    guild.refresh_from_db()
    start_cursor_here()
    return guild


def _create(guild: Guild, alice, question: str = "Will it snow on Friday?") -> Market:
    return market_create(
        creator=member_for(alice, guild),
        question=question,
        options=["Yes", "No", "Only sleet"],
        duration=timedelta(hours=2),
        actor="test",
        bypass_rate_limit=True,
    )


def test_a_new_market_is_announced_when_the_guild_asks(guild, alice) -> None:
    _guild(guild, announce_new_markets=True)
    market = _create(guild, alice)
    discord = FakeDiscord()
    run(consumer(discord, FakeClock()).poll_once())
    [(channel, sent)] = discord.sends
    assert channel == ANNOUNCEMENTS
    assert sent["embed"].title == f"New market: #{market.pk} Will it snow on Friday?"
    assert "Answers: Yes · No · Only sleet." in sent["embed"].description
    assert f"<t:{int(market.closes_at.timestamp())}:R>" in sent["embed"].description
    assert sent["allowed_mentions"].to_dict() == {"parse": []}


def test_a_new_market_is_not_announced_by_default(guild, alice) -> None:
    _guild(guild)
    _create(guild, alice)
    discord = FakeDiscord()
    run(consumer(discord, FakeClock()).poll_once())
    assert discord.sends == []


def test_turning_announcements_on_later_does_not_announce_older_markets(guild, alice) -> None:
    _guild(guild)
    _create(guild, alice)  # decided with its creation: not announced
    Guild.objects.filter(pk=guild.pk).update(announce_new_markets=True)
    discord = FakeDiscord()
    run(consumer(discord, FakeClock()).poll_once())
    assert discord.sends == []


def test_closing_soon_goes_to_the_channel_and_the_thread_once(
    guild, alice, monkeypatch: pytest.MonkeyPatch
) -> None:
    _guild(guild, closing_soon_lead_minutes=60)
    market = _create(guild, alice)
    assert market_set_discord_thread(market_id=market.pk, thread_id=THREAD) == THREAD
    markets_announce_closing_soon(now=market.closes_at - timedelta(minutes=30))
    discord = FakeDiscord()

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("killed before acknowledging")

    with monkeypatch.context() as patch:
        patch.setattr(outbox_consumer, "outbox_acknowledge", crash)
        with pytest.raises(RuntimeError):
            run(consumer(discord, FakeClock()).poll_once())
    assert [channel for channel, _ in discord.sends] == [ANNOUNCEMENTS, THREAD]
    assert all(s["embed"].title.startswith("Closing soon: ") for _, s in discord.sends)
    assert "Last chance to trade" in discord.sends[0][1]["embed"].description

    run(consumer(discord, FakeClock()).poll_once())  # a new process reads the event again
    assert len(discord.sends) == 2
    assert DeliveredAnnouncement.objects.filter(kind="market.closing_soon").count() == 2


def test_without_an_announcement_channel_the_thread_still_hears(guild, alice) -> None:
    _guild(guild, closing_soon_lead_minutes=60)
    Guild.objects.filter(pk=guild.pk).update(announcement_channel_id=None)
    market = _create(guild, alice)
    market_set_discord_thread(market_id=market.pk, thread_id=THREAD)
    markets_announce_closing_soon(now=market.closes_at - timedelta(minutes=1))
    discord = FakeDiscord()
    run(consumer(discord, FakeClock()).poll_once())
    assert [channel for channel, _ in discord.sends] == [THREAD]


def test_a_market_keeps_its_first_thread(guild, alice) -> None:
    market = _create(_guild(guild), alice)
    assert market_set_discord_thread(market_id=market.pk, thread_id=THREAD) == THREAD
    assert market_set_discord_thread(market_id=market.pk, thread_id=THREAD + 1) == THREAD
    assert Market.objects.get(pk=market.pk).discord_thread_id == THREAD
