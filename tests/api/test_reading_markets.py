"""GET /markets/, /markets/<id>/, /markets/<id>/history/ and /markets/<id>/trades/."""

from __future__ import annotations

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from betting.services import bet_place
from markets.models import Market
from markets.services import market_close
from points.models import Guild, Member
from tests.api.helpers import assert_error, assert_unauthenticated, open_market, url


def _bet(member: Member, market: Market, outcome: int, amount: int, key: str) -> None:
    bet_place(
        member=member,
        market_id=market.pk,
        outcome_index=outcome,
        amount=amount,
        idempotency_key=key,
        bypass_rate_limit=True,
    )


def test_it_lists_the_guilds_markets_newest_first(
    alice: APIClient, other_member: Member, foreign_market: Market
) -> None:
    first = open_market(other_member, question="First?")
    second = open_market(other_member, question="Second?", category="sport")

    response = alice.get(url("markets"))

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [m["id"] for m in body["results"]] == [second.pk, first.pk]
    assert body["results"][0] == {
        "id": second.pk,
        "question": "Second?",
        "category": "sport",
        "status": "open",
        "opens_at": body["results"][0]["opens_at"],
        "closes_at": body["results"][0]["closes_at"],
        "volume": 0,
        "version": 0,
    }
    assert foreign_market.pk not in [m["id"] for m in body["results"]]


def test_it_pages_the_list(alice: APIClient, other_member: Member) -> None:
    markets = [open_market(other_member, question=f"Question {i}?") for i in range(3)]

    first = alice.get(url("markets"), {"page_size": 2}).json()
    second = alice.get(url("markets"), {"page_size": 2, "page": 2}).json()

    assert first["count"] == 3
    assert [m["id"] for m in first["results"]] == [markets[2].pk, markets[1].pk]
    assert first["next"] and first["previous"] is None
    assert [m["id"] for m in second["results"]] == [markets[0].pk]
    assert second["next"] is None


def test_it_filters_by_status_category_and_text(alice: APIClient, other_member: Member) -> None:
    weather = open_market(other_member, question="Snow on Friday?", category="weather")
    sport = open_market(other_member, question="Will the home team win?", category="sport")
    market_close(market_id=sport.pk, actor="discord:1")

    def ids(**params: str) -> list[int]:
        response = alice.get(url("markets"), params)
        assert response.status_code == 200, response.content
        return [m["id"] for m in response.json()["results"]]

    assert ids(status="closed") == [sport.pk]
    assert ids(status="open") == [weather.pk]
    assert ids(category="WEATHER") == [weather.pk]
    assert ids(search="home team") == [sport.pk]
    assert ids(search="nothing like this") == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "sleeping"}, "status"),
        ({"category": "c" * 51}, "category"),
        ({"search": "s" * 201}, "search"),
    ],
)
def test_it_rejects_bad_filters(
    alice: APIClient, market: Market, params: dict[str, str], field: str
) -> None:
    assert_error(alice.get(url("markets"), params), 400, "validation_failed", field=field)


def test_a_page_past_the_end_is_not_found(alice: APIClient, market: Market) -> None:
    assert_error(alice.get(url("markets"), {"page": 9}), 404, "not_found")


def test_it_shows_a_market_with_its_live_probabilities(
    alice: APIClient, market: Market, other_member: Member
) -> None:
    _bet(other_member, market, 0, 100, "read-1")

    response = alice.get(url("", market))

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == market.pk
    assert body["creator"] == "bob"
    assert body["status"] == "open"
    assert body["accepting_bets"] is True
    assert 0 < body["seconds_left"] <= 24 * 3600
    assert (body["volume"], body["trades"], body["traders"]) == (100, 1, 1)
    assert [(o["index"], o["label"]) for o in body["outcomes"]] == [(0, "Yes"), (1, "No")]
    yes, no = (Decimal(o["probability"]) for o in body["outcomes"])
    assert yes > Decimal("0.5") > no  # bob bought Yes
    assert abs(yes + no - 1) <= Decimal("0.000002")


def test_the_history_has_a_point_per_trade(
    alice: APIClient, market: Market, other_member: Member
) -> None:
    _bet(other_member, market, 1, 80, "read-2")

    response = alice.get(url("history", market))

    assert response.status_code == 200
    points = response.json()
    assert len(points) == 2  # the opening prices, then the trade
    assert points[0]["probabilities"] == ["0.500000", "0.500000"]
    assert Decimal(points[1]["probabilities"][1]) > Decimal("0.5")


def test_it_lists_a_markets_trades_newest_first(
    alice: APIClient, market: Market, member: Member, other_member: Member
) -> None:
    _bet(other_member, market, 0, 30, "read-3")
    _bet(member, market, 1, 40, "read-4")

    response = alice.get(url("trades", market))

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [(t["member"], t["side"], t["outcome"], t["points"]) for t in body["results"]] == [
        ("alice", "buy", 1, 40),
        ("bob", "buy", 0, 30),
    ]


@pytest.mark.parametrize("name", ["", "history", "trades"])
def test_a_market_of_another_guild_is_not_found(
    mallory: APIClient, market: Market, name: str
) -> None:
    assert_error(mallory.get(url(name, market)), 404, "not_found")


@pytest.mark.parametrize("name", ["", "history", "trades"])
def test_a_market_that_does_not_exist_is_not_found(alice: APIClient, name: str) -> None:
    assert_error(alice.get(url(name, 999_999)), 404, "not_found")


@pytest.mark.parametrize("name", ["markets", "", "history", "trades"])
def test_reading_needs_a_key(anonymous: APIClient, market: Market, name: str) -> None:
    path = url("markets") if name == "markets" else url(name, market)
    assert_unauthenticated(anonymous.get(path))


def test_a_staff_session_reads_the_guild_it_names(
    staff: APIClient, guild: Guild, market: Market, foreign_market: Market
) -> None:
    response = staff.get(url("markets"), {"guild": guild.pk})

    assert response.status_code == 200
    assert [m["id"] for m in response.json()["results"]] == [market.pk]
    assert staff.get(url("", market), {"guild": guild.pk}).status_code == 200
    assert_error(staff.get(url("", foreign_market), {"guild": guild.pk}), 404, "not_found")


def test_a_staff_session_must_name_a_guild(staff: APIClient, market: Market) -> None:
    assert_error(staff.get(url("markets")), 400, "validation_failed", field="guild")


@pytest.mark.parametrize("guild_id", ["abc", "²", "0", "-5", "9" * 30, "12345678901234567890"])
def test_a_staff_session_must_name_a_real_guild_id(
    staff: APIClient, market: Market, guild_id: str
) -> None:
    response = staff.get(url("markets"), {"guild": guild_id})
    assert_error(response, 400, "validation_failed", field="guild")
