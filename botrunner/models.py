"""What the bot keeps of its own: which outbox events it has already announced.

The outbox is delivered at least once: after a crash the bot re-reads events
it handled but had not acknowledged. Announcements, and result DMs
(``member.result``, one event per member), are recorded here after they are
posted, so a re-read event is skipped instead of posted twice.
"""

from __future__ import annotations

from django.db import models


class DeliveredAnnouncement(models.Model):
    event_id = models.BigIntegerField(unique=True, help_text="predictmarket.OutboxEvent id")
    kind = models.CharField(max_length=64)
    guild_id = models.BigIntegerField(null=True, blank=True)
    channel_id = models.BigIntegerField(null=True, blank=True)
    message_id = models.BigIntegerField(null=True, blank=True)
    delivered_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"event #{self.event_id} ({self.kind})"
