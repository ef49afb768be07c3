"""Corrections in the admin (the action, the history) and on the market's public page."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from pytest_django import DjangoCaptureOnCommitCallbacks, Settings

from betting.corrections import correction_apply
from betting.services import bet_place
from betting.settlement import settle_resolved_market
from markets.models import Market, MarketCorrection, MarketStatus
from markets.services import resolution_vote
from points.models import Account, Guild
from points.services import member_ensure
from predictmarket.models import AuditLogEntry
from tests.markets.helpers import assert_ledger_sound, decide, make_market

GUILD = 700_000_000_000_000_002


def _staff(username: str) -> Client:
    get_user_model().objects.create_superuser(username, f"{username}@example.com", "pw-" + username)
    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    return client


def _correct(client: Client, market: Market, choice: str):  # type: ignore[no-untyped-def]
    return client.post(
        "/admin/markets/market/",
        {
            "action": "vote_correction",
            "_selected_action": [market.pk],
            "confirm": "yes",
            "choice": choice,
        },
        follow=True,
    )


@pytest.fixture
def resolved_yes(db: None) -> tuple[Market, Account]:
    alice = member_ensure(guild_id=GUILD, discord_id=11, display_name="alice")
    bob = member_ensure(guild_id=GUILD, discord_id=12, display_name="bob")
    market = make_market(alice)
    bet_place(member=bob, market_id=market.pk, outcome_index=1, amount=100, idempotency_key="b1")
    decide(market, outcome_index=0)
    settle_resolved_market(market_id=market.pk)
    return market, Account.objects.get(member=bob)


@pytest.mark.django_db
def test_two_staff_users_correct_a_market_in_the_admin(
    settings: Settings,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
    resolved_yes: tuple[Market, Account],
) -> None:
    settings.CELERY_TASK_ALWAYS_EAGER = True
    market, bob = resolved_yes
    bob_before = bob.balance
    first, second = _staff("mod1"), _staff("mod2")

    confirm = first.post(
        "/admin/markets/market/", {"action": "vote_correction", "_selected_action": [market.pk]}
    )
    assert b"correction window" in confirm.content
    response = _correct(first, market, "1")
    assert b"correction vote for &#x27;No&#x27;" in response.content
    assert b"1 of 2 needed" in response.content

    with django_capture_on_commit_callbacks(execute=True):
        response = _correct(second, market, "1")

    assert b"the market is corrected" in response.content
    market.refresh_from_db()
    assert market.status == MarketStatus.RESOLVED and market.winning_outcome.label == "No"
    assert MarketCorrection.objects.get(market=market).applied_at is not None
    bob.refresh_from_db()
    assert bob.balance > bob_before  # bob held No: paid now
    page = first.get(f"/admin/markets/market/{market.pk}/change/")
    assert b"resolved Yes, corrected to resolved No by" in page.content
    assert AuditLogEntry.objects.filter(action="market.corrected", actor="admin:mod2").exists()
    assert_ledger_sound()


@pytest.mark.django_db
def test_the_public_page_shows_the_history(resolved_yes: tuple[Market, Account]) -> None:
    market, _ = resolved_yes
    Guild.objects.filter(pk=GUILD).update(public_pages=True)
    for voter in ("discord:801", "discord:802"):
        resolution_vote(market_id=market.pk, voter=voter, cancel=True, correct=True)
    correction_apply(correction_id=MarketCorrection.objects.get(market=market).pk)

    page = Client().get(f"/g/{GUILD}/markets/{market.pk}/")

    assert page.status_code == 200
    assert b"resolved Yes, corrected to cancelled by discord:801 and discord:802" in page.content
