"""Market creation through the API never overflows, whatever the admin was asked to store.

Before guild amounts were bounded, a default liquidity near 9.2·10^18 was
saved, the first market took it from the house and the second overflowed the
house's BIGINT balance: a 500 for every market anyone tried to create.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.test import APIClient

from markets.models import Market
from points.amounts import MAX_AMOUNT
from points.models import Guild

HUGE = 9 * 10**18


def _admin_sets_default_liquidity(guild: Guild, value: int) -> int:
    """The staff user submits the guild's change form; returns the status code."""
    user = get_user_model().objects.create_superuser("staff", "s@example.com", "pw")
    client = Client()
    client.force_login(user)
    data = {
        "id": guild.pk,
        "name": guild.name,
        "starting_balance": guild.starting_balance,
        "daily_amount": guild.daily_amount,
        "min_bet": guild.min_bet,
        "max_bet": guild.max_bet,
        "default_liquidity": value,
        "fee_bps": guild.fee_bps,
        "min_resolution_votes": guild.min_resolution_votes,
        "auto_refund_hours": guild.auto_refund_hours,
        "transfers_enabled": "on",
        "points_backend": guild.points_backend,
    }
    return client.post(f"/admin/points/guild/{guild.pk}/change/", data).status_code


@pytest.mark.django_db
def test_markets_created_after_a_huge_liquidity_was_submitted_are_not_500s(
    guild: Guild, alice: APIClient
) -> None:
    _admin_sets_default_liquidity(guild, HUGE)
    responses = [
        alice.post(
            "/api/v1/markets/",
            {"question": f"Question {n}?", "options": ["Yes", "No"], "duration_minutes": 60},
            format="json",
        )
        for n in (1, 2)
    ]
    assert [r.status_code for r in responses] == [201, 201], [r.content for r in responses]
    assert all(m.liquidity <= MAX_AMOUNT for m in Market.objects.all())
