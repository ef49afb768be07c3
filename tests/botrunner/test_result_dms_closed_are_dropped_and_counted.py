"""The bot's outbox consumer DMs each result through nextcord, against the Discord emulator.

The real nextcord HTTP client talks to the emulator (no gateway needed to send):
``POST /users/@me/channels`` then the message, both checked against Discord's
spec. A member whose DMs are closed is answered 403 with code 50007, as Discord
answers; the consumer drops that DM quietly — acknowledged, counted, never
retried — and delivers the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import nextcord
import pytest
from prometheus_client import REGISTRY

from betting.settlement import settle_resolved_market
from botrunner.models import DeliveredAnnouncement
from botrunner.outbox_consumer import CONSUMER, OutboxConsumer
from points.models import Member
from points.services import guild_ensure, member_ensure, member_set_notify_results
from predictmarket.models import OutboxCursor, OutboxEvent
from predictmarket.outbox import outbox_position
from tests.betting.helpers import bet
from tests.botrunner.outbox_setup import start_cursor_here
from tests.discord_emulator import DiscordEmulator, GuildSetup, Persona, message_text
from tests.markets.helpers import decide, make_market

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[DiscordEmulator]:
    with DiscordEmulator([GuildSetup(name="DM testers")]) as running:
        monkeypatch.setattr(nextcord.http.Route, "BASE", running.base_url)
        yield running


def member_of(emulator: DiscordEmulator, persona: Persona, *, notify: bool) -> Member:
    guild = guild_ensure(guild_id=emulator.guild.guild_id, name=emulator.guild.name)
    member = member_ensure(
        guild_id=guild.pk, discord_id=persona.user_id, display_name=persona.username
    )
    if notify:
        member_set_notify_results(member=member, on=True, actor=f"discord:{persona.user_id}")
    return member


def refused_count() -> float:
    return (
        REGISTRY.get_sample_value("predictmarket_bot_result_dms_total", {"result": "refused"}) or 0
    )


async def no_wait(seconds: float) -> None:
    return None


def deliver(emulator: DiscordEmulator, *, polls: int = 1) -> None:
    """What the running bot's consumer does, with a real nextcord client logged in."""

    async def go() -> None:
        client = nextcord.Client()
        await client.http.static_login(emulator.token)
        try:
            consumer = OutboxConsumer(client, sleep=no_wait, with_charts=False)
            for _ in range(polls):
                await consumer.poll_once()
        finally:
            await client.close()

    asyncio.run(go())


def settled_market(traders: list[Member]) -> None:
    market = make_market(traders[0])
    for member in traders:
        bet(member, market, 0, 50)
    decide(market, outcome_index=0)
    assert settle_resolved_market(market_id=market.pk).performed


def test_a_member_with_closed_dms_is_skipped_counted_and_not_retried(
    emulator: DiscordEmulator,
) -> None:
    alice = emulator.guild.member("alice")
    carol = emulator.guild.member("carol")
    emulator.close_dms(carol)
    start_cursor_here()
    members = [member_of(emulator, alice, notify=True), member_of(emulator, carol, notify=True)]
    settled_market(members)
    refused_before = refused_count()

    deliver(emulator, polls=2)

    assert refused_count() == refused_before + 1
    carol_dm = emulator.dm_channels[carol.user_id]
    tried = emulator.requests_matching("POST", rf"^/channels/{carol_dm}/messages$")
    assert [r.status for r in tried] == [403]
    assert emulator.direct_messages(carol) == []
    [sent] = emulator.direct_messages(alice)
    assert "Your result on this market" in message_text(sent)
    assert sent["allowed_mentions"] == {"parse": []}
    # Both events are acknowledged: the refused DM holds nothing back.
    assert DeliveredAnnouncement.objects.filter(kind="member.result").count() == 1
    assert outbox_position(CONSUMER) == OutboxEvent.objects.latest("id").id
    assert not emulator.violations


def test_a_dm_read_again_after_a_restart_is_not_sent_twice(emulator: DiscordEmulator) -> None:
    alice = emulator.guild.member("alice")
    start_cursor_here()
    start = outbox_position(CONSUMER)
    settled_market([member_of(emulator, alice, notify=True)])

    deliver(emulator)
    # A process killed before it acknowledged: the next one reads the same events again.
    OutboxCursor.objects.filter(consumer=CONSUMER).update(position=start)
    deliver(emulator)

    assert len(emulator.direct_messages(alice)) == 1
    assert DeliveredAnnouncement.objects.filter(kind="member.result").count() == 1
    assert not emulator.violations


