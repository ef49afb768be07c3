"""A 429 from Discord is retried after its Retry-After, never hammered."""

from __future__ import annotations

import pytest

from botrunner.models import DeliveredAnnouncement
from markets.services import market_cancel
from points.models import Guild
from predictmarket.outbox import outbox_position
from tests.botrunner.conftest import member_for, run
from tests.botrunner.discord_fakes import FakeClock, FakeDiscord, rate_limited
from tests.botrunner.outbox_setup import consumer, post, start_cursor_here, trade

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_edit_refused_with_429_waits_retry_after_then_succeeds(market, guild, bob) -> None:
    post(market)
    start_cursor_here()
    discord, clock = FakeDiscord(), FakeClock()
    discord.edit_failures = [rate_limited(2.5)]
    trade(member_for(bob, guild), market, 0, 50, "t")
    run(consumer(discord, clock, with_charts=True).poll_once())
    assert clock.slept == [2.5]
    assert discord.attempts == 2
    [(_, _, edit)] = discord.edits
    # The retried edit uploads the chart again, from a fresh file object.
    [chart] = edit["files"]
    assert chart.fp.read(8) == b"\x89PNG\r\n\x1a\n"


def test_an_announcement_still_refused_waits_for_the_next_poll(market, guild) -> None:
    Guild.objects.filter(pk=guild.pk).update(announcement_channel_id=880_000_000_000_000_777)
    start_cursor_here()
    market_cancel(market_id=market.pk, actor="test", is_moderator=True)
    discord, clock = FakeDiscord(), FakeClock()
    discord.send_failures = [rate_limited(1), rate_limited(3), rate_limited(7)]
    live = consumer(discord, clock, attempts=3)
    position = outbox_position("discord")
    run(live.poll_once())
    assert clock.slept == [1.0, 3.0]  # waited as told between attempts, then gave up for now
    assert discord.sends == []
    assert outbox_position("discord") == position  # not acknowledged: it will be read again
    run(live.poll_once())
    assert len(discord.sends) == 1
    assert DeliveredAnnouncement.objects.count() == 1
    assert outbox_position("discord") > position
