"""/points grant|deduct|freeze|unfreeze: moderators only, always with a reason."""

from __future__ import annotations

import pytest

from botrunner.cogs.moderation import (
    points_deduct_command,
    points_freeze_command,
    points_grant_command,
    points_unfreeze_command,
)
from points.models import Member
from predictmarket.models import AuditLogEntry
from tests.botrunner.conftest import member_for, run
from tests.botrunner.helpers import balance, state

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_moderator_grants_and_deducts_with_a_reason(slash, guild, moderator, bob) -> None:
    member_for(bob, guild)
    start = balance(bob)
    granted = slash(moderator)
    run(points_grant_command(granted, member=bob, amount=250, reason="won the quiz"))
    assert balance(bob) == start + 250
    assert "Granted 250 points to bob" in granted.last.text
    deducted = slash(moderator)
    run(points_deduct_command(deducted, member=bob, amount=50, reason="typo"))
    assert balance(bob) == start + 200
    actions = list(
        AuditLogEntry.objects.filter(actor=f"discord:{moderator.id}").values_list("action", "data")
    )
    assert [a for a, _ in actions] == ["points.deduct", "points.grant"]
    assert actions[1][1]["reason"] == "won the quiz"


def test_a_retried_grant_grants_once(slash, guild, moderator, bob) -> None:
    member_for(bob, guild)
    start = balance(bob)
    first = slash(moderator)
    run(points_grant_command(first, member=bob, amount=100, reason="prize"))
    run(points_grant_command(slash(moderator, id=first.id), member=bob, amount=100, reason="prize"))
    assert balance(bob) == start + 100


def test_freeze_and_unfreeze(slash, guild, moderator, bob) -> None:
    member_for(bob, guild)
    frozen = slash(moderator)
    run(points_freeze_command(frozen, member=bob, reason="investigating"))
    assert Member.objects.get(discord_id=bob.id).is_frozen
    assert "bob is frozen" in frozen.last.text
    thawed = slash(moderator)
    run(points_unfreeze_command(thawed, member=bob, reason="cleared"))
    assert not Member.objects.get(discord_id=bob.id).is_frozen


@pytest.mark.parametrize(
    ("who", "reason", "amount", "message"),
    [
        ("member", "because", 10, "Only moderators"),
        ("moderator", "   ", 10, "A reason is required"),
        ("moderator", "too much", 10**9, "Not enough points"),
    ],
)
def test_refused_adjustments_change_nothing(
    slash, guild, moderator, alice, bob, who, reason, amount, message
) -> None:
    member_for(bob, guild)
    actor = moderator if who == "moderator" else alice
    member_for(actor, guild)
    before = state()
    interaction = slash(actor)
    run(points_deduct_command(interaction, member=bob, amount=amount, reason=reason))
    assert interaction.last.ephemeral
    assert message in interaction.last.text
    assert state() == before
