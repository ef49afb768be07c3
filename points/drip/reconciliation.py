"""DRIP reconciliation: what our ledger says we moved against what DRIP reports.

For each member of a DRIP guild with transfers, the last transfer whose
resulting balance we saw (``balance_after``) plus every transfer applied after
it gives the balance we expect at DRIP. A difference is *drift*: DRIP activity
outside this project (earning points elsewhere) shows up here too, which is
why drift is reported with its transfers for a person to judge and is never
"fixed" automatically. Pending-too-long and ambiguous transfers are reported
as well.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.utils import timezone
from prometheus_client import Gauge

from points.drip.client import DripError
from points.drip.services import drip_client_for
from points.models import DripTransfer, DripTransferStatus, Guild, PointsBackend

logger = logging.getLogger(__name__)

DRIFT_MEMBERS = Gauge(
    "predictmarket_drip_drift_members",
    "DRIP members whose balance differs from expectations",
    ["guild"],
    # Set by the worker's children: the last run's figure, not one per process.
    multiprocess_mode="mostrecent",
)
STUCK_TRANSFERS = Gauge(
    "predictmarket_drip_stuck_transfers",
    "DRIP transfers pending or sending over an hour, or ambiguous",
    ["guild"],
    # Set by the worker's children: the last run's figure, not one per process.
    multiprocess_mode="mostrecent",
)
STUCK_AFTER = timedelta(hours=1)


@dataclass
class MemberDrift:
    member_id: int
    discord_id: int
    expected: int
    reported: int

    @property
    def drift(self) -> int:
        return self.reported - self.expected


@dataclass
class DripReconciliation:
    guild_id: int
    checked: int = 0
    drifts: list[MemberDrift] = field(default_factory=list)
    stuck: list[str] = field(default_factory=list)
    unreachable: str = ""

    @property
    def ok(self) -> bool:
        return not self.drifts and not self.stuck and not self.unreachable


def drip_reconcile_guild(guild: Guild) -> DripReconciliation:
    report = DripReconciliation(guild.pk)
    now = timezone.now()
    report.stuck = list(
        DripTransfer.objects.filter(guild=guild)
        .filter(status__in=[DripTransferStatus.AMBIGUOUS])
        .values_list("idempotency_key", flat=True)
    ) + list(
        DripTransfer.objects.filter(
            guild=guild,
            status__in=[DripTransferStatus.PENDING, DripTransferStatus.SENDING],
            created_at__lt=now - STUCK_AFTER,
        ).values_list("idempotency_key", flat=True)
    )
    member_ids = (
        DripTransfer.objects.filter(guild=guild, status=DripTransferStatus.APPLIED)
        .values_list("member_id", flat=True)
        .distinct()
    )
    try:
        client = drip_client_for(guild)
        for member_id in member_ids:
            applied = list(
                DripTransfer.objects.filter(member_id=member_id, status=DripTransferStatus.APPLIED)
                .select_related("member")
                .order_by("applied_at", "pk")
            )
            anchor = max(
                (i for i, t in enumerate(applied) if t.balance_after is not None), default=None
            )
            if anchor is None:
                continue
            expected = applied[anchor].balance_after + sum(t.amount for t in applied[anchor + 1 :])
            member = applied[0].member
            reported = client.find_member(member.discord_id).balance
            report.checked += 1
            if reported != expected:
                report.drifts.append(MemberDrift(member_id, member.discord_id, expected, reported))
    except DripError as exc:
        report.unreachable = exc.message
    DRIFT_MEMBERS.labels(str(guild.pk)).set(len(report.drifts))
    STUCK_TRANSFERS.labels(str(guild.pk)).set(len(report.stuck))
    if not report.ok:
        logger.error(
            "DRIP reconciliation found differences in guild %s",
            guild.pk,
            extra={
                "drifts": [d.__dict__ | {"drift": d.drift} for d in report.drifts[:50]],
                "stuck": report.stuck[:50],
                "unreachable": report.unreachable,
            },
        )
        import sentry_sdk

        sentry_sdk.capture_message(f"DRIP drift in guild {guild.pk}", level="error")
    return report


def drip_reconcile_all() -> list[DripReconciliation]:
    return [
        drip_reconcile_guild(guild)
        for guild in Guild.objects.filter(points_backend=PointsBackend.DRIP)
    ]
