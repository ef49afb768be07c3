"""Cross-cutting records: the append-only audit log and the event outbox.

Guild ids here are plain Discord snowflakes, not foreign keys: the core sits
below every app and must not import them.
"""

from __future__ import annotations

from django.db import models


class AuditLogEntry(models.Model):
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    guild_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    actor = models.CharField(max_length=100, help_text="discord:<id>, admin:<username> or system")
    action = models.CharField(max_length=64, db_index=True)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    data = models.JSONField(default=dict, blank=True)
    request_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "audit log entry"
        verbose_name_plural = "audit log"
        indexes = [models.Index(fields=["target_type", "target_id"])]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor} {self.action}"


class OutboxEvent(models.Model):
    """An event appended in the same transaction as the change it describes."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    guild_id = models.BigIntegerField(null=True, blank=True)
    kind = models.CharField(max_length=64, db_index=True)
    aggregate_type = models.CharField(max_length=64, blank=True)
    aggregate_id = models.CharField(max_length=64, blank=True)
    payload = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind} {self.aggregate_type}:{self.aggregate_id}"


class OutboxCursor(models.Model):
    """How far a consumer has read the outbox."""

    consumer = models.CharField(max_length=64, unique=True)
    position = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.consumer} @ {self.position}"
