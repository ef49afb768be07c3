"""A moderator creates, closes, resolves and settles a market entirely through the admin."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from betting.services import bet_place
from markets.models import Market, MarketStatus
from points.models import Account
from points.reconciliation import ledger_reconcile
from points.services import member_ensure
from predictmarket.models import AuditLogEntry

GUILD = 700_000_000_000_000_001


def _staff(username: str) -> Client:
    get_user_model().objects.create_superuser(username, f"{username}@example.com", "pw-" + username)
    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    return client


def _action(client: Client, market: Market, action: str, **fields: str):
    return client.post(
        "/admin/markets/market/",
        {"action": action, "_selected_action": [market.pk], "confirm": "yes", **fields},
        follow=True,
    )


@pytest.mark.django_db
def test_a_moderator_runs_a_market_end_to_end_in_the_admin(
    django_capture_on_commit_callbacks, settings
) -> None:
    # The Celery app reads CELERY_* from the Django settings (this fixture restores them).
    settings.CELERY_TASK_ALWAYS_EAGER = True
    alice = member_ensure(guild_id=GUILD, discord_id=11, display_name="alice")
    bob = member_ensure(guild_id=GUILD, discord_id=12, display_name="bob")
    first, second = _staff("mod1"), _staff("mod2")

    response = first.post(
        "/admin/markets/market/add/",
        {
            "creator": alice.pk,
            "question": "Will the admin flow work?",
            "options": "Yes\nNo\n",
            "duration_hours": "2",
            "category": "meta",
            "description": "",
        },
        follow=True,
    )
    assert response.status_code == 200
    market = Market.objects.get(question="Will the admin flow work?")
    assert [o.label for o in market.outcomes.order_by("index")] == ["Yes", "No"]
    assert Account.objects.get(pk=market.escrow_account_id).balance == market.liquidity

    bet_place(member=bob, market_id=market.pk, outcome_index=0, amount=100, idempotency_key="b1")
    bob_before = Account.objects.get(member=bob).balance

    page = first.get(f"/admin/markets/market/{market.pk}/change/")
    assert b"Will the admin flow work?" in page.content and b"%" in page.content

    _action(first, market, "close_now")
    market.refresh_from_db()
    assert market.status == MarketStatus.CLOSED

    confirm = first.post(
        "/admin/markets/market/",
        {"action": "vote_resolution", "_selected_action": [market.pk]},
    )
    assert b"Yes" in confirm.content and b"Cancel the market" in confirm.content

    with django_capture_on_commit_callbacks(execute=True):
        response = _action(first, market, "vote_resolution", choice="0")
    assert b"1 of 2 needed" in response.content
    market.refresh_from_db()
    assert market.status == MarketStatus.CLOSED

    with django_capture_on_commit_callbacks(execute=True):
        response = _action(second, market, "vote_resolution", choice="0")
    assert b"is being settled" in response.content
    market.refresh_from_db()
    assert market.status == MarketStatus.RESOLVED
    assert market.settled_at is not None
    assert Account.objects.get(pk=market.escrow_account_id).balance == 0
    assert Account.objects.get(member=bob).balance > bob_before
    assert ledger_reconcile().ok
    assert AuditLogEntry.objects.filter(action="market.vote", actor="admin:mod2").exists()


@pytest.mark.django_db
def test_the_admin_shows_a_validation_error_and_creates_nothing() -> None:
    alice = member_ensure(guild_id=GUILD, discord_id=11, display_name="alice")
    client = _staff("mod1")
    response = client.post(
        "/admin/markets/market/add/",
        {
            "creator": alice.pk,
            "question": "Duplicate options?",
            "options": "Yes\nyes\n",
            "duration_hours": "2",
            "category": "",
            "description": "",
        },
    )
    assert response.status_code == 200
    assert b"duplicate" in response.content
    assert not Market.objects.exists()


@pytest.mark.django_db
def test_cancel_and_refund_from_the_admin_returns_every_stake() -> None:
    alice = member_ensure(guild_id=GUILD, discord_id=11, display_name="alice")
    bob = member_ensure(guild_id=GUILD, discord_id=12, display_name="bob")
    client = _staff("mod1")
    client.post(
        "/admin/markets/market/add/",
        {
            "creator": alice.pk,
            "question": "Cancel me?",
            "options": "A\nB\nC",
            "duration_hours": "1",
            "category": "",
            "description": "",
        },
    )
    market = Market.objects.get(question="Cancel me?")
    before = Account.objects.get(member=bob).balance
    bet_place(member=bob, market_id=market.pk, outcome_index=2, amount=77, idempotency_key="c1")
    from betting.unwind import refund_market

    response = _action(client, market, "cancel_and_refund")
    assert b"cancelled" in response.content
    refund_market(market_id=market.pk)  # the on-commit task's work, run here
    market.refresh_from_db()
    assert market.status == MarketStatus.CANCELLED
    assert Account.objects.get(member=bob).balance == before
    assert Account.objects.get(pk=market.escrow_account_id).balance == 0


@pytest.mark.django_db
def test_audit_log_and_ledger_are_read_only_in_the_admin() -> None:
    client = _staff("mod1")
    member_ensure(guild_id=GUILD, discord_id=11, display_name="alice")
    assert client.get("/admin/points/ledgertransaction/").status_code == 200
    assert client.get("/admin/points/ledgertransaction/add/").status_code == 403
    assert client.get("/admin/core/auditlogentry/add/").status_code == 403
    from points.models import LedgerTransaction

    first = LedgerTransaction.objects.order_by("pk").first()
    txn_page = client.get(f"/admin/points/ledgertransaction/{first.pk}/change/")
    assert txn_page.status_code == 200
    assert b"starting balance" in txn_page.content
    assert b'name="_save"' not in txn_page.content
