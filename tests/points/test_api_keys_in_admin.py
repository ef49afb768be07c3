"""Staff issue, regenerate and revoke a member's API key from the admin."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from points.api_tokens import api_token_authenticate
from points.models import ApiToken, Member

KEY = re.compile(r"pm_[0-9a-f]{12}_[A-Za-z0-9_-]+")


def _admin() -> Client:
    user = get_user_model().objects.create_superuser("staff", "s@example.com", "pw")
    client = Client()
    client.force_login(user)
    return client


def _act(client: Client, member: Member, action: str, **fields: str) -> str:
    response = client.post(
        "/admin/points/member/",
        {"action": action, "_selected_action": [member.pk], "confirm": "yes", **fields},
        follow=True,
    )
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.django_db
def test_staff_issue_a_key_shown_once_and_stored_hashed(member: Member) -> None:
    page = _act(_admin(), member, "issue_api_key", moderator="on")
    key = KEY.search(page).group(0)
    token = api_token_authenticate(key)
    assert token is not None and token.member == member and token.issued_by_moderator
    secret = key.split("_", 2)[2]
    assert not ApiToken.objects.filter(key_hash__contains=secret).exists()
    assert secret not in ApiToken.objects.get().key_hash


@pytest.mark.django_db
def test_regenerating_replaces_the_old_key_and_revoking_ends_it(member: Member) -> None:
    client = _admin()
    first = KEY.search(_act(client, member, "issue_api_key")).group(0)
    second = KEY.search(_act(client, member, "issue_api_key")).group(0)
    assert api_token_authenticate(first) is None
    assert api_token_authenticate(second) is not None
    assert "API key revoked" in _act(client, member, "revoke_api_keys")
    assert api_token_authenticate(second) is None
