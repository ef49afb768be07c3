"""Bets and volume on the web's /metrics add up across gunicorn's workers.

gunicorn runs two worker processes with ``PROMETHEUS_MULTIPROC_DIR`` set (the
production set-up), on a scratch database seeded with an open market. Bets are
sent concurrently through the API until both workers have served some; the
scraped counters must equal what was placed, whichever worker answered the
scrape. A replayed request (same idempotency key) is not a second trade.
"""

from __future__ import annotations

import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from prometheus_client.multiprocess import MultiProcessCollector

from tests.api.gunicorn_server import (
    drop_database,
    gunicorn,
    migrate_and_seed,
    recreate_database,
    scratch_database_url,
    server_environment,
)

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def counter(metrics: str, name: str, side: str) -> float:
    match = re.search(rf'^{name}\{{side="{side}"\}} (\S+)$', metrics, re.M)
    return float(match.group(1)) if match else 0.0


def trades_per_worker(directory: Path) -> list[float]:
    """``predictmarket_trades_total`` as each worker process's own file holds it."""
    counts = []
    for path in sorted(directory.glob("counter_*.db")):
        metrics = MultiProcessCollector._read_metrics([str(path)])
        family = metrics.get("predictmarket_trades")
        counts.append(sum(s.value for s in family.samples) if family else 0.0)
    return counts


def test_bets_and_volume_are_summed_over_every_web_worker(tmp_path: Path) -> None:
    database_url = scratch_database_url("counters")
    recreate_database(database_url)
    multiproc = tmp_path / "metrics"  # gunicorn empties it at start: migrate's files go
    multiproc.mkdir()
    env = server_environment(database_url)
    env["PROMETHEUS_MULTIPROC_DIR"] = str(multiproc)
    try:
        seed = migrate_and_seed(env)
        market = seed["markets"]["open"]
        with gunicorn(env, tmp_path / "gunicorn.log", workers=2, threads=2) as server:
            headers = {"Authorization": f"Bearer {seed['member_key']}"}

            def bet(key: str) -> int:
                response = requests.post(
                    f"{server.base_url}/api/v1/markets/{market}/bets/",
                    json={"outcome": 0, "amount": 7},
                    headers={**headers, "Idempotency-Key": key},
                    timeout=30,
                )
                return response.status_code

            keys = [uuid.uuid4().hex for _ in range(40)]
            with ThreadPoolExecutor(max_workers=8) as pool:
                statuses = list(pool.map(bet, keys))
            assert statuses == [201] * len(keys)
            assert bet(keys[0]) in (200, 201)  # a replay: no new trade, not counted

            # Both workers placed bets: each counted some in its own file.
            assert len([n for n in trades_per_worker(multiproc) if n > 0]) == 2

            for _ in range(4):  # every scrape, whichever worker answers it, sums both
                metrics = requests.get(f"{server.base_url}/metrics", timeout=10).text
                assert counter(metrics, "predictmarket_trades_total", "buy") == len(keys)
                assert counter(metrics, "predictmarket_trade_points_total", "buy") == 7 * len(keys)
    finally:
        drop_database(database_url)
