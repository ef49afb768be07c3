"""What the bot keeps of its own: which outbox events it has already announced.

The outbox is delivered at least once: after a crash the bot re-reads events
it handled but had not acknowledged. Announcements, and result DMs
(``member.result``, one event per member), are recorded here after they are
posted, so a re-read event is skipped instead of posted twice.
One event may be posted in two places (the announcement channel and the
market's thread), so a delivery is one event in one channel.
"""

from __future__ import annotations

from django.db import models


class DeliveredAnnouncement(models.Model):
    event_id = models.BigIntegerField(help_text="predictmarket.OutboxEvent id")
    kind = models.CharField(max_length=64)
    guild_id = models.BigIntegerField(null=True, blank=True)
    channel_id = models.BigIntegerField(null=True, blank=True)
    message_id = models.BigIntegerField(null=True, blank=True)
    delivered_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            # Recorded only after a post to a channel, so channel_id is always set.
            models.UniqueConstraint(
                fields=["event_id", "channel_id"], name="delivered_once_per_channel"
            )
        ]

    def __str__(self) -> str:
        return f"event #{self.event_id} ({self.kind})"
