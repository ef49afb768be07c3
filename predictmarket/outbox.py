"""The event outbox: append with the change, read by cursor, at least once.

Ids come from a sequence and are handed out when a row is inserted, but
transactions commit in any order, so a reader can see event 12 before event 11
commits. ``outbox_read`` therefore stops at a gap in the ids unless the gap is
older than ``GAP_WAIT`` (a rolled-back transaction leaves a gap for ever).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from predictmarket.models import OutboxCursor, OutboxEvent

GAP_WAIT = timedelta(seconds=10)


def outbox_append(
    *,
    kind: str,
    guild_id: int | None,
    aggregate_type: str = "",
    aggregate_id: object = "",
    payload: dict[str, Any] | None = None,
) -> OutboxEvent:
    return OutboxEvent.objects.create(
        kind=kind,
        guild_id=guild_id,
        aggregate_type=aggregate_type,
        aggregate_id=str(aggregate_id),
        payload=payload or {},
    )


def outbox_append_many(
    *,
    kind: str,
    guild_id: int | None,
    aggregate_type: str = "",
    events: list[tuple[object, dict[str, Any]]],
) -> list[OutboxEvent]:
    """Append one event per ``(aggregate_id, payload)`` in one INSERT (same transaction rules)."""
    return OutboxEvent.objects.bulk_create(
        [
            OutboxEvent(
                kind=kind,
                guild_id=guild_id,
                aggregate_type=aggregate_type,
                aggregate_id=str(aggregate_id),
                payload=payload,
            )
            for aggregate_id, payload in events
        ],
        batch_size=1000,
    )


def outbox_position(consumer: str) -> int:
    cursor = OutboxCursor.objects.filter(consumer=consumer).first()
    return cursor.position if cursor else 0


def outbox_cursor_ensure(consumer: str, *, start_from: str) -> int:
    """Give a new consumer its cursor at ``start_from``'s position; its position either way.

    A consumer added to a running deployment would otherwise start at 0 and read
    the outbox's whole history first. Events up to ``start_from``'s position were
    handled by that consumer (whatever it handled then), so nothing is skipped
    that had not been seen.
    """
    with transaction.atomic():
        cursor, _ = OutboxCursor.objects.get_or_create(
            consumer=consumer, defaults={"position": outbox_position(start_from)}
        )
    return cursor.position


def outbox_read(consumer: str, *, limit: int = 100) -> list[OutboxEvent]:
    """Events after the consumer's cursor, in id order, stopping at a young gap."""
    position = outbox_position(consumer)
    events = list(OutboxEvent.objects.filter(id__gt=position).order_by("id")[:limit])
    cutoff = timezone.now() - GAP_WAIT
    ready: list[OutboxEvent] = []
    expected = position + 1
    for event in events:
        if event.id != expected and event.created_at > cutoff:
            break  # an earlier event may still be committing
        ready.append(event)
        expected = event.id + 1
    return ready


def outbox_acknowledge(consumer: str, position: int) -> None:
    """Move the cursor forward (never back) once events up to ``position`` are handled."""
    with transaction.atomic():
        cursor, _ = OutboxCursor.objects.select_for_update().get_or_create(consumer=consumer)
        if position > cursor.position:
            cursor.position = position
            cursor.save(update_fields=["position", "updated_at"])
