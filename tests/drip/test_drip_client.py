"""The DRIP client against a fake DRIP server: retries, ambiguity, the breaker."""

from __future__ import annotations

import pytest

from points.drip.client import (
    DripAmbiguous,
    DripClient,
    DripRejected,
    DripSettings,
    DripUnavailable,
)
from tests.drip.fake_drip import FakeDrip

USER = 200_000_000_000_000_001


def _client(fake: FakeDrip, sleeps: list[float], key: str | None = None) -> DripClient:
    return DripClient(
        DripSettings(fake.realm_id, key or fake.api_key, fake.currency_id), sleep=sleeps.append
    )


@pytest.mark.django_db
def test_it_reads_a_members_balance(fake_drip: FakeDrip) -> None:
    fake_drip.add_member(USER, 250)
    member = _client(fake_drip, []).find_member(USER)
    assert (member.drip_id, member.balance) == (f"drip{USER}", 250)


@pytest.mark.django_db
def test_a_bad_key_is_refused_without_retrying(fake_drip: FakeDrip) -> None:
    fake_drip.add_member(USER, 250)
    with pytest.raises(DripRejected) as info:
        _client(fake_drip, [], key="wrong-key-123").find_member(USER)
    assert info.value.status == 401
    assert "API key" in info.value.message
    assert len(fake_drip.requests) == 1


@pytest.mark.django_db
def test_an_unknown_member_is_a_clear_refusal(fake_drip: FakeDrip) -> None:
    with pytest.raises(DripRejected, match="no DRIP account"):
        _client(fake_drip, []).find_member(USER)


@pytest.mark.django_db
def test_429_waits_retry_after_then_succeeds(fake_drip: FakeDrip) -> None:
    fake_drip.add_member(USER, 10)
    fake_drip.fail_next("GET", status=429, retry_after=1)
    sleeps: list[float] = []
    assert _client(fake_drip, sleeps).find_member(USER).balance == 10
    assert sleeps == [1.0]
    assert len(fake_drip.requests) == 2


@pytest.mark.django_db
def test_a_write_refused_with_429_is_retried_and_applied_once(fake_drip: FakeDrip) -> None:
    fake_drip.add_member(USER, 10)
    fake_drip.fail_next("PATCH", status=429, retry_after=1)
    _client(fake_drip, []).adjust_balance(f"drip{USER}", 5)
    assert fake_drip.balance(USER) == 15
    assert fake_drip.patches() == 2


@pytest.mark.django_db
def test_reads_are_retried_after_a_500(fake_drip: FakeDrip) -> None:
    fake_drip.add_member(USER, 10)
    fake_drip.fail_next("GET", status=500)
    sleeps: list[float] = []
    assert _client(fake_drip, sleeps).find_member(USER).balance == 10
    assert len(sleeps) == 1 and 0 <= sleeps[0] <= 0.25


@pytest.mark.django_db
def test_a_write_whose_answer_is_lost_is_ambiguous_and_not_resent(fake_drip: FakeDrip) -> None:
    fake_drip.add_member(USER, 10)
    fake_drip.fail_next("PATCH", apply_then_drop=True)
    with pytest.raises(DripAmbiguous):
        _client(fake_drip, []).adjust_balance(f"drip{USER}", -4)
    assert fake_drip.balance(USER) == 6  # applied exactly once
    assert fake_drip.patches() == 1


@pytest.mark.django_db
def test_a_write_that_times_out_is_ambiguous_and_not_resent(fake_drip: FakeDrip) -> None:
    fake_drip.add_member(USER, 10)
    fake_drip.fail_next("PATCH", delay=1.0)  # longer than the 0.5 s client timeout
    with pytest.raises(DripAmbiguous):
        _client(fake_drip, []).adjust_balance(f"drip{USER}", -4)
    assert fake_drip.patches() == 1


@pytest.mark.django_db
def test_the_breaker_fails_fast_while_drip_is_down(fake_drip: FakeDrip) -> None:
    fake_drip.add_member(USER, 10)
    fake_drip.down = True
    client = _client(fake_drip, [])
    for _ in range(2):
        with pytest.raises(DripUnavailable):
            client.find_member(USER)
    sent = len(fake_drip.requests)
    with pytest.raises(DripUnavailable, match="down"):
        client.find_member(USER)
    assert len(fake_drip.requests) == sent  # refused without calling DRIP
