"""Admins connect a guild to DRIP in the admin; the key is stored encrypted, shown masked."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from points.models import Guild, PointsBackend
from predictmarket.models import AuditLogEntry
from tests.drip.fake_drip import FakeDrip


def _form(guild: Guild, **changes: object) -> dict[str, object]:
    data = {
        name: getattr(guild, name)
        for name in [
            "name",
            "starting_balance",
            "daily_amount",
            "min_bet",
            "max_bet",
            "default_liquidity",
            "fee_bps",
            "min_resolution_votes",
            "auto_refund_hours",
            "correction_window_hours",
            "resolvers_binary",
            "resolvers_multiple",
            "closing_soon_lead_minutes",
            "drip_realm_id",
            "drip_currency_id",
        ]
    }
    data.update(
        points_backend=guild.points_backend,
        moderator_role_id="",
        announcement_channel_id="",
        drip_api_key="",
    )
    if guild.public_pages:
        data["public_pages"] = "on"
    if guild.transfers_enabled:
        data["transfers_enabled"] = "on"
    data.update(changes)
    return data


@pytest.fixture
def staff() -> Client:
    user = get_user_model().objects.create_superuser("root", "r@example.com", "pw")
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_connecting_drip_stores_the_key_encrypted_and_shows_it_masked(
    staff: Client, guild: Guild, fake_drip: FakeDrip
) -> None:
    url = f"/admin/points/guild/{guild.pk}/change/"
    response = staff.post(
        url,
        _form(
            guild,
            points_backend="drip",
            drip_realm_id=fake_drip.realm_id,
            drip_api_key="secret-drip-key-1234",
            fee_bps=25,
        ),
        follow=True,
    )
    assert response.status_code == 200
    guild.refresh_from_db()
    assert guild.points_backend == PointsBackend.DRIP
    assert guild.fee_bps == 25
    assert "secret-drip-key-1234" not in guild.drip_api_key_encrypted
    page = staff.get(url).content.decode()
    assert "secret-drip-key-1234" not in page
    assert "…1234" in page
    assert AuditLogEntry.objects.filter(action="guild.drip_connect").exists()
    assert AuditLogEntry.objects.filter(action="guild.settings").exists()


@pytest.mark.django_db
def test_an_invalid_setting_in_the_admin_saves_nothing(staff: Client, guild: Guild) -> None:
    url = f"/admin/points/guild/{guild.pk}/change/"
    response = staff.post(
        url,
        _form(guild, points_backend="drip", drip_realm_id="nothex", drip_api_key="k" * 12),
        follow=True,
    )
    guild.refresh_from_db()
    assert guild.points_backend == PointsBackend.LOCAL
    assert b"24 hex" in response.content


@pytest.mark.django_db
def test_the_admin_reconciliation_page_shows_drift(
    staff: Client, drip_guild: Guild, fake_drip: FakeDrip
) -> None:
    from points.drip.services import drip_debit
    from tests.factories import MemberFactory

    member = MemberFactory(guild=drip_guild)
    fake_drip.add_member(member.discord_id, 300)
    drip_debit(member=member, amount=100, key="bet:x")
    fake_drip.members[member.discord_id]["balance"] = 150
    page = staff.get("/admin/points/driptransfer/reconcile/").content.decode()
    assert "differences found" in page
    assert f"<td>{member.discord_id}</td><td>200</td><td>150</td><td>-50</td>" in page
