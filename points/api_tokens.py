"""Personal API keys: one per member, stored hashed, shown once, revocable.

A key looks like ``pm_<prefix>_<secret>``. The prefix (public, indexed) finds
the row; the secret is compared by its SHA-256 digest in constant time. The
full key exists only in the response that issued it.

Reads verify from the cache. A verified key's ``KeyCredential`` (ids and the
digest, no member row) is cached for ``API_KEY_CACHE_SECONDS`` under its
prefix, so a cached market read runs no query at all; the secret is still
compared with the digest on every request. Revoking (and regenerating, which
revokes the old key) replaces the entry with a tombstone, before and again
after it commits, and reads fill the cache only where there is no entry at
all (``cache.add``): a read that verified the key in the database just before
the revoke committed cannot cache it afterwards. Writes always verify against
the database: if Redis failed to take the tombstone, a revoked key can at
most keep *reading* until the entry expires.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from points.models import Account, ApiToken, Guild, Member
from predictmarket.audit import audit_record
from predictmarket.cache_errors import CACHE_ERRORS
from predictmarket.cache_metrics import count_cache_read
from predictmarket.db import fetch_all, models_from_row, select_list

logger = logging.getLogger(__name__)

PREFIX_BYTES = 6
SECRET_BYTES = 24
_PREFIX = re.compile(rf"[0-9a-f]{{{PREFIX_BYTES * 2}}}")  # secrets.token_hex's
# The cache entry of a revoked key's prefix: reads go to the database and fill nothing.
_REVOKED = "revoked"


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
        _revoke_live_tokens(member)
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
        revoked = _revoke_live_tokens(member)
        if revoked:
            audit_record(
                actor=actor, action="api_token.revoke", guild_id=member.guild_id, target=member
            )
    return revoked


def _revoke_live_tokens(member: Member) -> int:
    """Revoke the member's live keys (inside the caller's transaction); forget them on commit."""
    live = ApiToken.objects.filter(member=member, revoked_at__isnull=True)
    prefixes = list(live.values_list("prefix", flat=True))
    revoked = live.update(revoked_at=timezone.now())
    if prefixes:
        # Now, and again after the commit: a read between the two may have cached
        # the key while the revocation was not yet visible to it.
        _forget(prefixes)
        transaction.on_commit(lambda: _forget(prefixes))
    return revoked


def _split(key: str) -> tuple[str, str] | None:
    parts = key.split("_", 2)  # the secret itself may contain "_"
    if len(parts) != 3 or parts[0] != "pm" or not _PREFIX.fullmatch(parts[1]):
        return None
    return parts[1], parts[2]


def _touch(token: ApiToken) -> None:
    now = timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        # Coarse on purpose: one write a minute per key, not one per request.
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now


def api_token_authenticate(key: str) -> ApiToken | None:
    """The live token for ``key`` (from the database), or None. Never says which part was wrong."""
    split = _split(key)
    if split is None:
        return None
    prefix, secret = split
    token = _live_token(prefix)
    if token is None or not hmac.compare_digest(token.key_hash, _digest(secret)):
        return None
    _touch(token)
    return token


@dataclass(frozen=True)
class KeyCredential:
    """What a verified key says, without its member's row: enough for the cached reads."""

    token_id: int
    key_hash: str
    member_id: int
    guild_id: int
    issued_by_moderator: bool


def _credential_key(prefix: str) -> str:
    return f"apikey:1:{prefix}"


def api_key_credential(key: str) -> KeyCredential | None:
    """``api_token_authenticate`` for reads: verified from the cache when it can be.

    Its ``last_used_at`` is touched when the credential is cached (a minute's
    precision, as always: the entry lives less than that).
    """
    split = _split(key)
    if split is None:
        return None
    prefix, secret = split
    if not settings.READ_CACHE_ENABLED:
        return _credential(api_token_authenticate(key))
    cached: KeyCredential | None
    try:
        cached = cache.get(_credential_key(prefix))
    except CACHE_ERRORS:
        count_cache_read("api_key", "error")
        return _credential(api_token_authenticate(key))
    if isinstance(cached, KeyCredential):
        count_cache_read("api_key", "hit")
        return cached if hmac.compare_digest(cached.key_hash, _digest(secret)) else None
    count_cache_read("api_key", "miss")
    credential = _credential(api_token_authenticate(key))
    if credential is not None and cached is None:
        # Only keys that verified (guessed prefixes fill nothing), and only where there is
        # no entry: ``add`` never overwrites a revoke's tombstone set meanwhile.
        with contextlib.suppress(*CACHE_ERRORS):
            cache.add(_credential_key(prefix), credential, timeout=settings.API_KEY_CACHE_SECONDS)
    return credential


def _credential(token: ApiToken | None) -> KeyCredential | None:
    if token is None:
        return None
    return KeyCredential(
        token_id=token.pk,
        key_hash=token.key_hash,
        member_id=token.member_id,
        guild_id=token.member.guild_id,
        issued_by_moderator=token.issued_by_moderator,
    )


def _forget(prefixes: Iterable[str]) -> None:
    """Tombstone the prefixes' entries: a racing read's ``cache.add`` cannot bring them back."""
    try:
        cache.set_many(
            {_credential_key(p): _REVOKED for p in prefixes},
            timeout=settings.API_KEY_CACHE_SECONDS,
        )
    except CACHE_ERRORS:
        # Reads may accept the revoked key until API_KEY_CACHE_SECONDS pass; writes
        # check the database and refuse it already.
        logger.warning("could not drop revoked API keys from the cache", exc_info=True)


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
