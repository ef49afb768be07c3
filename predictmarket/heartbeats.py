"""Heartbeats of the Celery worker and beat, and the readiness checks that read them.

The worker's consumer loop and beat's scheduler loop each write a stamp every
``INTERVAL`` seconds (``predictmarket.worker_metrics`` hooks them in). The web's
``/health/ready`` fails a check when its stamp is older than ``STALE_AFTER``
or was never written: without a worker nothing closes, settles or delivers, and
without beat nothing is ever scheduled, so either being down is an outage of
the product even while the web answers.
"""

from __future__ import annotations

import socket

from django.conf import settings
from django.utils import timezone

# Models are imported inside the functions: ``predictmarket.celery`` imports this
# module (through ``worker_metrics``) before Django is set up.

WORKER = "worker"
BEAT = "beat"
INTERVAL = 15
STALE_AFTER = 90


def heartbeat_write(name: str) -> None:
    from predictmarket.models import ProcessHeartbeat

    ProcessHeartbeat.objects.update_or_create(
        name=name, defaults={"beat_at": timezone.now(), "host": socket.gethostname()[:255]}
    )


def heartbeat_age(name: str) -> float | None:
    """Seconds since ``name`` last beat, or None when it never has."""
    from predictmarket.models import ProcessHeartbeat

    stamp = ProcessHeartbeat.objects.filter(name=name).values_list("beat_at", flat=True).first()
    if stamp is None:
        return None
    return max(0.0, (timezone.now() - stamp).total_seconds())


def _check(name: str, what: str) -> dict[str, object]:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        # Tasks run inside the caller; no worker or beat is expected.
        return {"eager": True}
    age = heartbeat_age(name)
    if age is None:
        raise RuntimeError(f"the {what} is down: it has never sent a heartbeat")
    if age >= STALE_AFTER:
        raise RuntimeError(f"the {what} is down: last heartbeat {int(age)} s ago")
    return {"heartbeat_age_seconds": round(age, 1)}


def check_worker() -> dict[str, object]:
    return _check(WORKER, "Celery worker")


def check_beat() -> dict[str, object]:
    return _check(BEAT, "Celery beat scheduler")
