"""POST /markets/<id>/corrections/: moderators vote a decided market to another result."""

from __future__ import annotations

import pytest
from pytest_django import Settings
from rest_framework.test import APIClient

from betting.settlement import settle_resolved_market
from markets.models import Market, MarketCorrection, MarketStatus
from markets.services import market_close, resolution_vote
from points.models import Member
from predictmarket.models import AuditLogEntry
from tests.api.helpers import api_state, assert_error, url


@pytest.fixture
def resolved_yes(market: Market) -> Market:
    market_close(market_id=market.pk, actor="discord:1")
    for voter in ("discord:701", "discord:702"):
        resolution_vote(market_id=market.pk, voter=voter, outcome_index=0)
    settle_resolved_market(market_id=market.pk)
    market.refresh_from_db()
    return market


def correct(api: APIClient, market: Market, body: dict[str, object]) -> object:
    return api.post(url("corrections", market), body, format="json")


def test_two_moderators_correct_a_resolved_market(
    settings: Settings,
    mod: APIClient,
    second_mod: APIClient,
    mod_member: Member,
    resolved_yes: Market,
) -> None:
    settings.CELERY_TASK_ALWAYS_EAGER = True
    first = correct(mod, resolved_yes, {"outcome": 1})
    assert first.status_code == 200, first.content
    assert (first.json()["choice"], first.json()["decided"]) == ("No", False)

    response = correct(second_mod, resolved_yes, {"outcome": 1})

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["decided"] is True
    market = body["market"]
    assert market["status"] == "resolved"
    assert [o["is_winner"] for o in market["outcomes"]] == [False, True]
    assert [step["text"] for step in market["history"]] == [
        "resolved Yes",
        "corrected to resolved No",
    ]
    assert f"discord:{mod_member.discord_id}" in market["history"][1]["by"]
    assert market["history_text"].startswith("resolved Yes, corrected to resolved No by ")
    assert market["correctable_until"] is not None
    entry = (
        AuditLogEntry.objects.filter(action="market.vote", data__correction=1)
        .order_by("pk")
        .first()
    )
    assert entry is not None and entry.actor == f"api:discord:{mod_member.discord_id}"
    assert MarketCorrection.objects.get(market=resolved_yes).to_outcome.index == 1


def test_a_correction_to_cancel_is_counted(mod: APIClient, resolved_yes: Market) -> None:
    response = correct(mod, resolved_yes, {"cancel": True})
    assert response.status_code == 200, response.content
    assert response.json()["choice"] == "cancel"


def test_correcting_to_the_same_answer_is_a_conflict(mod: APIClient, resolved_yes: Market) -> None:
    before = api_state()
    assert_error(correct(mod, resolved_yes, {"outcome": 0}), 409, "conflict")
    assert api_state() == before


def test_correcting_an_undecided_market_is_refused(mod: APIClient, market: Market) -> None:
    before = api_state()
    assert_error(correct(mod, market, {"outcome": 1}), 409, "invalid_state")
    assert api_state() == before


def test_a_member_cannot_correct(alice: APIClient, resolved_yes: Market) -> None:
    before = api_state()
    response = correct(alice, resolved_yes, {"outcome": 1})
    assert response.status_code == 403
    assert api_state() == before
    assert resolved_yes.status == MarketStatus.RESOLVED
