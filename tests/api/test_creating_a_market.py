"""POST /markets/: a member opens a market; the house pays its liquidity into escrow."""

from __future__ import annotations

from typing import Any

import pytest
from pytest_django import Settings
from rest_framework.test import APIClient

from markets.models import Market
from markets.validation import MAX_OPTIONS
from points.models import Account, Guild, Member
from points.services import house_account
from predictmarket.models import AuditLogEntry
from tests.api.helpers import api_state, assert_error, assert_unauthenticated, balance_of, url

VALID = {
    "question": "Will it snow on Friday?",
    "options": ["Yes", "No", "Only sleet"],
    "duration_minutes": 90,
    "category": "weather",
    "description": "Measured at the airport.",
}


def test_a_member_opens_a_market(alice: APIClient, member: Member, guild: Guild) -> None:
    house_before = house_account(guild.pk).balance

    response = alice.post(url("markets"), VALID, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    market = Market.objects.get(pk=body["id"])
    assert (market.guild_id, market.creator_id) == (guild.pk, member.pk)
    assert body["question"] == "Will it snow on Friday?"
    assert body["creator"] == "alice"
    assert (body["category"], body["description"]) == ("weather", "Measured at the airport.")
    assert body["status"] == "open" and body["accepting_bets"] is True
    assert 89 * 60 <= body["seconds_left"] <= 90 * 60
    assert [o["label"] for o in body["outcomes"]] == ["Yes", "No", "Only sleet"]
    assert [o["probability"] for o in body["outcomes"]] == ["0.333333"] * 3
    # The house funds the market; the creator pays nothing.
    assert Account.objects.get(pk=market.escrow_account_id).balance == market.liquidity > 0
    assert house_account(guild.pk).balance == house_before - market.liquidity
    assert balance_of(member) == 1000
    assert AuditLogEntry.objects.filter(action="market.create").count() == 1


def _without(field: str) -> dict[str, Any]:
    return {k: v for k, v in VALID.items() if k != field}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (_without("question"), "question"),
        ({**VALID, "question": "   "}, "question"),
        ({**VALID, "question": "q" * 501}, "question"),
        (_without("options"), "options"),
        ({**VALID, "options": ["Only one"]}, "options"),
        ({**VALID, "options": [f"o{i}" for i in range(MAX_OPTIONS + 1)]}, "options"),
        ({**VALID, "options": ["Yes", "yes"]}, "options"),
        ({**VALID, "options": ["Yes", "   "]}, "options"),
        ({**VALID, "options": ["Yes", "n" * 101]}, "options"),
        ({**VALID, "options": "Yes,No"}, "options"),
        (_without("duration_minutes"), "duration_minutes"),
        ({**VALID, "duration_minutes": 0}, "duration_minutes"),
        ({**VALID, "duration_minutes": 30 * 24 * 60 + 1}, "duration_minutes"),
        ({**VALID, "duration_minutes": "soon"}, "duration_minutes"),
        ({**VALID, "category": "c" * 51}, "category"),
        ({**VALID, "description": "d" * 2001}, "description"),
    ],
)
def test_it_rejects_invalid_input(
    alice: APIClient, member: Member, body: dict[str, Any], field: str
) -> None:
    before = api_state()

    response = alice.post(url("markets"), body, format="json")

    assert_error(response, 400, "validation_failed", field=field)
    assert api_state() == before


def test_opening_a_market_needs_a_key(anonymous: APIClient, guild: Guild) -> None:
    before = api_state()
    assert_unauthenticated(anonymous.post(url("markets"), VALID, format="json"))
    assert api_state() == before


def test_a_staff_session_cannot_open_markets(staff: APIClient, guild: Guild) -> None:
    """Markets have a creator, so only a member's key can open one."""
    response = staff.post(f"{url('markets')}?guild={guild.pk}", VALID, format="json")
    assert_error(response, 403, "permission_denied")
    assert not Market.objects.exists()


def test_a_retry_with_the_same_idempotency_key_opens_one_market(
    alice: APIClient, member: Member
) -> None:
    first = alice.post(url("markets"), VALID, format="json", HTTP_IDEMPOTENCY_KEY="create-1")
    again = alice.post(url("markets"), VALID, format="json", HTTP_IDEMPOTENCY_KEY="create-1")

    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert Market.objects.count() == 1


def test_the_same_idempotency_key_for_another_question_is_a_conflict(
    alice: APIClient, member: Member
) -> None:
    alice.post(url("markets"), VALID, format="json", HTTP_IDEMPOTENCY_KEY="create-2")
    before = api_state()

    response = alice.post(
        url("markets"),
        {**VALID, "question": "Something else?"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="create-2",
    )

    assert_error(response, 409, "conflict")
    assert api_state() == before


def test_an_overlong_idempotency_key_is_refused(alice: APIClient, member: Member) -> None:
    before = api_state()

    response = alice.post(url("markets"), VALID, format="json", HTTP_IDEMPOTENCY_KEY="k" * 101)

    assert_error(response, 400, "validation_failed", field="Idempotency-Key")
    assert api_state() == before


@pytest.mark.usefixtures("one_rate_window")
def test_market_creation_is_limited_per_guild(
    alice: APIClient, bob: APIClient, mod: APIClient, settings: Settings
) -> None:
    settings.RATE_LIMIT_MARKET_CREATIONS_PER_HOUR = 2
    assert alice.post(url("markets"), VALID, format="json").status_code == 201
    assert bob.post(url("markets"), VALID, format="json").status_code == 201
    before = api_state()

    refused = alice.post(url("markets"), VALID, format="json")

    assert_error(refused, 429, "rate_limited")
    assert 1 <= int(refused["Retry-After"]) <= 3600
    assert api_state() == before
    # Moderators are not limited (as in Discord).
    assert mod.post(url("markets"), VALID, format="json").status_code == 201
    assert Market.objects.count() == 3
