"""The append-only audit log: who did what to which object."""

from __future__ import annotations

from typing import Any

from django.db import models

from predictmarket.logging import current_request_id
from predictmarket.models import AuditLogEntry


def audit_record(
    *,
    actor: str,
    action: str,
    guild_id: int | None = None,
    target: models.Model | None = None,
    data: dict[str, Any] | None = None,
) -> AuditLogEntry:
    """Append an entry; call inside the service's transaction so both commit together."""
    request_id = current_request_id()
    return AuditLogEntry.objects.create(
        actor=actor[:100],
        action=action,
        guild_id=guild_id,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        data=data or {},
        request_id="" if request_id == "-" else request_id,
    )
