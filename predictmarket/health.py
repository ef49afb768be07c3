"""Liveness and readiness probes.

``/health/live`` answers while the process runs. ``/health/ready`` runs every
registered check (database, cache, broker, and whatever the apps register, such
as the bot heartbeat) and answers 503 naming the check that failed.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from django.core.cache import caches
from django.db import connections
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from predictmarket import heartbeats

Status = Literal["pass", "fail", "warn"]


@dataclass
class CheckResult:
    name: str
    status: Status
    response_time: float = 0.0
    details: dict[str, object] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "status": self.status,
            "response_time": round(self.response_time, 4),
            "details": self.details,
        }


CheckFunction = Callable[[], "dict[str, object] | tuple[Status, dict[str, object]] | None"]
_checks: dict[str, CheckFunction] = {}


def register_check(name: str, check: CheckFunction) -> None:
    """Register a readiness check. It raises on failure, or returns details.

    A check may return ``("warn", details)`` to report a degraded dependency
    that should not take the process out of rotation.
    """
    _checks[name] = check


def check_database() -> dict[str, object]:
    connection = connections["default"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"vendor": connection.vendor}


def check_cache() -> dict[str, object]:
    cache = caches["default"]
    key = f"health:{uuid.uuid4().hex}"
    cache.set(key, "ok", timeout=10)
    value = cache.get(key)
    cache.delete(key)
    if value != "ok":
        raise RuntimeError("cache did not return the value just written")
    return {"backend": type(cache).__name__}


def check_broker() -> dict[str, object]:
    from predictmarket.celery import app

    with app.connection_for_write() as connection:
        connection.ensure_connection(max_retries=1, timeout=2)
        transport = connection.transport_cls
    return {"transport": str(transport)}


register_check("database", check_database)
register_check("cache", check_cache)
register_check("broker", check_broker)
register_check("worker", heartbeats.check_worker)
register_check("beat", heartbeats.check_beat)


def run_checks() -> list[CheckResult]:
    results = []
    for name, check in _checks.items():
        started = time.perf_counter()
        try:
            outcome = check()
            if isinstance(outcome, tuple):
                status, details = outcome
            else:
                status, details = "pass", outcome or {}
        except Exception as exc:  # noqa: BLE001 - any failure makes the check fail
            # The exception type and message name the problem; connection
            # strings are not part of psycopg's or redis' messages.
            status, details = "fail", {"error": f"{type(exc).__name__}: {exc}"[:300]}
        results.append(CheckResult(name, status, time.perf_counter() - started, details))
    return results


@never_cache
@require_GET
def live(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "pass"})


@never_cache
@require_GET
def ready(request: HttpRequest) -> JsonResponse:
    results = run_checks()
    failed = [result.name for result in results if result.status == "fail"]
    body = {
        "status": "fail" if failed else "pass",
        "checks": [result.as_dict() for result in results],
        "timestamp": datetime.now(UTC).isoformat(),
    }
    if failed:
        body["failing"] = failed
    return JsonResponse(body, status=503 if failed else 200)
