"""GET /me/portfolio/ and /me/transactions/: a member's holdings and ledger entries."""

from __future__ import annotations

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from betting.services import bet_place
from markets.models import Market
from points.models import Member
from tests.api.helpers import assert_error, assert_unauthenticated, url


def _bet(member: Member, market: Market, outcome: int, amount: int, key: str) -> Decimal:
    return bet_place(
        member=member,
        market_id=market.pk,
        outcome_index=outcome,
        amount=amount,
        idempotency_key=key,
        bypass_rate_limit=True,
    ).shares


def test_a_new_member_holds_nothing(alice: APIClient, member: Member) -> None:
    response = alice.get(url("me/portfolio"))

    assert response.status_code == 200
    assert response.json() == {"value": "0.00", "profit": "0.00", "holdings": []}


def test_the_portfolio_values_positions_at_current_prices(
    alice: APIClient, member: Member, other_member: Member, market: Market
) -> None:
    shares = _bet(member, market, 1, 100, "pf-1")
    _bet(other_member, market, 0, 100, "pf-2")  # bob's bet is not alice's holding

    body = alice.get(url("me/portfolio")).json()

    assert len(body["holdings"]) == 1
    holding = body["holdings"][0]
    assert holding["market_id"] == market.pk
    assert (holding["outcome"], holding["outcome_label"]) == (1, "No")
    assert Decimal(holding["shares"]) == shares
    assert holding["market_status"] == "open"
    assert (holding["points_spent"], holding["points_received"]) == (100, 0)
    value = (shares * Decimal(holding["probability"])).quantize(Decimal("0.01"))
    assert Decimal(holding["value"]) == value == Decimal(body["value"])
    assert Decimal(holding["profit"]) == value - 100 == Decimal(body["profit"])


def test_transactions_are_newest_first(
    alice: APIClient, member: Member, other_member: Member, market: Market
) -> None:
    _bet(member, market, 0, 60, "tx-1")
    _bet(other_member, market, 0, 70, "tx-2")

    response = alice.get(url("me/transactions"))

    assert response.status_code == 200
    body = response.json()
    assert [(e["kind"], e["amount"], e["balance_after"]) for e in body["results"]] == [
        ("bet", -60, 940),
        ("grant", 1000, 1000),
    ]
    assert body["next_before"] is None


def test_transactions_page_with_a_cursor(alice: APIClient, member: Member, market: Market) -> None:
    for i in range(3):
        _bet(member, market, 0, 10 + i, f"tx-page-{i}")

    first = alice.get(url("me/transactions"), {"limit": 2}).json()
    second = alice.get(url("me/transactions"), {"limit": 2, "before": first["next_before"]}).json()

    assert [e["amount"] for e in first["results"]] == [-12, -11]
    assert [e["amount"] for e in second["results"]] == [-10, 1000]
    assert second["next_before"] is None


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": "all"}, "limit"),
        ({"before": 0}, "before"),
        ({"before": "x"}, "before"),
    ],
)
def test_transactions_reject_bad_paging(
    alice: APIClient, member: Member, params: dict[str, object], field: str
) -> None:
    assert_error(alice.get(url("me/transactions"), params), 400, "validation_failed", field=field)


@pytest.mark.parametrize("name", ["me/portfolio", "me/transactions"])
def test_they_need_a_key(anonymous: APIClient, name: str) -> None:
    assert_unauthenticated(anonymous.get(url(name)))


@pytest.mark.parametrize("name", ["me/portfolio", "me/transactions"])
def test_a_staff_session_has_no_portfolio(staff: APIClient, member: Member, name: str) -> None:
    assert_error(staff.get(url(name), {"guild": member.guild_id}), 403, "permission_denied")
