"""A real gunicorn (preloaded app, two workers) with an OTLP endpoint exports each request's trace.

The master imports the app and instruments it before any worker exists; each
worker sets its own tracer provider after the fork (``post_fork``). A bet sent
to the server must arrive at the collector as one trace: the request span with
its database spans, from the web service.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tests.api.gunicorn_server import (
    drop_database,
    gunicorn,
    migrate_and_seed,
    recreate_database,
    scratch_database_url,
    server_environment,
)
from tests.otlp_collector import serving

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

BET_ROUTE = "POST api/v1/markets/<int:market_id>/bets/"


def test_a_bet_arrives_at_the_collector_as_one_trace(tmp_path: Path) -> None:
    database_url = scratch_database_url("traces")
    recreate_database(database_url)
    env = server_environment(database_url)
    try:
        seed = migrate_and_seed(env)
        with serving() as collector:
            env.update(
                OTEL_EXPORTER_OTLP_ENDPOINT=collector.endpoint,
                OTEL_BSP_SCHEDULE_DELAY="100",  # export within 0.1 s, not 5 s
            )
            env.pop("OTEL_SERVICE_NAME", None)
            with gunicorn(env, tmp_path / "gunicorn.log", workers=2, threads=2) as server:
                response = requests.post(
                    f"{server.base_url}/api/v1/markets/{seed['markets']['open']}/bets/",
                    json={"outcome": 0, "amount": 7},
                    headers={"Authorization": f"Bearer {seed['member_key']}"},
                    timeout=30,
                )
                assert response.status_code == 201, response.text

                def request_span():
                    return [s for _, s in collector.spans() if s.name == BET_ROUTE]

                collector.wait_for(lambda: bool(request_span()))
                # Its spans end before it does: they are in the same export or an earlier one.
                [root] = request_span()
            trace = [(r, s) for r, s in collector.spans() if s.trace_id == root.trace_id]
            assert {r["service.name"] for r, _ in trace} == {"predictmarket-web"}
            assert not root.parent_span_id
            statements = [
                a.value.string_value
                for _, s in trace
                for a in s.attributes
                if a.key == "db.statement"
            ]
            assert any("betting_trade_write(" in sql for sql in statements), statements
    finally:
        drop_database(database_url)
