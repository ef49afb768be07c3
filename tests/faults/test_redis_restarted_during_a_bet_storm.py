"""Redis dies and comes back while clients bet through the API of a real gunicorn.

The web's cache (the rate limiter counts every bet in it) and broker are a
private Redis that the test SIGKILLs mid-storm and starts again on the same
port; PostgreSQL is a scratch database on the shared server. While Redis is
gone every bet fails with the JSON error envelope and changes nothing; once it
is back, bets succeed again through the same gunicorn processes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
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
from tests.faults.servers import PrivateRedis, private_redis
from tests.faults.storm import (
    Storm,
    assert_every_answer_is_a_bet_or_the_envelope,
    assert_ledger_reconciles,
    assert_no_bet_half_applied,
    is_error_envelope,
    is_success,
)

pytestmark = [pytest.mark.faults, pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

OUTAGE_SECONDS = 2.0


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[PrivateRedis]:
    with private_redis(tmp_path) as server:
        yield server


@pytest.fixture
def database_url() -> Iterator[str]:
    url = scratch_database_url("faults_redis")
    recreate_database(url)
    try:
        yield url
    finally:
        drop_database(url)


def test_bets_fail_cleanly_while_redis_is_down_and_succeed_once_it_is_back(
    redis_server: PrivateRedis, database_url: str, tmp_path: Path
) -> None:
    env = server_environment(database_url)
    env.update(
        REDIS_URL=redis_server.url(0),
        CELERY_BROKER_URL=redis_server.url(1),
        # The limiter on, with limits no storm reaches: every bet reads and writes Redis.
        RATE_LIMITS_ENABLED="true",
        RATE_LIMIT_BETS_PER_MINUTE="1000000",
        RATE_LIMIT_COMMANDS_PER_MINUTE="1000000",
        RATE_LIMIT_GUILD_COMMANDS_PER_MINUTE="1000000",
        # A storm of 1-point bets must never run the bettor out of points.
        STARTING_BALANCE="1000000",
    )
    seed = migrate_and_seed(env)
    with gunicorn(env, tmp_path / "gunicorn.log") as server:
        storm = Storm(server.base_url, str(seed["member_key"]), int(seed["markets"]["open"]))
        outage: dict[str, float] = {}

        def restart_redis() -> None:
            time.sleep(1.0)  # bets succeed first
            outage["from"] = time.monotonic()
            redis_server.stop()
            time.sleep(OUTAGE_SECONDS)
            redis_server.start()
            outage["to"] = time.monotonic()
            time.sleep(1.0)  # and again after

        storm.run(restart_redis)
        web_pids = server.process.pid

        # The same gunicorn (never restarted) takes bets again.
        after = storm.bet(requests.Session())
        assert is_success(after), (after, server.log_tail())
        assert server.process.poll() is None and server.process.pid == web_pids

    answers = [*storm.answers, after]
    assert_every_answer_is_a_bet_or_the_envelope(answers)
    during = [a for a in answers if outage["from"] + 0.2 < a.sent_at < outage["to"] - 0.2]
    # A bet in flight when Redis died may fail too: "before" is every bet answered
    # before the kill. (Sent-before is not enough: a worker's first request, which
    # also builds the market's snapshot, can take over half a second on a busy box.)
    before = [a for a in answers if a.answered_at < outage["from"]]
    assert before and all(is_success(a) for a in before), [a for a in before if not is_success(a)]
    assert during, "no bet was sent while Redis was down"
    refused = [a for a in during if not (is_error_envelope(a) and a.status == 503)]
    assert not refused, [(a.status, a.body) for a in refused[:3]]
    assert {a.body["error"]["code"] for a in during} == {"service_unavailable"}
    assert_no_bet_half_applied(database_url, answers)
    assert "no differences" in assert_ledger_reconciles(env)
