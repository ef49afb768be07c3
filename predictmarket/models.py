"""Cross-cutting records: the append-only audit log, the event outbox, staff identities.

Guild ids here are plain Discord snowflakes, not foreign keys: the core sits
below every app and must not import them.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

# A Discord snowflake is a positive 64-bit number (stored in a signed BIGINT).
_MAX_SNOWFLAKE = 2**63 - 1


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


class StaffDiscordLink(models.Model):
    """The Discord user a staff user *is*: one person, whichever way they act.

    A linked staff user's resolution votes in the admin (or with an admin
    session in the API) are cast as that Discord user, so they count once with
    the same person's votes from ``/resolve`` or an API key. Superusers set it in
    the User admin; signing in with Discord will fill the same row.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="discord_link"
    )
    discord_id = models.BigIntegerField(
        unique=True,  # one Discord user is one person: two staff accounts cannot share them
        validators=[MinValueValidator(1), MaxValueValidator(_MAX_SNOWFLAKE)],
        help_text="The Discord user id of this person (Developer Mode: right-click the user, "
        "Copy User ID). Their votes in the admin then count as that Discord user's.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "Discord account"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(discord_id__gte=1), name="staff_discord_link_id_positive"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} = Discord user {self.discord_id}"


class ProcessHeartbeat(models.Model):
    """The last time a background process (the Celery worker, beat) proved it was working.

    Kept in the database, which every process shares on every configuration
    (the cache is per process on the embedded defaults). ``/health/ready``
    fails when a stamp is stale, so a dead worker or beat is a failing check,
    not silence.
    """

    name = models.CharField(max_length=32, primary_key=True)
    beat_at = models.DateTimeField()
    host = models.CharField(max_length=255, blank=True)

    class Meta:
        verbose_name = "process heartbeat"

    def __str__(self) -> str:
        return f"{self.name} at {self.beat_at:%Y-%m-%d %H:%M:%S}"
