"""``/notify on|off``: a member's result DMs, switched by a service that writes only a change."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from points.models import Member
from points.services import member_set_notify_results
from predictmarket.models import AuditLogEntry

pytestmark = pytest.mark.django_db


def audit_actions(member: Member) -> list[str]:
    entries = AuditLogEntry.objects.filter(target_type="points.member", target_id=str(member.pk))
    return list(entries.order_by("id").values_list("action", flat=True))


def test_it_is_off_until_the_member_asks(member: Member) -> None:
    assert Member.objects.get(pk=member.pk).notify_results is False


def test_it_turns_on_and_off_and_audits_each_change(member: Member) -> None:
    assert member_set_notify_results(member=member, on=True, actor="discord:1") is True
    assert Member.objects.get(pk=member.pk).notify_results is True
    assert member_set_notify_results(member=member, on=False, actor="discord:1") is True
    assert Member.objects.get(pk=member.pk).notify_results is False
    assert audit_actions(member) == ["member.notify_on", "member.notify_off"]


def test_asking_twice_changes_nothing_more(member: Member) -> None:
    member_set_notify_results(member=member, on=True, actor="discord:1")
    assert member_set_notify_results(member=member, on=True, actor="discord:1") is False
    assert Member.objects.get(pk=member.pk).notify_results is True
    assert audit_actions(member) == ["member.notify_on"]
    assert member_set_notify_results(member=member, on=False, actor="discord:1") is True
    assert member_set_notify_results(member=member, on=False, actor="discord:1") is False
    assert audit_actions(member) == ["member.notify_on", "member.notify_off"]


def test_it_changes_only_that_member(
    member: Member, other_member: Member, outsider: Member
) -> None:
    member_set_notify_results(member=member, on=True, actor="discord:1")
    assert set(Member.objects.filter(notify_results=True)) == {member}


def test_staff_see_the_setting_in_the_admin_but_cannot_set_it_for_the_member(
    member: Member,
) -> None:
    staff = Client()
    staff.force_login(get_user_model().objects.create_superuser("staff", "s@example.com", "pw"))
    page = staff.get(f"/admin/points/member/{member.pk}/change/").content.decode()
    assert "Notify results" in page
    assert 'name="notify_results"' not in page  # shown, not an input
    staff.post(f"/admin/points/member/{member.pk}/change/", {"notify_results": "on"})
    assert Member.objects.get(pk=member.pk).notify_results is False
