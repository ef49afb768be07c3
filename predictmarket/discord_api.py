"""Asking Discord, from the web process, whether a guild member is a moderator now.

The bot sees a member's roles and permissions on every interaction; the web and
the API do not, so at each moderator action they ask Discord with the bot token:

* ``GET /guilds/{guild_id}/members/{user_id}`` — the member's role ids (404
  Unknown Member: not in the server, so not a moderator);
* ``GET /guilds/{guild_id}`` — the owner and every role's permission bits, to
  compute Manage Server (0x20) or Administrator (0x8) the way Discord does
  (the @everyone role, whose id is the guild's, plus the member's roles).

Answers are cached for at most ``RIGHTS_CACHE_SECONDS`` (the Django cache, one
key per guild+member and per guild), so a moderator who loses the role loses
the rights within a minute. Failures are never cached as an answer: when
Discord cannot tell (no token, timeout, 401/403, 5xx, the bot is not in the
server) the caller gets ``ModeratorCheckUnavailable`` and must refuse. A 429
is honoured: until its ``Retry-After`` the guild is not asked again (Discord
bans bots that keep sending requests it refused).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import httpx
from django.conf import settings
from django.core.cache import cache

from predictmarket.errors import ModeratorCheckUnavailable

logger = logging.getLogger(__name__)

RIGHTS_CACHE_SECONDS = 60
MAX_BACKOFF_SECONDS = 60
MANAGE_GUILD = 0x20
ADMINISTRATOR = 0x8
UNKNOWN_GUILD = 10004  # Discord's JSON error code: the bot is not in that server


@dataclass(frozen=True)
class GuildRoles:
    owner_id: int
    permissions: dict[int, int]  # role id -> permission bits


def member_is_moderator(*, guild_id: int, user_id: int, moderator_role_id: int | None) -> bool:
    """Whether Discord says ``user_id`` moderates ``guild_id`` now (cached ≤ 60 s).

    A moderator holds the guild's configured moderator role, or Manage Server,
    or Administrator, or owns the server. Raises ``ModeratorCheckUnavailable``
    when Discord cannot tell.
    """
    roles = _member_roles(guild_id, user_id)
    if roles is None:
        return False  # not a member of the server
    if moderator_role_id is not None and moderator_role_id in roles:
        return True  # one request answers the common case
    guild = _guild_roles(guild_id)
    if guild.owner_id == user_id:
        return True
    bits = guild.permissions.get(guild_id, 0)  # @everyone
    for role in roles:
        bits |= guild.permissions.get(role, 0)
    return bool(bits & (MANAGE_GUILD | ADMINISTRATOR))


def guild_member_name(*, guild_id: int, user_id: int) -> str | None:
    """The name a guild member shows (nickname, else global name, else username), or None
    when Discord says they are not in the guild (cached like the rights). Raises
    ``ModeratorCheckUnavailable`` when Discord cannot tell.

    Used to check that a member named in the API (a market's arbitrator) is in the server.
    """
    key = f"discord:member-name:{guild_id}:{user_id}"
    cached = _fresh(key)
    if cached is None:
        body = _get(guild_id, f"/guilds/{guild_id}/members/{user_id}")
        name = None
        if body is not None:
            user = body.get("user") if isinstance(body.get("user"), dict) else {}
            name = str(
                body.get("nick") or user.get("global_name") or user.get("username") or user_id
            )
        cached = {"name": name}
        _store(key, cached)
    return cached["name"]


def _member_roles(guild_id: int, user_id: int) -> frozenset[int] | None:
    key = f"discord:member:{guild_id}:{user_id}"
    cached = _fresh(key)
    if cached is not None:
        roles = cached["roles"]
        return None if roles is None else frozenset(roles)
    response = _get(guild_id, f"/guilds/{guild_id}/members/{user_id}")
    # None: Unknown Member, remembered like any other answer.
    try:
        roles = None if response is None else sorted(int(r) for r in response["roles"])
    except (KeyError, TypeError, ValueError):
        raise _unavailable(guild_id, "the member answer had no readable roles") from None
    _store(key, {"roles": roles})
    return None if roles is None else frozenset(roles)


def _guild_roles(guild_id: int) -> GuildRoles:
    key = f"discord:guild:{guild_id}"
    cached = _fresh(key)
    if cached is None:
        body = _get(guild_id, f"/guilds/{guild_id}")
        if body is None:
            raise _unavailable(guild_id, "the server itself was not found")
        try:
            cached = {
                "owner_id": int(body["owner_id"]),
                "permissions": {
                    str(r["id"]): int(r.get("permissions") or 0) for r in body["roles"]
                },
            }
        except (KeyError, TypeError, ValueError, AttributeError):
            # An answer we cannot read says nothing about rights: refuse, as when down.
            raise _unavailable(guild_id, "the server answer had no readable roles") from None
        _store(key, cached)
    return GuildRoles(
        owner_id=int(cached["owner_id"]),
        permissions={int(role): bits for role, bits in cached["permissions"].items()},
    )


def _fresh(key: str) -> dict[str, Any] | None:
    """A cached answer younger than the limit.

    The age is checked here as well as by the cache's own expiry: a cache server's
    clock (Redis' TTL) is not this process's, and the limit is a promise.
    """
    entry = cache.get(key)
    if entry is None or not 0 <= time.time() - entry["at"] < RIGHTS_CACHE_SECONDS:
        return None
    return entry


def _store(key: str, value: dict[str, Any]) -> None:
    cache.set(key, {**value, "at": time.time()}, timeout=RIGHTS_CACHE_SECONDS)


def _get(guild_id: int, path: str) -> dict[str, Any] | None:
    """Discord's JSON for ``path``; None for a 404 that is not Unknown Guild.

    Everything that leaves the answer unknown raises ``ModeratorCheckUnavailable``.
    """
    token = settings.DISCORD_TOKEN
    if not token:
        raise _unavailable(guild_id, "no DISCORD_TOKEN is configured")
    backoff_key = f"discord:backoff:{guild_id}"
    until = cache.get(backoff_key)
    if until is not None and time.time() < until:
        raise _unavailable(guild_id, "rate limited by Discord")
    try:
        response = httpx.get(
            f"{settings.DISCORD_API_BASE_URL}{path}",
            headers={"Authorization": f"Bot {token}"},
            timeout=settings.DISCORD_API_TIMEOUT_SECONDS,
        )
    except httpx.HTTPError as exc:
        raise _unavailable(guild_id, f"{type(exc).__name__}") from exc
    if response.status_code == 429:
        retry_after = _retry_after(response)
        cache.set(backoff_key, time.time() + retry_after, timeout=int(retry_after) + 1)
        raise _unavailable(guild_id, f"rate limited for {retry_after:.1f} s")
    if response.status_code == 404:
        if _json(response).get("code") == UNKNOWN_GUILD:
            raise _unavailable(guild_id, "the bot is not in this server")
        return None
    if response.status_code != 200:
        raise _unavailable(guild_id, f"HTTP {response.status_code}")
    body = _json(response)
    if not body:
        raise _unavailable(guild_id, "an unreadable answer")
    return body


def _retry_after(response: httpx.Response) -> float:
    try:
        seconds = float(response.headers.get("Retry-After") or _json(response)["retry_after"])
    except (KeyError, TypeError, ValueError):
        seconds = 1.0
    return min(max(seconds, 0.0), MAX_BACKOFF_SECONDS)


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _unavailable(guild_id: int, reason: str) -> ModeratorCheckUnavailable:
    # The reason goes to the log (never the token); the member reads the stable message.
    logger.warning("moderator check for guild %s failed: %s", guild_id, reason)
    return ModeratorCheckUnavailable()
