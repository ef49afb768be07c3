"""Tracing on: one bet through the API is one trace, its database work inside the request's span."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.trace import SpanKind
from rest_framework.test import APIClient

from betting.models import Trade
from markets.models import Market
from tests.api.helpers import url

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def ancestors(span: Any, by_id: dict[int, Any]) -> list[Any]:
    chain = []
    while span.parent is not None:
        span = by_id[span.parent.span_id]
        chain.append(span)
    return chain


def test_a_bet_is_one_trace_with_its_database_spans(
    alice: APIClient, market: Market, spans: Any
) -> None:
    spans.clear()  # the fixtures' own queries are not the request's

    response = alice.post(url("bets", market), {"outcome": 0, "amount": 50}, format="json")

    assert response.status_code == 201, response.content
    finished = spans.get_finished_spans()
    assert len({span.context.trace_id for span in finished}) == 1, [s.name for s in finished]
    [root] = [span for span in finished if span.parent is None]
    assert root.kind is SpanKind.SERVER
    assert root.name == "POST api/v1/markets/<int:market_id>/bets/"
    by_id = {span.context.span_id: span for span in finished}
    database = [span for span in finished if span.attributes.get("db.system") == "postgresql"]
    cache = [span for span in finished if span.attributes.get("db.system") == "redis"]
    assert database and cache  # the rate limiter's counters are in Redis
    assert all(root in ancestors(span, by_id) for span in database + cache)
    # The bet's own statements (predictmarket.db's HotCursor), not only the ORM's.
    statements = [str(span.attributes.get("db.statement", "")) for span in database]
    assert any("betting_trade_write(" in sql for sql in statements), statements
    assert Trade.objects.count() == 1