def test_a_dm_discord_rate_limits_waits_for_the_next_poll_and_is_sent_then(
    emulator: DiscordEmulator,
) -> None:
    alice = emulator.guild.member("alice")
    start_cursor_here()
    start = outbox_position(CONSUMER)
    settled_market([member_of(emulator, alice, notify=True)])
    # More 429s than nextcord's own retries and the consumer's attempts together.
    emulator.fail_next("POST", r"^/channels/\d+/messages$", 429, count=100, retry_after=0.01)

    deliver(emulator)

    assert emulator.direct_messages(alice) == []
    assert outbox_position(CONSUMER) < OutboxEvent.objects.get(kind="member.result").id
    assert outbox_position(CONSUMER) >= start
    emulator.clear_failures()
    deliver(emulator)

    assert len(emulator.direct_messages(alice)) == 1
    assert outbox_position(CONSUMER) == OutboxEvent.objects.latest("id").id


def test_a_rate_limited_dm_never_holds_up_the_announcements(emulator: DiscordEmulator) -> None:
    """The bot runs two consumers, as ``botrunner.bot`` sets them up: announcements and live
    edits on one cursor, result DMs on their own. Discord keeps refusing to open a DM (429),
    and the settlement's announcement is posted all the same."""
    from botrunner.outbox_consumer import RESULTS_CONSUMER
    from botrunner.result_messages import RESULT_KIND
    from points.models import Guild
    from predictmarket.outbox import outbox_cursor_ensure

    alice, bob = emulator.guild.member("alice"), emulator.guild.member("bob")
    channel = emulator.guild.general_channel_id
    start_cursor_here()
    outbox_cursor_ensure(RESULTS_CONSUMER, start_from=CONSUMER)
    member = member_of(emulator, alice, notify=True)
    Guild.objects.filter(pk=member.guild_id).update(announcement_channel_id=channel)
    settled_market([member])  # its announcement, then alice's DM
    settled_market([member_of(emulator, bob, notify=False)])  # an announcement after the DM
    emulator.fail_next("POST", r"^/users/@me/channels$", 429, count=100, retry_after=0.01)

    async def poll(*consumers: tuple[str, dict[str, object]]) -> None:
        client = nextcord.Client()
        await client.http.static_login(emulator.token)
        try:
            for name, kinds in consumers:
                consumer = OutboxConsumer(
                    client, consumer=name, sleep=no_wait, with_charts=False, **kinds
                )
                await consumer.poll_once()
        finally:
            await client.close()

    feed = (CONSUMER, {"skip": {RESULT_KIND}})
    dms = (RESULTS_CONSUMER, {"only": {RESULT_KIND}})
    asyncio.run(poll(feed, dms))

    result = OutboxEvent.objects.get(kind=RESULT_KIND)
    paid_out = [m for m in emulator.channel_messages(channel) if "Paid out" in message_text(m)]
    assert len(paid_out) == 2  # the one after the stuck DM too
    assert outbox_position(CONSUMER) == OutboxEvent.objects.latest("id").id  # not held back
    assert emulator.direct_messages(alice) == []
    assert outbox_position(RESULTS_CONSUMER) < result.id  # the DM waits on its own cursor

    emulator.clear_failures()
    asyncio.run(poll(dms))
    assert len(emulator.direct_messages(alice)) == 1
    assert outbox_position(RESULTS_CONSUMER) == OutboxEvent.objects.latest("id").id


def test_a_new_consumer_starts_where_the_feed_is_not_at_the_outbox_start() -> None:
    from botrunner.outbox_consumer import RESULTS_CONSUMER
    from predictmarket.outbox import outbox_cursor_ensure

    start_cursor_here()
    feed_at = outbox_position(CONSUMER)
    OutboxCursor.objects.filter(consumer=RESULTS_CONSUMER).delete()

    assert outbox_cursor_ensure(RESULTS_CONSUMER, start_from=CONSUMER) == feed_at
    outbox_acknowledge_dms = feed_at + 5
    OutboxCursor.objects.filter(consumer=RESULTS_CONSUMER).update(position=outbox_acknowledge_dms)
    # An existing cursor is kept as it is.
    assert outbox_cursor_ensure(RESULTS_CONSUMER, start_from=CONSUMER) == outbox_acknowledge_dms


def test_a_member_who_turned_notify_off_after_the_settlement_gets_no_dm(
    emulator: DiscordEmulator,
) -> None:
    alice = emulator.guild.member("alice")
    start_cursor_here()
    member = member_of(emulator, alice, notify=True)
    settled_market([member])  # the DM is queued now
    member_set_notify_results(member=member, on=False, actor=f"discord:{alice.user_id}")

    deliver(emulator)

    assert emulator.direct_messages(alice) == []
    assert outbox_position(CONSUMER) == OutboxEvent.objects.latest("id").id
