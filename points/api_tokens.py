"""Personal API keys: one per member, stored hashed, shown once, revocable.

A key looks like ``pm_<prefix>_<secret>``. The prefix (public, indexed) finds
the row; the secret is compared by its SHA-256 digest in constant time. The
full key exists only in the response that issued it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from points.models import ApiToken, Member
from predictmarket.audit import audit_record

PREFIX_BYTES = 6
SECRET_BYTES = 24


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    key: str  # show once; never stored


def api_token_issue(*, member: Member, actor: str, moderator: bool = False) -> IssuedToken:
    """Issue a new key for ``member``, revoking any earlier one (regenerate).

    ``moderator`` is decided by the caller when the key is issued (the Discord
    role or Manage Server permission, or a staff user in the admin): the API
    cannot see Discord roles, so a member whose role changes regenerates the key.
    """
    prefix = secrets.token_hex(PREFIX_BYTES)
    secret = secrets.token_urlsafe(SECRET_BYTES)
    with transaction.atomic():
        ApiToken.objects.filter(member=member, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        token = ApiToken.objects.create(
            member=member, prefix=prefix, key_hash=_digest(secret), is_moderator=moderator
        )
        audit_record(
            actor=actor,
            action="api_token.issue",
            guild_id=member.guild_id,
            target=member,
            data={"prefix": prefix, "moderator": moderator},
        )
    return IssuedToken(token=token, key=f"pm_{prefix}_{secret}")


def api_token_revoke(*, member: Member, actor: str) -> int:
    with transaction.atomic():
        revoked = ApiToken.objects.filter(member=member, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        if revoked:
            audit_record(
                actor=actor, action="api_token.revoke", guild_id=member.guild_id, target=member
            )
    return revoked


def api_token_authenticate(key: str) -> ApiToken | None:
    """The live token for ``key``, or None. Never says which part was wrong."""
    parts = key.split("_", 2)  # the secret itself may contain "_"
    if len(parts) != 3 or parts[0] != "pm" or len(parts[1]) != PREFIX_BYTES * 2:
        return None
    token = (
        ApiToken.objects.select_related("member", "member__guild", "member__account")
        .filter(prefix=parts[1], revoked_at__isnull=True)
        .first()
    )
    if token is None or not hmac.compare_digest(token.key_hash, _digest(parts[2])):
        return None
    now = timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        # Coarse on purpose: one write a minute per key, not one per request.
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token
