"""The bot's heartbeat in the Django cache, and the web's health check that reads it.

The bot writes a timestamp every ``INTERVAL`` seconds while it is connected;
``/health/ready`` in the web process reports the bot as down when the stamp is
older than ``STALE_AFTER``. Down is a *warning*, not a failure: the web keeps
serving (and stays in the load balancer) while the bot restarts.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache

KEY = "botrunner:heartbeat"
INTERVAL = 30
STALE_AFTER = 90


def heartbeat_write(now: float | None = None) -> None:
    # Kept well past STALE_AFTER so the check can say how long the bot has been down.
    cache.set(KEY, now if now is not None else time.time(), timeout=24 * 3600)


def check_bot() -> dict[str, object] | tuple[str, dict[str, object]]:
    """Health check "bot": only meaningful where the bot is configured (DISCORD_TOKEN set)."""
    if not settings.DISCORD_TOKEN:
        return {"configured": False}
    stamp = cache.get(KEY)
    if stamp is None:
        return "warn", {"error": "the bot is down: it has never sent a heartbeat"}
    age = time.time() - float(stamp)
    if age >= STALE_AFTER:
        return "warn", {"error": f"the bot is down: last heartbeat {int(age)} s ago"}
    return {"heartbeat_age_seconds": round(age, 1)}
