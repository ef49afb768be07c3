"""One error shape for everything, and the shared per-member and per-guild rate limits."""

from __future__ import annotations

import pytest
from pytest_django import Settings
from rest_framework.test import APIClient

from markets.models import Market
from points.models import Member
from tests.api.helpers import api_state, assert_error, url


def test_an_unknown_market_is_not_found(alice: APIClient, member: Member) -> None:
    error = assert_error(alice.get(url("", 424242)), 404, "not_found")
    assert error["details"] == {"market_id": 424242}


HUGE_ID = 10**25  # past BIGINT: no row can have it


@pytest.mark.parametrize(
    ("method", "name", "body"),
    [
        ("get", "", None),
        ("get", "history", None),
        ("get", "trades", None),
        ("post", "quote", {"outcome": 0, "amount": 5}),
        ("post", "bets", {"outcome": 0, "amount": 5}),
        ("post", "sell", {"outcome": 0, "shares": "1"}),
    ],
)
def test_an_id_too_large_for_the_database_is_not_found(
    alice: APIClient, member: Member, method: str, name: str, body: dict | None
) -> None:
    before = api_state()
    response = getattr(alice, method)(url(name, HUGE_ID), body, format="json")
    assert_error(response, 404, "not_found")
    assert api_state() == before


@pytest.mark.parametrize("name", ["close", "cancel", "votes"])
def test_moderators_get_a_404_for_an_id_too_large(mod: APIClient, name: str) -> None:
    response = mod.post(url(name, HUGE_ID), {"outcome": 0}, format="json")
    assert_error(response, 404, "not_found")


def test_an_unknown_api_path_answers_in_the_envelope(alice: APIClient, member: Member) -> None:
    assert_error(alice.get("/api/v1/markets/not-a-number/"), 404, "not_found")
    assert_error(alice.get("/api/v1/nothing-here/"), 404, "not_found")
    error = assert_error(alice.get("/api/v1/me"), 404, "not_found")
    assert error["details"] == {"did_you_mean": "/api/v1/me/"}


def test_a_post_to_an_unknown_path_is_a_404_even_with_a_session_cookie(
    alice_key: str,
) -> None:
    """API paths take keys, not cookies: no CSRF page, whatever cookies a browser sends."""
    api = APIClient(enforce_csrf_checks=True)
    api.cookies["sessionid"] = "stale"
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {alice_key}")
    assert_error(api.post("/api/v1/markets/none/bets/", {}, format="json"), 404, "not_found")


def test_a_wrong_method_is_refused(alice: APIClient, market: Market) -> None:
    response = alice.get(url("bets", market))
    assert_error(response, 405, "method_not_allowed")
    assert "POST" in response["Allow"]


def test_malformed_json_is_refused(alice: APIClient, market: Market) -> None:
    before = api_state()
    response = alice.post(url("bets", market), '{"outcome": 0,', content_type="application/json")
    assert_error(response, 400, "malformed_request")
    assert api_state() == before


def test_a_body_that_is_not_json_is_refused(alice: APIClient, market: Market) -> None:
    before = api_state()
    response = alice.post(url("bets", market), {"outcome": 0, "amount": 10})  # form-encoded
    assert_error(response, 415, "unsupported_media_type")
    assert api_state() == before


def test_a_json_body_that_is_not_an_object_is_refused(alice: APIClient, market: Market) -> None:
    before = api_state()
    response = alice.post(url("bets", market), [0, 10], format="json")
    assert_error(response, 400, "validation_failed")
    assert api_state() == before


def test_an_unexpected_failure_answers_with_an_error_id(
    alice: APIClient, member: Member, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The client gets a short id to quote, never a traceback."""

    def broken(member: Member) -> int:
        raise RuntimeError("database on fire")

    monkeypatch.setattr("points.api.member_display_balance", broken)

    error = assert_error(alice.get(url("me")), 500, "internal_error")

    assert len(error["details"]["error_id"]) == 8
    assert error["details"]["error_id"] in error["message"]
    assert "fire" not in error["message"]


@pytest.mark.usefixtures("one_rate_window")
def test_the_eleventh_command_in_a_minute_is_refused(
    alice: APIClient, bob: APIClient, member: Member
) -> None:
    for _ in range(10):
        assert alice.get(url("me")).status_code == 200

    refused = alice.get(url("me"))

    error = assert_error(refused, 429, "rate_limited")
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert error["details"]["retry_after"] == int(refused["Retry-After"])
    assert bob.get(url("me")).status_code == 200  # the limit is per member


@pytest.mark.usefixtures("one_rate_window")
def test_refused_commands_change_nothing(alice: APIClient, member: Member, market: Market) -> None:
    for _ in range(10):
        alice.get(url("me"))
    before = api_state()

    refused = alice.post(url("bets", market), {"outcome": 0, "amount": 10}, format="json")

    assert_error(refused, 429, "rate_limited")
    assert "Retry-After" in refused
    assert api_state() == before


@pytest.mark.usefixtures("one_rate_window")
def test_the_guild_shares_one_budget(
    alice: APIClient, bob: APIClient, mallory: APIClient, settings: Settings
) -> None:
    settings.RATE_LIMIT_GUILD_COMMANDS_PER_MINUTE = 3
    assert alice.get(url("me")).status_code == 200
    assert alice.get(url("me")).status_code == 200
    assert bob.get(url("me")).status_code == 200

    refused = bob.get(url("me"))

    assert_error(refused, 429, "rate_limited")
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert mallory.get(url("me")).status_code == 200  # another guild, another budget


def test_moderators_are_not_limited(mod: APIClient) -> None:
    for _ in range(15):
        assert mod.get(url("me")).status_code == 200


def test_limits_can_be_turned_off(alice: APIClient, settings: Settings) -> None:
    settings.RATE_LIMITS_ENABLED = False
    for _ in range(15):
        assert alice.get(url("me")).status_code == 200
