"""``make run`` loads a demo guild through the services: it must keep working as rules change."""

from __future__ import annotations

import pytest

from betting.demo import DEMO_GUILD_ID, load_demo_data
from markets.models import Market, MarketStatus
from tests.markets.helpers import assert_ledger_sound

pytestmark = pytest.mark.django_db


def test_the_demo_guild_has_open_resolved_and_refunded_markets(settings) -> None:  # type: ignore[no-untyped-def]
    settings.RATE_LIMITS_ENABLED = False

    load_demo_data()

    statuses = sorted(
        Market.objects.filter(guild_id=DEMO_GUILD_ID).values_list("status", flat=True)
    )
    assert statuses.count(MarketStatus.OPEN) == 3
    assert MarketStatus.RESOLVED in statuses and MarketStatus.CANCELLED in statuses
    assert not Market.objects.filter(
        guild_id=DEMO_GUILD_ID, status__in=["resolved", "cancelled"], settled_at__isnull=True
    ).exists()
    assert load_demo_data() == "already loaded"
    assert_ledger_sound()
