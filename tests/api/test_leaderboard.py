"""GET /leaderboard/: the guild's members ranked by balance, net worth or profit."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from betting.services import bet_place
from markets.models import Market
from points.models import Guild, Member
from tests.api.helpers import assert_error, assert_unauthenticated, url


@pytest.fixture
def alice_bet(member: Member, market: Market) -> None:
    """Alice spent 100 points on Yes; bob kept his 1000."""
    bet_place(
        member=member,
        market_id=market.pk,
        outcome_index=0,
        amount=100,
        idempotency_key="lb-1",
        bypass_rate_limit=True,
    )


def test_it_ranks_by_balance_and_shows_my_rank(
    alice: APIClient, member: Member, other_member: Member, outsider: Member, alice_bet: None
) -> None:
    response = alice.get(url("leaderboard"))

    assert response.status_code == 200
    body = response.json()
    assert body["by"] == "balance"
    assert [(r["rank"], r["display_name"], r["score"]) for r in body["rows"]] == [
        (1, "bob", "1000.00"),
        (2, "alice", "900.00"),
    ]
    assert body["rows"][0]["discord_id"] == str(other_member.discord_id)
    assert body["me"] == {
        "rank": 2,
        "member_id": member.pk,
        "discord_id": str(member.discord_id),
        "display_name": "alice",
        "score": "900.00",
    }


def test_net_worth_counts_open_positions(
    alice: APIClient, other_member: Member, alice_bet: None
) -> None:
    body = alice.get(url("leaderboard"), {"by": "net_worth"}).json()

    assert body["by"] == "net_worth"
    scores = {r["display_name"]: float(r["score"]) for r in body["rows"]}
    assert scores["bob"] == 1000
    # 900 points plus Yes shares worth a little more than the 100 paid, at the new price.
    assert 990 < scores["alice"] < 1010
    assert float(body["me"]["score"]) == scores["alice"]


def test_profit_ranks_trading_results(alice: APIClient, alice_bet: None) -> None:
    body = alice.get(url("leaderboard"), {"by": "profit"}).json()

    assert body["by"] == "profit"
    assert body["me"]["display_name"] == "alice"


def test_the_limit_cuts_the_rows(alice: APIClient, alice_bet: None, other_member: Member) -> None:
    body = alice.get(url("leaderboard"), {"limit": 1}).json()
    assert [r["display_name"] for r in body["rows"]] == ["bob"]
    assert body["me"]["rank"] == 2


@pytest.mark.parametrize(
    ("params", "field"),
    [({"by": "luck"}, "by"), ({"limit": 0}, "limit"), ({"limit": 101}, "limit")],
)
def test_it_rejects_bad_parameters(alice: APIClient, params: dict[str, object], field: str) -> None:
    assert_error(alice.get(url("leaderboard"), params), 400, "validation_failed", field=field)


def test_another_guild_sees_only_its_own_members(
    mallory: APIClient, outsider: Member, alice_bet: None
) -> None:
    body = mallory.get(url("leaderboard")).json()
    assert [r["display_name"] for r in body["rows"]] == ["mallory"]


def test_a_staff_session_reads_the_named_guild(
    staff: APIClient, guild: Guild, alice_bet: None
) -> None:
    body = staff.get(url("leaderboard"), {"guild": guild.pk}).json()
    assert [r["display_name"] for r in body["rows"]] == ["bob", "alice"]
    assert body["me"] is None


def test_it_needs_a_key(anonymous: APIClient) -> None:
    assert_unauthenticated(anonymous.get(url("leaderboard")))


def test_profit_over_the_last_week_counts_the_markets_settled_in_it(
    alice: APIClient, member: Member, market: Market, alice_bet: None
) -> None:
    body = alice.get(url("leaderboard"), {"by": "profit", "period": "week"}).json()

    assert body["period"] == "week"
    # Alice's bet is on a market still open: it is no week's result yet.
    assert body["me"]["score"] == "0.00"
    all_time = alice.get(url("leaderboard"), {"by": "profit"}).json()
    assert all_time["period"] == "all"
    assert all_time["me"]["score"] != "0.00"  # all time marks the open position


def test_only_the_profit_board_has_periods(alice: APIClient) -> None:
    response = alice.get(url("leaderboard"), {"by": "balance", "period": "month"})
    assert_error(response, 400, "validation_failed", field="period")
    assert_error(
        alice.get(url("leaderboard"), {"by": "profit", "period": "year"}),
        400,
        "validation_failed",
        field="period",
    )
