"""The week's and the month's leaders, announced once per guild when the period ends.

Periods are fixed calendar spans in UTC: the ISO week (Monday 00:00 to the next
Monday) and the calendar month. A beat task (``betting.post_period_leaders``)
calls ``period_leaders_post_due`` every few minutes; for each guild with an
announcement channel and each period kind it claims the period that ended
last by inserting its ``PeriodPost`` row (UNIQUE guild, period, start), and in
the same transaction appends the ``leaderboard.period_ended`` outbox event the
bot posts. A second beat, a retry or a concurrent worker finds the row taken
and posts nothing.

The period's board is the profit board bounded to the period: points received -
spent on the markets settled in it (``compute_board(since=…, until=…)``, the
index-backed statement of ``betting.leaderboards``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from betting.leaderboards import compute_board
from betting.models import LeaderboardPeriod, PeriodPost
from points.models import Guild
from predictmarket.outbox import outbox_append

POSTED_ROWS = 10  # members named in a period's announcement

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Span:
    period: str
    starts_at: datetime
    ends_at: datetime


def ended_span(period: str, *, now: datetime) -> Span:
    """The last whole ISO week or calendar month (UTC) that ended at or before ``now``."""
    now = now.astimezone(UTC)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == LeaderboardPeriod.WEEK:
        ends = midnight - timedelta(days=now.weekday())  # this week's Monday 00:00
        return Span(period, ends - timedelta(days=7), ends)
    if period == LeaderboardPeriod.MONTH:
        ends = midnight.replace(day=1)
        starts = (ends - timedelta(days=1)).replace(day=1)
        return Span(period, starts, ends)
    raise ValueError(period)


def period_leaders_post(*, guild_id: int, period: str, now: datetime) -> PeriodPost | None:
    """Claim and announce the guild's leaders of the period ended by ``now`` (once).

    Returns the claim, or None when it was already taken. A period in which no
    member won or lost anything is claimed and not announced.
    """
    span = ended_span(period, now=now)
    try:
        with transaction.atomic():
            post = PeriodPost.objects.create(
                guild_id=guild_id, period=period, starts_at=span.starts_at, ends_at=span.ends_at
            )
            board = compute_board(
                guild_id, board="profit", since=span.starts_at, until=span.ends_at
            )
            top = [row for row in board.rows if row.profit != 0][:POSTED_ROWS]
            if top:
                outbox_append(
                    kind="leaderboard.period_ended",
                    guild_id=guild_id,
                    aggregate_type="period",
                    aggregate_id=post.pk,
                    payload={
                        "period": period,
                        "starts_at": span.starts_at.isoformat(),
                        "ends_at": span.ends_at.isoformat(),
                        "top": [
                            {
                                "rank": row.rank,
                                "display_name": row.display_name,
                                "profit": int(row.profit),
                            }
                            for row in top
                        ],
                    },
                )
                post.members_listed = len(top)
                post.save(update_fields=["members_listed"])
    except IntegrityError:
        # Another beat (or an earlier run) claimed this guild's period: it posts, not us.
        return None
    return post


def period_leaders_post_due(*, now: datetime | None = None) -> int:
    """Announce every guild's ended week and month not announced yet; the number claimed."""
    now = now or timezone.now()
    claimed = 0
    for period in LeaderboardPeriod.values:
        span = ended_span(period, now=now)
        taken = PeriodPost.objects.filter(period=period, starts_at=span.starts_at).values(
            "guild_id"
        )
        due = (
            Guild.objects.filter(announcement_channel_id__isnull=False, created_at__lt=span.ends_at)
            .exclude(pk__in=taken.values("guild_id"))
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        for guild_id in due:
            try:
                claimed += (
                    period_leaders_post(guild_id=guild_id, period=period, now=now) is not None
                )
            except Exception:
                # One guild's failure must not keep every guild after it unannounced: it
                # is logged (and in Sentry), and retried at the next beat.
                logger.exception("posting guild %s's %s leaders failed", guild_id, period)
    return claimed
