"""Moderators are reminded once of a market left undecided 24 hours after it closed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import time_machine

from markets.models import Market
from markets.services import markets_remind_unresolved
from markets.tasks import remind_moderators
from points.models import Member
from predictmarket.models import OutboxEvent
from tests.markets.helpers import decide, make_market

START = datetime(2030, 6, 1, 9, 0, tzinfo=UTC)


def _reminders(market: Market) -> int:
    return OutboxEvent.objects.filter(kind="market.reminder", aggregate_id=str(market.pk)).count()


def test_it_reminds_moderators_once_after_24_hours(creator: Member) -> None:
    with time_machine.travel(START, tick=False) as clock:
        market = make_market(creator, duration=timedelta(hours=1))

        clock.move_to(START + timedelta(hours=1) + timedelta(hours=24) - timedelta(minutes=1))
        assert markets_remind_unresolved() == []
        assert _reminders(market) == 0

        clock.move_to(START + timedelta(hours=25))
        assert remind_moderators() == 1  # the beat task
        assert _reminders(market) == 1
        event = OutboxEvent.objects.get(kind="market.reminder")
        assert event.payload["votes_needed"] == creator.guild.min_resolution_votes

        clock.shift(timedelta(hours=6))
        assert markets_remind_unresolved() == []
        assert _reminders(market) == 1


def test_it_does_not_remind_about_a_decided_market(creator: Member) -> None:
    with time_machine.travel(START, tick=False) as clock:
        market = make_market(creator, duration=timedelta(hours=1))
        clock.shift(timedelta(hours=2))
        decide(market, outcome_index=0)

        clock.shift(timedelta(days=2))
        assert markets_remind_unresolved() == []
        assert _reminders(market) == 0
