"""Moderators grant, deduct, freeze and unfreeze with a reason; each is audited."""

from __future__ import annotations

import pytest
import time_machine

from points.models import LedgerTransaction, Member
from points.services import member_set_frozen, points_deduct, points_grant
from predictmarket.errors import InsufficientPoints, ValidationFailed
from predictmarket.models import AuditLogEntry, OutboxEvent
from tests.factories import balance_of, refused, snapshot


def test_it_records_a_grant_in_the_ledger_audit_log_and_outbox(
    member: Member, moderator: str
) -> None:
    start = balance_of(member)
    txn = points_grant(member=member, amount=250, reason="  won the quiz  ", actor=moderator)

    assert balance_of(member) == start + 250
    stored = LedgerTransaction.objects.get(pk=txn.pk)
    assert (stored.kind, stored.actor, stored.memo) == ("adjustment", moderator, "won the quiz")

    audit = AuditLogEntry.objects.get(action="points.grant")
    assert audit.actor == moderator
    assert audit.guild_id == member.guild_id
    assert (audit.target_type, audit.target_id) == ("points.member", str(member.pk))
    assert audit.data == {"amount": 250, "reason": "won the quiz", "transaction_id": txn.pk}

    event = OutboxEvent.objects.get(kind="balance.granted")
    assert event.guild_id == member.guild_id
    assert (event.aggregate_type, event.aggregate_id) == ("member", str(member.pk))
    assert event.payload == {
        "amount": 250,
        "reason": "won the quiz",
        "transaction_id": txn.pk,
        "discord_id": str(member.discord_id),
    }


def test_it_records_a_deduction_in_the_ledger_audit_log_and_outbox(
    member: Member, moderator: str
) -> None:
    start = balance_of(member)
    txn = points_deduct(member=member, amount=40, reason="spam", actor=moderator)

    assert balance_of(member) == start - 40
    audit = AuditLogEntry.objects.get(action="points.deduct")
    assert audit.actor == moderator
    assert audit.data == {"amount": 40, "reason": "spam", "transaction_id": txn.pk}
    event = OutboxEvent.objects.get(kind="balance.deducted")
    assert event.payload["amount"] == 40
    assert event.payload["discord_id"] == str(member.discord_id)


def test_it_audits_freeze_and_unfreeze_with_the_reason(member: Member, moderator: str) -> None:
    frozen = member_set_frozen(member=member, frozen=True, reason="alt account", actor=moderator)
    assert (frozen.is_frozen, frozen.frozen_reason) == (True, "alt account")
    thawed = member_set_frozen(member=member, frozen=False, reason="appeal", actor=moderator)
    assert (thawed.is_frozen, thawed.frozen_reason) == (False, "")

    entries = list(AuditLogEntry.objects.order_by("id").values_list("actor", "action", "data"))
    assert entries == [
        (moderator, "member.freeze", {"reason": "alt account"}),
        (moderator, "member.unfreeze", {"reason": "appeal"}),
    ]
    assert AuditLogEntry.objects.filter(target_id=str(member.pk)).count() == 2


def test_it_refuses_deduction_below_zero(member: Member, moderator: str) -> None:
    balance = balance_of(member)
    before = snapshot()
    with refused(InsufficientPoints):
        points_deduct(member=member, amount=balance + 1, reason="penalty", actor=moderator)
    assert snapshot() == before


def test_it_allows_deduction_to_exactly_zero(member: Member, moderator: str) -> None:
    points_deduct(member=member, amount=balance_of(member), reason="reset", actor=moderator)
    assert balance_of(member) == 0


@pytest.mark.parametrize("reason", [None, "", "   ", "\n\t"])
def test_it_requires_a_reason_for_grant(member: Member, moderator: str, reason: object) -> None:
    before = snapshot()
    with refused(ValidationFailed) as info:
        points_grant(member=member, amount=10, reason=reason, actor=moderator)  # type: ignore[arg-type]
    assert info.value.details == {"field": "reason"}
    assert snapshot() == before


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_it_requires_a_reason_for_deduction(member: Member, moderator: str, reason: object) -> None:
    before = snapshot()
    with refused(ValidationFailed):
        points_deduct(member=member, amount=10, reason=reason, actor=moderator)  # type: ignore[arg-type]
    assert snapshot() == before


@pytest.mark.parametrize("frozen", [True, False])
@pytest.mark.parametrize("reason", [None, "", "   "])
def test_it_requires_a_reason_for_freeze_and_unfreeze(
    member: Member, moderator: str, reason: object, frozen: bool
) -> None:
    if not frozen:
        member_set_frozen(member=member, frozen=True, reason="setup", actor=moderator)
    before = snapshot()
    with refused(ValidationFailed):
        member_set_frozen(member=member, frozen=frozen, reason=reason, actor=moderator)  # type: ignore[arg-type]
    assert snapshot() == before


def test_it_refuses_a_reason_longer_than_500_characters(member: Member, moderator: str) -> None:
    before = snapshot()
    with refused(ValidationFailed):
        points_grant(member=member, amount=10, reason="x" * 501, actor=moderator)
    assert snapshot() == before


def test_it_applies_two_identical_grants_made_in_the_same_instant(
    member: Member, moderator: str
) -> None:
    """Two clicks of "grant 10" are two grants unless the caller passes one request id."""
    start = balance_of(member)
    with time_machine.travel("2030-01-01 12:00:00+00:00", tick=False):
        first = points_grant(member=member, amount=10, reason="bonus", actor=moderator)
        second = points_grant(member=member, amount=10, reason="bonus", actor=moderator)
    assert first.pk != second.pk
    assert balance_of(member) == start + 20
    assert AuditLogEntry.objects.filter(action="points.grant").count() == 2


def test_it_applies_a_grant_once_when_replayed_with_its_key(member: Member, moderator: str) -> None:
    start = balance_of(member)
    first = points_grant(
        member=member, amount=10, reason="bonus", actor=moderator, idempotency_key="mod-req-1"
    )
    again = points_grant(
        member=member, amount=10, reason="bonus", actor=moderator, idempotency_key="mod-req-1"
    )
    assert again.pk == first.pk
    assert balance_of(member) == start + 10
    assert AuditLogEntry.objects.filter(action="points.grant").count() == 1
    assert OutboxEvent.objects.filter(kind="balance.granted").count() == 1
