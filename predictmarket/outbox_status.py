"""How far behind each outbox consumer is: events after its cursor, and the oldest's age.

A consumer's lag is every event after its cursor, whether or not it will act
on it: it has to read past them all. Consumers are those that have a cursor
and those registered by the apps that run them (``register_outbox_consumer``,
so a consumer that never started shows its whole backlog instead of nothing).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Min

from predictmarket.models import OutboxCursor, OutboxEvent

_registered: set[str] = set()


def register_outbox_consumer(name: str) -> None:
    """Called from an AppConfig.ready(): this process's code reads the outbox as ``name``."""
    _registered.add(name)


@dataclass(frozen=True)
class ConsumerLag:
    consumer: str
    position: int  # the last event id it acknowledged (0: none yet)
    pending: int
    oldest_pending_at: datetime | None
    cursor_updated_at: datetime | None

    def oldest_age(self, now: datetime) -> timedelta | None:
        return None if self.oldest_pending_at is None else now - self.oldest_pending_at


def outbox_lag(
    *, consumers: list[str] | None = None, guild_id: int | None = None
) -> list[ConsumerLag]:
    """Each consumer's lag, by name; ``guild_id`` counts only that guild's events."""
    cursors = {c.consumer: c for c in OutboxCursor.objects.all()}
    names = sorted(set(consumers) if consumers else {*cursors, *_registered})
    events = OutboxEvent.objects.all()
    if guild_id is not None:
        events = events.filter(guild_id=guild_id)
    lags = []
    for name in names:
        cursor = cursors.get(name)
        position = cursor.position if cursor else 0
        after = events.filter(id__gt=position).aggregate(
            pending=Count("id"), oldest=Min("created_at")
        )
        lags.append(
            ConsumerLag(
                consumer=name,
                position=position,
                pending=after["pending"],
                oldest_pending_at=after["oldest"],
                cursor_updated_at=cursor.updated_at if cursor else None,
            )
        )
    return lags
