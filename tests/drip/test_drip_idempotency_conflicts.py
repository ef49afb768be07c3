"""In a DRIP guild, a reused idempotency key is the same request or a 409 that changes nothing."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from betting.models import Trade
from markets.models import Market
from markets.services import market_create
from points.drip.services import deliver_pending_transfers, drip_debit, drip_queue_credit
from points.models import DripTransfer, Guild, Member
from predictmarket.errors import IdempotencyConflict
from tests.api.helpers import client_with_key, issue_key, url
from tests.drip.fake_drip import FakeDrip
from tests.factories import MemberFactory

START = 1000


@pytest.fixture
def alice(drip_guild: Guild, fake_drip: FakeDrip, settings) -> Member:  # type: ignore[no-untyped-def]
    settings.RATE_LIMITS_ENABLED = False
    member = MemberFactory(guild=drip_guild, display_name="alice")
    fake_drip.add_member(member.discord_id, START)
    return member


@pytest.fixture
def bob(drip_guild: Guild, fake_drip: FakeDrip) -> Member:
    member = MemberFactory(guild=drip_guild, display_name="bob")
    fake_drip.add_member(member.discord_id, START)
    return member


def _market(creator: Member, question: str = "Will the key be reused?") -> Market:
    return market_create(
        creator=creator,
        question=question,
        options=["Yes", "No"],
        duration=timedelta(hours=1),
        actor="test",
        bypass_rate_limit=True,
    )


@pytest.mark.django_db
def test_a_debit_key_reused_for_another_amount_is_a_conflict(
    alice: Member, fake_drip: FakeDrip
) -> None:
    drip_debit(member=alice, amount=1, key="bet:k1")

    with pytest.raises(IdempotencyConflict):
        drip_debit(member=alice, amount=500, key="bet:k1")

    assert fake_drip.balance(alice.discord_id) == START - 1
    assert fake_drip.patches() == 1
    assert DripTransfer.objects.get(idempotency_key="bet:k1").amount == -1


@pytest.mark.django_db
def test_a_debit_key_reused_by_another_member_is_a_conflict(
    alice: Member, bob: Member, fake_drip: FakeDrip
) -> None:
    drip_debit(member=alice, amount=100, key="bet:k2")

    with pytest.raises(IdempotencyConflict):
        drip_debit(member=bob, amount=100, key="bet:k2")

    assert (fake_drip.balance(alice.discord_id), fake_drip.balance(bob.discord_id)) == (900, 1000)


@pytest.mark.django_db
def test_a_bet_key_reused_on_another_market_or_option_is_a_conflict(
    alice: Member, fake_drip: FakeDrip
) -> None:
    from betting.services import bet_place

    first, second = _market(alice), _market(alice, "Another market?")
    bet_place(member=alice, market_id=first.pk, outcome_index=0, amount=100, idempotency_key="k3")
    # The debit of a request still in flight (its trade not written yet) says what it was for.
    drip_debit(member=alice, amount=50, key="bet:k4", subject=f"market:{first.pk}:outcome:0")

    for market, option in [(second, 0), (first, 1)]:
        with pytest.raises(IdempotencyConflict):
            bet_place(
                member=alice,
                market_id=market.pk,
                outcome_index=option,
                amount=50,
                idempotency_key="k4",
            )
    assert Trade.objects.count() == 1
    assert fake_drip.balance(alice.discord_id) == START - 100 - 50


@pytest.mark.django_db
def test_a_credit_key_reused_for_another_amount_or_member_is_a_conflict(
    alice: Member, bob: Member
) -> None:
    drip_queue_credit(member=alice, guild_id=alice.guild_id, amount=40, purpose="sell", key="s:1")

    with pytest.raises(IdempotencyConflict):
        drip_queue_credit(
            member=alice, guild_id=alice.guild_id, amount=41, purpose="sell", key="s:1"
        )
    with pytest.raises(IdempotencyConflict):
        drip_queue_credit(member=bob, guild_id=alice.guild_id, amount=40, purpose="sell", key="s:1")
    assert [(t.member_id, t.amount) for t in DripTransfer.objects.all()] == [(alice.pk, 40)]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_api_requests_with_one_key_cannot_bet_more_than_drip_was_paid(
    alice: Member, fake_drip: FakeDrip
) -> None:
    """The attack: a 1-point bet that fails on slippage, and a big one, sent together."""
    market = _market(alice)
    key = issue_key(alice)
    fake_drip.fail_next("PATCH", delay=0.3)  # the small bet's debit is slow to answer
    answers: dict[str, Any] = {}

    def post(name: str, body: dict[str, Any], after: float) -> None:
        time.sleep(after)
        try:
            answers[name] = client_with_key(key).post(
                url("bets", market), body, format="json", HTTP_IDEMPOTENCY_KEY="same-key"
            )
        finally:
            connection.close()

    client_with_key(key).get(url("me"))  # warm up, so the small request is first to DRIP
    small = threading.Thread(
        target=post, args=("small", {"outcome": 0, "amount": 1, "min_shares": "1000000"}, 0)
    )
    big = threading.Thread(target=post, args=("big", {"outcome": 0, "amount": 500}, 0.15))
    small.start()
    big.start()
    small.join(30)
    big.join(30)

    codes = {
        name: (answer.status_code, answer.json().get("error", {}).get("code"))
        for name, answer in answers.items()
    }
    # Whichever reached DRIP first is the request; the other is refused as a conflict.
    assert (409, "idempotency_conflict") in codes.values(), codes
    with time_machine.travel(timezone.now() + timedelta(hours=1)):
        deliver_pending_transfers()  # a refund owed for a failed request is delivered
    stakes = sum(Trade.objects.values_list("points", flat=True))
    assert fake_drip.balance(alice.discord_id) == START - stakes  # every bet paid, once
    assert stakes in (0, 500)
