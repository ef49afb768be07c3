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

from points.models import Account, ApiToken, Guild, Member
from predictmarket.audit import audit_record
from predictmarket.db import fetch_all, models_from_row, select_list

PREFIX_BYTES = 6
SECRET_BYTES = 24


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    key: str  # show once; never stored


def api_token_issue(
    *, member: Member, actor: str, issued_by_moderator: bool = False
) -> IssuedToken:
    """Issue a new key for ``member``, revoking any earlier one (regenerate).

    A key carries no rights of its own beyond acting as its member: whether the
    member may moderate is asked of Discord at each moderator action. The caller
    says whether the member was a moderator when it was issued, which is shown
    and only decides whether the rate-limit bypass is worth asking Discord about.
    """
    prefix = secrets.token_hex(PREFIX_BYTES)
    secret = secrets.token_urlsafe(SECRET_BYTES)
    with transaction.atomic():
        ApiToken.objects.filter(member=member, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        token = ApiToken.objects.create(
            member=member,
            prefix=prefix,
            key_hash=_digest(secret),
            issued_by_moderator=issued_by_moderator,
        )
        audit_record(
            actor=actor,
            action="api_token.issue",
            guild_id=member.guild_id,
            target=member,
            data={"prefix": prefix, "issued_by_moderator": issued_by_moderator},
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
    token = _live_token(parts[1])
    if token is None or not hmac.compare_digest(token.key_hash, _digest(parts[2])):
        return None
    now = timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        # Coarse on purpose: one write a minute per key, not one per request.
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


def _live_token_sql() -> str:
    return f"""
        SELECT {select_list("t", ApiToken)}, {select_list("m", Member)},
            {select_list("g", Guild)}, {select_list("a", Account)}
        FROM {ApiToken._meta.db_table} t
        JOIN {Member._meta.db_table} m ON m.id = t.member_id
        JOIN {Guild._meta.db_table} g ON g.id = m.guild_id
        LEFT JOIN {Account._meta.db_table} a ON a.member_id = m.id
        WHERE t.prefix = %s AND t.revoked_at IS NULL
    """


_LIVE_TOKEN_SQL = _live_token_sql()


def _live_token(prefix: str) -> ApiToken | None:
    """The live token with its member, guild and account, in one prepared query.

    Every API request runs this; compiling the equivalent ORM query with three
    select_related joins cost several times the query itself.
    """
    rows = fetch_all(_LIVE_TOKEN_SQL, [prefix], prepare=True)
    if not rows:
        return None
    (token, member, member.guild, account), _ = models_from_row(
        rows[0], [ApiToken, Member, Guild, Account]
    )
    if account is not None:  # every member has an account; the join does not insist
        member.account = account
    token.member = member
    return token
