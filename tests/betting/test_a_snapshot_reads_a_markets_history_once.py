"""Building a decided market's snapshot reads its decisions once: the one-line history is
made from the steps already loaded, not from a second read of the corrections and votes."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from markets.corrections import history_sentence
from markets.models import MarketCorrection, ResolutionVote
from markets.snapshots import snapshot_build
from tests.betting.test_correcting_a_market import correct, end, twin_markets
from tests.markets.helpers import make_guild


@pytest.mark.django_db
def test_a_corrected_markets_snapshot_reads_its_corrections_and_votes_once() -> None:
    guild = make_guild(default_liquidity=100)
    _, market, _ = twin_markets(guild)
    end(market, outcome_index=0)
    market = correct(market, outcome_index=1)

    with CaptureQueriesContext(connection) as queries:
        snapshot = snapshot_build(guild_id=market.guild_id, market_id=market.pk)

    def reads_of(table: str) -> int:
        return sum(f'FROM "{table}"' in q["sql"] for q in queries.captured_queries)

    assert reads_of(MarketCorrection._meta.db_table) == 1
    assert reads_of(ResolutionVote._meta.db_table) == 1
    assert snapshot.history_text == history_sentence(market)
    assert snapshot.history_text.startswith("resolved Yes, corrected to resolved No by ")
