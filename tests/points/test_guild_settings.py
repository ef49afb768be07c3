"""Guild admins change settings through one validated, audited service."""

from __future__ import annotations

import pytest

from points.models import Guild
from points.services import guild_update_settings
from predictmarket.errors import NotFound, ValidationFailed
from predictmarket.models import AuditLogEntry


@pytest.mark.django_db
def test_it_saves_valid_changes_and_audits_before_and_after(guild: Guild) -> None:
    updated = guild_update_settings(
        guild_id=guild.pk, actor="discord:42", fee_bps=150, public_pages=True, max_bet=500
    )
    guild.refresh_from_db()
    assert (guild.fee_bps, guild.public_pages, guild.max_bet) == (150, True, 500)
    assert updated.fee_bps == 150
    entry = AuditLogEntry.objects.get(action="guild.settings")
    assert entry.actor == "discord:42"
    assert entry.data["after"] == {"fee_bps": 150, "public_pages": True, "max_bet": 500}
    assert entry.data["before"]["fee_bps"] == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"fee_bps": 9000}, "fee_bps"),
        ({"min_bet": 0}, "min_bet"),
        ({"min_resolution_votes": 0}, "min_resolution_votes"),
        ({"auto_refund_hours": 0}, "auto_refund_hours"),
        ({"moderator_role_id": -4}, "moderator_role_id"),
        ({"starting_balance": -1}, "starting_balance"),
        ({"min_bet": 10, "max_bet": 5}, "max_bet"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_it_refuses_an_invalid_setting_and_saves_nothing(
    guild: Guild, changes: dict[str, object], field: str
) -> None:
    before = {f.name: getattr(guild, f.name) for f in Guild._meta.fields if f.name != "updated_at"}
    with pytest.raises(ValidationFailed) as info:
        guild_update_settings(guild_id=guild.pk, actor="discord:42", **changes)
    assert info.value.details["field"] == field
    guild.refresh_from_db()
    assert {name: getattr(guild, name) for name in before} == before
    assert not AuditLogEntry.objects.filter(action="guild.settings").exists()


@pytest.mark.django_db
def test_it_refuses_an_unknown_guild() -> None:
    with pytest.raises(NotFound):
        guild_update_settings(guild_id=999_999_999_999, actor="x", fee_bps=1)
