"""Two requests with one key (a double click) debit DRIP once and bet once (PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from betting.models import Trade
from betting.services import bet_place
from markets.services import market_create
from points.models import DripTransfer, Guild
from tests.concurrency import run_concurrently
from tests.drip.fake_drip import FakeDrip
from tests.factories import MemberFactory


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_double_click_debits_drip_once(drip_guild: Guild, fake_drip: FakeDrip, settings) -> None:  # type: ignore[no-untyped-def]
    settings.RATE_LIMITS_ENABLED = False
    alice = MemberFactory(guild=drip_guild, display_name="alice")
    fake_drip.add_member(alice.discord_id, 1000)
    market = market_create(
        creator=alice,
        question="Double click?",
        options=["Yes", "No"],
        duration=timedelta(hours=1),
        actor="test",
        bypass_rate_limit=True,
    )

    def click() -> object:
        return bet_place(
            member=alice,
            market_id=market.pk,
            outcome_index=0,
            amount=100,
            idempotency_key="discord:42",
        )

    results = run_concurrently([click, click, click], workers=3)
    assert [r.error for r in results] == [None, None, None]
    assert len({r.value.trade.pk for r in results}) == 1
    assert Trade.objects.count() == 1
    assert fake_drip.patches() == 1
    assert fake_drip.balance(alice.discord_id) == 900
    assert DripTransfer.objects.count() == 1
