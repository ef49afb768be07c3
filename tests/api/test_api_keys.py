"""Personal API keys: stored hashed, revocable, regenerated, and scoped to one member."""

from __future__ import annotations

import hashlib

import pytest
from django.db import connection
from rest_framework.test import APIClient

from points.api_tokens import api_token_revoke
from points.models import ApiToken, Member
from tests.api.helpers import (
    api_state,
    assert_error,
    assert_unauthenticated,
    client_with_key,
    issue_key,
    url,
)


def _every_stored_value() -> str:
    """Every row of every table, as text: what a database dump would reveal."""
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            quoted = connection.ops.quote_name(table)
            cursor.execute(f"SELECT * FROM {quoted}")
            chunks.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(chunks)


def test_the_key_is_stored_only_as_a_hash(member: Member) -> None:
    key = issue_key(member)
    _, prefix, secret = key.split("_", 2)

    token = ApiToken.objects.get(member=member)

    assert token.prefix == prefix
    assert token.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    stored = _every_stored_value()
    assert prefix in stored  # the public half finds the row...
    assert secret not in stored and key not in stored  # ...the secret is nowhere


def test_a_key_whose_secret_contains_underscores_works(member: Member) -> None:
    """Secrets are URL-safe base64, so "_" is one of their 64 characters (about 40% of keys)."""
    for _ in range(100):
        key = issue_key(member)
        if "_" in key.split("_", 2)[2]:
            break
    else:
        pytest.fail("100 keys without an underscore in the secret")
    assert client_with_key(key).get(url("me")).json()["member_id"] == member.pk


def test_a_valid_key_authenticates_its_member(alice: APIClient, member: Member) -> None:
    assert alice.get(url("me")).json()["member_id"] == member.pk
    assert ApiToken.objects.get(member=member).last_used_at is not None


def test_a_revoked_key_is_refused(alice: APIClient, member: Member) -> None:
    assert alice.get(url("me")).status_code == 200
    api_token_revoke(member=member, actor="discord:1")
    before = api_state()

    assert_unauthenticated(alice.get(url("me")), code="authentication_failed")
    assert_unauthenticated(
        alice.post(url("markets"), {"question": "Q?", "options": ["a", "b"]}, format="json"),
        code="authentication_failed",
    )
    assert api_state() == before


def test_a_regenerated_key_replaces_the_old_one(alice: APIClient, member: Member) -> None:
    new_key = issue_key(member)

    assert_unauthenticated(alice.get(url("me")), code="authentication_failed")
    assert client_with_key(new_key).get(url("me")).json()["member_id"] == member.pk


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer ",
        "Token {key}",
        "bearer {key}",
        "Basic YWxpY2U6c2VjcmV0",
        "Bearer pm_nothing",
        "Bearer {prefix_only}",
        "Bearer {wrong_secret}",
        "Bearer {key}x",
    ],
)
def test_a_malformed_or_wrong_key_is_refused(alice_key: str, header: str) -> None:
    # "pm_<prefix>" (the secret itself may contain "_", and may even end with it).
    prefix = "_".join(alice_key.split("_", 2)[:2])
    api = APIClient()
    api.credentials(
        HTTP_AUTHORIZATION=header.format(
            key=alice_key, prefix_only=f"{prefix}_", wrong_secret=f"{prefix}_{'A' * 32}"
        )
    )
    assert_unauthenticated(api.get(url("me")), code="authentication_failed")


def test_a_key_acts_in_its_own_guild_only(mallory: APIClient, outsider: Member) -> None:
    body = mallory.get(url("me")).json()
    assert body["guild_id"] == str(outsider.guild_id)


def test_a_key_issued_to_a_moderator_carries_no_rights_of_its_own(
    member: Member, market: object
) -> None:
    """Issued "to a moderator", but Discord says alice is none: the key cannot moderate."""
    key = client_with_key(issue_key(member, moderator=True))
    before = api_state()
    assert_error(key.post(url("close", market)), 403, "permission_denied")
    assert api_state() == before
