"""The rate limiter: fixed windows per scope and subject, moderators bypass, refusals say when."""

from __future__ import annotations

import functools
from datetime import UTC, datetime

import pytest
import time_machine
from pytest_django import Settings

from predictmarket.errors import RateLimited
from predictmarket.ratelimit import rate_limit_hit
from tests.concurrency import run_concurrently

# 12:00:00 UTC is a multiple of 60 and of 3600 seconds since the epoch: a window start.
WINDOW_START = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)
MEMBER = "guild1:member1"


def _hits(scope: str, subject: str, times: int, *, bypass: bool = False) -> None:
    for _ in range(times):
        rate_limit_hit(scope, subject, bypass=bypass)


def test_it_allows_five_bets_a_minute_and_refuses_the_sixth() -> None:
    with time_machine.travel(WINDOW_START.replace(second=15), tick=False):
        _hits("bet", MEMBER, 5)
        with pytest.raises(RateLimited) as info:
            rate_limit_hit("bet", MEMBER)
    assert info.value.retry_after == 45
    assert info.value.details == {"retry_after": 45, "scope": "bet"}
    assert "at most 5 bets per minute" in info.value.message
    assert "45 s" in info.value.message


def test_it_rounds_the_remaining_time_up_to_whole_seconds() -> None:
    with time_machine.travel(WINDOW_START.replace(second=15, microsecond=500_000), tick=False):
        _hits("bet", MEMBER, 5)
        with pytest.raises(RateLimited) as info:
            rate_limit_hit("bet", MEMBER)
    assert info.value.retry_after == 45  # 44.5 s left: retrying after 44 s would be refused


def test_it_keeps_refusing_until_the_window_ends_then_allows_again() -> None:
    with time_machine.travel(WINDOW_START.replace(second=50), tick=False) as clock:
        _hits("bet", MEMBER, 5)
        clock.move_to(WINDOW_START.replace(second=59))
        with pytest.raises(RateLimited) as info:
            rate_limit_hit("bet", MEMBER)
        assert info.value.retry_after == 1
        clock.move_to(WINDOW_START.replace(minute=1))
        _hits("bet", MEMBER, 5)
        with pytest.raises(RateLimited):
            rate_limit_hit("bet", MEMBER)


def test_it_limits_market_creations_per_hour() -> None:
    with time_machine.travel(WINDOW_START.replace(minute=10), tick=False):
        _hits("market_create", "guild1", 10)
        with pytest.raises(RateLimited) as info:
            rate_limit_hit("market_create", "guild1")
    assert info.value.retry_after == 50 * 60
    assert "per hour" in info.value.message


def test_it_lets_moderators_bypass_without_using_their_quota() -> None:
    with time_machine.travel(WINDOW_START, tick=False):
        _hits("bet", MEMBER, 50, bypass=True)
        _hits("bet", MEMBER, 5)  # the bypassed uses were not counted
        with pytest.raises(RateLimited):
            rate_limit_hit("bet", MEMBER)
        rate_limit_hit("bet", MEMBER, bypass=True)


def test_it_counts_each_subject_and_scope_separately() -> None:
    with time_machine.travel(WINDOW_START, tick=False):
        _hits("bet", MEMBER, 5)
        with pytest.raises(RateLimited):
            rate_limit_hit("bet", MEMBER)
        _hits("bet", "guild1:member2", 5)
        _hits("command", MEMBER, 10)
        with pytest.raises(RateLimited):
            rate_limit_hit("command", MEMBER)


def test_it_uses_the_configured_limit(settings: Settings) -> None:
    settings.RATE_LIMIT_BETS_PER_MINUTE = 2
    with time_machine.travel(WINDOW_START, tick=False):
        _hits("bet", MEMBER, 2)
        with pytest.raises(RateLimited):
            rate_limit_hit("bet", MEMBER)


def test_it_limits_nothing_when_turned_off(settings: Settings) -> None:
    settings.RATE_LIMITS_ENABLED = False
    with time_machine.travel(WINDOW_START, tick=False):
        _hits("bet", MEMBER, 100)


@pytest.mark.redis
def test_it_holds_the_limit_across_concurrent_clients_on_redis() -> None:
    """Twenty bets at once from one member: exactly five get through."""
    attempts = 20
    call = functools.partial(rate_limit_hit, "bet", MEMBER)
    with time_machine.travel(WINDOW_START.replace(second=30), tick=False):
        outcomes = run_concurrently([call] * attempts, workers=attempts)
    accepted = [o for o in outcomes if o.error is None]
    refused = [o.error for o in outcomes if o.error is not None]
    assert len(accepted) == 5
    assert len(refused) == attempts - 5
    assert all(isinstance(e, RateLimited) and e.retry_after == 30 for e in refused), refused
