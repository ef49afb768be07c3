"""Writes to the bot's own tables (announcement markers)."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from botrunner.models import DeliveredAnnouncement


def announcement_delivered(*, event_id: int, channel_id: int | None = None) -> bool:
    """Whether the event was already posted in that channel (announcements or a thread).

    Without a channel: posted anywhere (a result DM has one place, its DM channel).
    """
    delivered = DeliveredAnnouncement.objects.filter(event_id=event_id)
    if channel_id is not None:
        delivered = delivered.filter(channel_id=channel_id)
    return delivered.exists()


def announcement_record(
    *,
    event_id: int,
    kind: str,
    guild_id: int | None = None,
    channel_id: int | None = None,
    message_id: int | None = None,
) -> bool:
    """Remember that an event was announced in a channel; False if it already was."""
    try:
        with transaction.atomic():
            DeliveredAnnouncement.objects.create(
                event_id=event_id,
                kind=kind,
                guild_id=guild_id,
                channel_id=channel_id,
                message_id=message_id,
            )
    except IntegrityError:
        return False
    return True
