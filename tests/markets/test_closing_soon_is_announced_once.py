"""An open market is announced once as closing soon, when its guild's lead time is reached."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from markets.closing_soon import markets_announce_closing_soon
from markets.models import Market
from markets.services import market_close
from markets.snapshots import market_snapshot, snapshot_build
from markets.tasks import announce_closing_soon
from points.models import Guild, Member
from predictmarket.models import OutboxEvent
from tests.concurrency import run_concurrently
from tests.markets.helpers import MODERATORS, make_guild, make_market, make_member

START = datetime(2030, 6, 1, 9, 0, tzinfo=UTC)


def _announcements(market: Market) -> list[OutboxEvent]:
    return list(OutboxEvent.objects.filter(kind="market.closing_soon", aggregate_id=str(market.pk)))


def _lead(guild: Guild, minutes: int) -> None:
    Guild.objects.filter(pk=guild.pk).update(closing_soon_lead_minutes=minutes)


def test_it_announces_once_when_the_lead_is_reached(creator: Member) -> None:
    _lead(creator.guild, 60)
    with time_machine.travel(START, tick=False) as clock:
        market = make_market(creator, duration=timedelta(hours=3))

        clock.move_to(market.closes_at - timedelta(minutes=61))
        assert markets_announce_closing_soon() == []
        assert _announcements(market) == []

        clock.move_to(market.closes_at - timedelta(minutes=60))
        assert announce_closing_soon() == 1  # the beat task
        [event] = _announcements(market)
        assert event.guild_id == creator.guild_id
        assert event.payload["closes_at"] == market.closes_at.isoformat()
        assert event.payload["lead_minutes"] == 60

        clock.shift(timedelta(minutes=30))
        assert markets_announce_closing_soon() == []
        assert len(_announcements(market)) == 1


def test_it_does_not_announce_when_the_guild_turned_it_off(creator: Member) -> None:
    with time_machine.travel(START, tick=False) as clock:
        market = make_market(creator, duration=timedelta(hours=1))
        clock.move_to(market.closes_at - timedelta(minutes=1))
        assert markets_announce_closing_soon() == []
        assert _announcements(market) == []


def test_it_skips_closed_and_already_past_markets(creator: Member) -> None:
    _lead(creator.guild, 60)
    with time_machine.travel(START, tick=False) as clock:
        closed_early = make_market(creator, duration=timedelta(hours=2))
        market_close(market_id=closed_early.pk, actor=MODERATORS[0])
        past_due = make_market(
            creator, question="Past its closing time?", duration=timedelta(hours=1)
        )

        clock.move_to(past_due.closes_at + timedelta(seconds=1))  # not yet marked closed
        assert markets_announce_closing_soon() == []
        assert _announcements(closed_early) == _announcements(past_due) == []


def test_each_guild_uses_its_own_lead(creator: Member) -> None:
    other_guild = make_guild(closing_soon_lead_minutes=10)
    _lead(creator.guild, 120)
    with time_machine.travel(START, tick=False) as clock:
        here = make_market(creator, duration=timedelta(hours=3))
        there = make_market(make_member(other_guild), duration=timedelta(hours=3))

        clock.move_to(START + timedelta(hours=1, minutes=30))  # 90 min before both close
        assert markets_announce_closing_soon() == [here.pk]
        assert _announcements(there) == []

        clock.move_to(START + timedelta(hours=2, minutes=55))
        assert markets_announce_closing_soon() == [there.pk]


def test_the_claim_bumps_the_version_and_refreshes_the_snapshot(creator: Member) -> None:
    _lead(creator.guild, 30)
    with time_machine.travel(START, tick=False) as clock:
        market = make_market(creator, duration=timedelta(hours=1))
        before = Market.objects.get(pk=market.pk).version

        clock.move_to(market.closes_at - timedelta(minutes=5))
        assert markets_announce_closing_soon() == [market.pk]

        after = Market.objects.get(pk=market.pk)
        assert after.version == before + 1
        assert after.closing_soon_announced_at == market.closes_at - timedelta(minutes=5)
        cached = market_snapshot(guild_id=market.guild_id, market_id=market.pk)
        assert cached == snapshot_build(guild_id=market.guild_id, market_id=market.pk)
        assert cached.version == after.version


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_beats_announce_each_market_exactly_once() -> None:
    guild = make_guild(closing_soon_lead_minutes=60)
    creator = make_member(guild, "creator")
    markets = [
        make_market(creator, question=f"Closing soon number {n}?", duration=timedelta(minutes=30))
        for n in range(12)
    ]
    now = markets[-1].closes_at - timedelta(minutes=1)

    outcomes = run_concurrently(
        [functools.partial(markets_announce_closing_soon, now=now) for _ in range(4)], workers=4
    )

    assert [o.error for o in outcomes] == [None] * 4
    claimed = sorted(pk for o in outcomes for pk in o.value)
    assert claimed == sorted(m.pk for m in markets)  # each market by exactly one beat
    for market in markets:
        assert len(_announcements(market)) == 1
        assert Market.objects.get(pk=market.pk).version == market.version + 1
