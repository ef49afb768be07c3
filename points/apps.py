from __future__ import annotations

from django.apps import AppConfig


class PointsConfig(AppConfig):
    name = "points"
    verbose_name = "Points ledger"

    def ready(self) -> None:
        from points import public_guild  # noqa: F401  (connects its post_save receiver)
        from predictmarket.health import register_check

        register_check("drip", drip_health)


def drip_health() -> tuple[str, dict[str, object]]:
    """DRIP for the guilds that use it: degraded (warn), never failing, when it is down.

    Reads the circuit breakers' state and the delivery queue rather than calling
    DRIP: probes come often and DRIP's rate limits are small.
    """
    import pybreaker

    from points.drip.client import breaker_for
    from points.models import DripTransfer, DripTransferStatus, Guild, PointsBackend

    realms = list(
        Guild.objects.filter(points_backend=PointsBackend.DRIP)
        .exclude(drip_realm_id="")
        .values_list("drip_realm_id", flat=True)
        .distinct()
    )
    if not realms:
        return "pass", {"guilds": 0}
    down = [realm for realm in realms if breaker_for(realm).current_state == pybreaker.STATE_OPEN]
    queued = DripTransfer.objects.filter(
        status__in=[DripTransferStatus.PENDING, DripTransferStatus.SENDING]
    ).count()
    ambiguous = DripTransfer.objects.filter(status=DripTransferStatus.AMBIGUOUS).count()
    details = {
        "realms": len(realms),
        "down": down,
        "queued_credits": queued,
        "ambiguous": ambiguous,
    }
    return ("warn" if down or ambiguous else "pass"), details
