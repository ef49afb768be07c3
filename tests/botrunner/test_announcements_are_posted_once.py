"""Results, refunds and reminders are announced once, even when events are read again."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from betting.settlement import settle_resolved_market
from botrunner import outbox_consumer
from botrunner.models import DeliveredAnnouncement
from markets.services import market_close, markets_remind_unresolved, resolution_vote
from points.models import Guild
from tests.botrunner.conftest import MODERATOR_ROLE_ID, member_for, run
from tests.botrunner.discord_fakes import FakeClock, FakeDiscord
from tests.botrunner.outbox_setup import consumer, start_cursor_here, trade

pytestmark = pytest.mark.django_db(transaction=True)
ANNOUNCEMENTS = 880_000_000_000_000_777


@pytest.fixture
def announced_guild(guild: Guild) -> Guild:
    Guild.objects.filter(pk=guild.pk).update(announcement_channel_id=ANNOUNCEMENTS)
    start_cursor_here()
    return guild


def resolve_and_settle(market, winner: int = 0) -> None:
    market_close(market_id=market.pk, actor="test")
    for voter in ("discord:1", "discord:2"):
        resolution_vote(market_id=market.pk, voter=voter, outcome_index=winner)
    settle_resolved_market(market_id=market.pk)


def titles(discord: FakeDiscord) -> list[str]:
    return [kwargs["embed"].title.split(":")[0] for _, kwargs in discord.sends]


def test_a_resolution_is_announced_once_across_a_restart(
    announced_guild, market, bob, monkeypatch: pytest.MonkeyPatch
) -> None:
    trade(member_for(bob, announced_guild), market, 0, 100, "winner")
    resolve_and_settle(market)
    discord = FakeDiscord()

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("killed before acknowledging")

    with monkeypatch.context() as patch:
        patch.setattr(outbox_consumer, "outbox_acknowledge", crash)
        with pytest.raises(RuntimeError):
            run(consumer(discord, FakeClock()).poll_once())
    assert titles(discord) == ["Resolved", "Paid out"]
    settled = discord.sends[1][1]["embed"].description
    assert "Winning answer: **Yes**" in settled and "bob — " in settled

    restarted = consumer(discord, FakeClock())  # a new process reads the same events again
    run(restarted.poll_once())
    run(restarted.poll_once())
    assert titles(discord) == ["Resolved", "Paid out"]
    assert DeliveredAnnouncement.objects.count() == 2
    assert all(channel == ANNOUNCEMENTS for channel, _ in discord.sends)
    assert all(k["allowed_mentions"].to_dict() == {"parse": []} for _, k in discord.sends)


def test_cancellations_and_refunds_are_announced(announced_guild, market, moderator) -> None:
    from betting.unwind import refund_market
    from markets.services import market_cancel

    market_cancel(market_id=market.pk, actor="test", is_moderator=True)
    refund_market(market_id=market.pk)
    discord = FakeDiscord()
    run(consumer(discord, FakeClock()).poll_once())
    assert titles(discord) == ["Cancelled", "Refunded"]


def test_a_guild_without_an_announcement_channel_gets_no_announcement(guild, market) -> None:
    start_cursor_here()
    resolve_and_settle(market)
    discord = FakeDiscord()
    run(consumer(discord, FakeClock()).poll_once())
    assert discord.sends == []


def _remind(market) -> None:
    market_close(market_id=market.pk, actor="test")
    markets_remind_unresolved(now=timezone.now() + timedelta(days=2))


def test_a_reminder_mentions_the_moderator_role_and_nobody_else(announced_guild, market) -> None:
    _remind(market)
    discord = FakeDiscord()
    run(consumer(discord, FakeClock()).poll_once())
    [(_, reminder)] = discord.sends
    assert reminder["content"] == f"<@&{MODERATOR_ROLE_ID}>"
    assert reminder["allowed_mentions"].to_dict() == {"parse": [], "roles": [MODERATOR_ROLE_ID]}
    assert "needs 2 moderator votes" in reminder["embed"].description


def test_a_reminder_without_a_moderator_role_mentions_nobody(announced_guild, market) -> None:
    Guild.objects.filter(pk=announced_guild.pk).update(moderator_role_id=None)
    _remind(market)
    discord = FakeDiscord()
    run(consumer(discord, FakeClock()).poll_once())
    [(_, reminder)] = discord.sends
    assert "content" not in reminder
    assert reminder["allowed_mentions"].to_dict() == {"parse": []}
