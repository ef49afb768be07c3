"""A trade's own statements are counted and timed by django-prometheus and are Sentry spans.

They run on a hand-made server-binding cursor (``predictmarket.db``), which
the database backend's instrumentation would not see by itself; wrapped in
Django's cursor they are reported like every ORM query. (OpenTelemetry:
``tests/api/test_a_bet_is_one_trace.py``.)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sentry_sdk
from django.db import connection
from prometheus_client import REGISTRY
from sentry_sdk.envelope import Envelope
from sentry_sdk.integrations.django import DjangoIntegration
from sentry_sdk.transport import Transport

from predictmarket.db import statements_recorded
from tests.betting.helpers import bet
from tests.markets.helpers import make_guild, make_market, make_member

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _sample(name: str) -> float:
    labels = {"alias": connection.alias, "vendor": connection.vendor}
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_bets_statements_are_counted_and_timed_by_django_prometheus() -> None:
    guild = make_guild()
    market = make_market(make_member(guild, "creator"))
    member = make_member(guild, "bettor")
    bet(member, market, 0, 10)
    executed, timed = (
        _sample("django_db_execute_total"),
        _sample("django_db_query_duration_seconds_count"),
    )
    seconds = _sample("django_db_query_duration_seconds_sum")

    with statements_recorded() as statements:
        bet(member, market, 1, 20)

    assert any("betting_trade_write(" in s.sql for s in statements)
    # Every statement of the bet (the retry check, the lock read, the trade's
    # write with its COMMIT) is counted and timed; there is no other.
    assert _sample("django_db_execute_total") - executed == len(statements) == 3
    assert _sample("django_db_query_duration_seconds_count") - timed == 3
    assert _sample("django_db_query_duration_seconds_sum") > seconds


class _Captured(Transport):
    def __init__(self, options: Any = None) -> None:
        super().__init__(options)
        self.envelopes: list[Envelope] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        self.envelopes.append(envelope)

    def transactions(self) -> list[dict[str, Any]]:
        return [
            item.payload.json
            for envelope in self.envelopes
            for item in envelope.items
            if item.type == "transaction" and item.payload.json
        ]


@pytest.fixture
def sentry() -> Iterator[_Captured]:
    transport = _Captured()
    sentry_sdk.init(
        dsn="https://public@sentry.invalid/1",
        integrations=[DjangoIntegration()],
        traces_sample_rate=1.0,
        transport=transport,
        default_integrations=False,
    )
    try:
        yield transport
    finally:
        sentry_sdk.get_client().close()
        sentry_sdk.get_global_scope().set_client(None)


def test_a_bets_statements_are_sentry_spans(sentry: _Captured) -> None:
    guild = make_guild()
    market = make_market(make_member(guild, "creator"))
    member = make_member(guild, "bettor")

    with sentry_sdk.start_transaction(name="a bet", op="test"):
        bet(member, market, 0, 10)
    sentry_sdk.flush()

    [transaction] = [t for t in sentry.transactions() if t.get("transaction") == "a bet"]
    queries = [s["description"] for s in transaction["spans"] if s["op"] == "db"]
    assert any("FOR UPDATE" in q for q in queries), queries  # the market lock read
    assert any("betting_trade_write(" in q for q in queries), queries  # the trade's write
