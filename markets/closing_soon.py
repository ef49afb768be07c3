"""Closing-soon announcements: each open market, once, when it nears its closing time.

A guild sets how many minutes ahead (``Guild.closing_soon_lead_minutes``; 0 is
off). The beat task runs every minute; each market it finds is claimed with a
conditional ``UPDATE … WHERE closing_soon_announced_at IS NULL`` and the outbox
event is written in the same transaction, so two beats (or a beat and a late
retry) announce a market once. The lead is read from the guild when the task
runs, not copied onto the market: it is a notice, not one of the market's rules,
and a guild that turns it on wants its open markets announced too.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from markets.models import Market, MarketStatus
from markets.services import market_event_payload
from markets.snapshots import market_changed
from points.models import Guild
from predictmarket.outbox import outbox_append

# Markets claimed per guild per run; the next run (a minute later) takes the rest.
BATCH = 500


def markets_announce_closing_soon(*, now: datetime | None = None) -> list[int]:
    """Announce (an outbox event, once per market) every open market within its guild's lead."""
    now = now or timezone.now()
    announced: list[int] = []
    leads = Guild.objects.filter(closing_soon_lead_minutes__gt=0).values_list(
        "pk", "closing_soon_lead_minutes"
    )
    for guild_id, lead_minutes in leads:
        announced += _announce_guild(guild_id, timedelta(minutes=lead_minutes), now)
    return announced


def _announce_guild(guild_id: int, lead: timedelta, now: datetime) -> list[int]:
    # A market already past closes_at is closing, not "closing soon": the close job
    # and its result announcements speak for it.
    due = {
        "status": MarketStatus.OPEN,
        "closing_soon_announced_at__isnull": True,
        "closes_at__gt": now,
        "closes_at__lte": now + lead,
    }
    found = Market.objects.filter(guild_id=guild_id, **due).order_by("closes_at")
    announced = []
    for market_id in found.values_list("pk", flat=True)[:BATCH]:
        with transaction.atomic():
            # The claim: of two concurrent runs, one changes the row and the other
            # matches nothing (PostgreSQL re-checks the WHERE after the first commits).
            claimed = Market.objects.filter(pk=market_id, **due).update(
                closing_soon_announced_at=now, version=F("version") + 1
            )
            if not claimed:
                continue
            market = Market.objects.get(pk=market_id)
            outbox_append(
                kind="market.closing_soon",
                guild_id=guild_id,
                aggregate_type="market",
                aggregate_id=market.pk,
                payload=market_event_payload(
                    market,
                    closes_at=market.closes_at.isoformat(),
                    lead_minutes=int(lead.total_seconds() // 60),
                ),
            )
            market_changed(market, roster=False)
            announced.append(market.pk)
    return announced
