"""The outbox is read by cursor, at least once, in id order, waiting briefly at gaps."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from predictmarket.models import OutboxEvent
from predictmarket.outbox import (
    GAP_WAIT,
    outbox_acknowledge,
    outbox_append,
    outbox_position,
    outbox_read,
)

CONSUMER = "announcer"


@pytest.fixture
def consumer(db: None) -> str:
    """A consumer whose cursor sits at the newest event before the test's own.

    Ids come from a sequence that does not restart between tests, so the first
    event of a test rarely has id 1.
    """
    baseline = outbox_append(kind="test.baseline", guild_id=None)
    outbox_acknowledge(CONSUMER, baseline.id)
    return CONSUMER


def _append(n: int) -> list[OutboxEvent]:
    return [
        outbox_append(kind="market.created", guild_id=1, aggregate_type="market", aggregate_id=i)
        for i in range(n)
    ]


def _ids(events: list[OutboxEvent]) -> list[int]:
    return [event.id for event in events]


def test_it_reads_events_after_the_cursor_in_order(consumer: str) -> None:
    events = _append(3)
    assert _ids(outbox_read(consumer)) == _ids(events)
    assert _ids(outbox_read(consumer, limit=2)) == _ids(events[:2])
    assert outbox_read(consumer)[0].payload == {}


def test_it_delivers_again_until_acknowledged(consumer: str) -> None:
    events = _append(2)
    assert _ids(outbox_read(consumer)) == _ids(events)
    assert _ids(outbox_read(consumer)) == _ids(events)  # at least once
    outbox_acknowledge(consumer, events[0].id)
    assert _ids(outbox_read(consumer)) == _ids(events[1:])


def test_it_moves_the_cursor_forward_only(consumer: str) -> None:
    events = _append(3)
    outbox_acknowledge(consumer, events[2].id)
    outbox_acknowledge(consumer, events[0].id)  # a slow worker acknowledging late
    assert outbox_position(consumer) == events[2].id
    assert outbox_read(consumer) == []


def test_it_keeps_a_cursor_per_consumer(consumer: str) -> None:
    events = _append(2)
    outbox_acknowledge("metrics", events[1].id)
    assert _ids(outbox_read(consumer)) == _ids(events)
    assert outbox_read("metrics") == []


def test_it_stops_at_a_young_gap(consumer: str) -> None:
    """Event 2 is still committing (invisible): event 3 must wait behind it."""
    first, committing, _third = _append(3)
    committing.delete()
    with time_machine.travel(timezone.now() + GAP_WAIT - timedelta(seconds=1), tick=False):
        assert _ids(outbox_read(consumer)) == [first.id]


def test_it_skips_a_gap_older_than_gap_wait(consumer: str) -> None:
    """Event 2 was rolled back: after GAP_WAIT the reader moves past its id."""
    first, rolled_back, third = _append(3)
    rolled_back.delete()
    with time_machine.travel(timezone.now() + GAP_WAIT + timedelta(seconds=1), tick=False):
        assert _ids(outbox_read(consumer)) == [first.id, third.id]
