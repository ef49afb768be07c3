"""Which served guilds a signed-in web user belongs to and moderates, as Discord says now.

Asked of Discord with the person's own OAuth2 token (allauth's ``SocialToken``,
scopes ``guilds`` and ``guilds.members.read``), never the bot's:

* ``GET /users/@me/guilds`` — the servers they are in, with ``owner`` and the
  ``permissions`` Discord computes from their roles (Manage Server 0x20,
  Administrator 0x8);
* ``GET /users/@me/guilds/{guild_id}/member`` — their role ids in one server,
  to see the role the guild's settings name as its moderator role.

A guild counts only if the bot serves it (it has a ``points.Guild`` row). A
moderator holds that role, or Manage Server, or Administrator, or owns the
server. The answer is kept in the Django cache with the time it was asked;
``memberships_for`` asks again when it is older than ``max_age`` (the console
passes ``MODERATOR_CONSOLE_REFRESH_SECONDS``, and 0 before every action).

The members' web app only needs ``member_of``: it asks with
``moderators=False``, which costs one call (the guild list) and never the
per-guild member calls. Such an answer keeps the moderator flags of the last
full answer for the guilds that needed a member call (``moderators_checked_at``
stays that answer's time), so a person who uses both the console and the web
app is not asked about their roles more often than the console's window.

Failures are never an answer: when Discord cannot tell (timeout, 5xx, 429,
an unreadable body) ``ModeratorCheckUnavailable`` is raised (``GuildListUnavailable``
for a members-only question) and the caller must refuse; a token Discord
rejects (401) or no token at all raises ``DiscordSignInNeeded`` and the cached
answer is dropped.

Public API (the console, the API's staff sessions and the members' web app read it):
``memberships_for(user=, max_age=, moderators=True)`` → ``Memberships``
(``member_of``, ``moderator_of``, ``guilds``: ``GuildMembership(guild_id, name,
is_moderator)``), ``moderated_guilds(request)`` (once per request, fresh for
unsafe methods), ``memberships_cached(user=)`` (the last answer, however old),
``memberships_forget(user=)``, and the errors ``DiscordSignInNeeded``,
``ModeratorCheckUnavailable`` and ``GuildListUnavailable``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import httpx
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from predictmarket.errors import DomainError, ExternalServiceError, ModeratorCheckUnavailable

logger = logging.getLogger(__name__)

MANAGE_GUILD = 0x20
ADMINISTRATOR = 0x8
UNKNOWN_GUILD = 10004  # the person is not in that server (or it does not exist)
MAX_BACKOFF_SECONDS = 60


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class DiscordSignInNeeded(DomainError):
    """No usable Discord sign-in: the person must sign in with Discord (again).

    401 on the members' pages; the console and the API answer 403 (they are
    already signed in to this site, as an operator's password or a session).
    """

    code = "discord_sign_in_needed"
    http_status = 401
    default_message = (
        "Sign in with Discord again: this site has no valid Discord sign-in for you, so it "
        "cannot ask Discord which servers you are in or moderate."
    )


class GuildListUnavailable(ExternalServiceError):
    """Discord could not list a person's servers (a members-only question)."""

    default_message = "Discord did not list your servers just now; please try again shortly."


@dataclass(frozen=True)
class GuildMembership:
    guild_id: int
    name: str
    is_moderator: bool
    # Owner, Manage Server or Administrator: who may change the guild's settings
    # (as in the bot's /config set), not merely moderate its markets.
    is_manager: bool = False


@dataclass(frozen=True)
class Memberships:
    """One answer from Discord: the served guilds a person is in, and when it was asked."""

    discord_id: int
    checked_at: float  # time.time() when Discord listed the guilds
    guilds: tuple[GuildMembership, ...]
    # When every ``is_moderator`` was last asked (the oldest of them); None: not asked.
    moderators_checked_at: float | None = None

    @property
    def member_of(self) -> frozenset[int]:
        return frozenset(g.guild_id for g in self.guilds)

    @property
    def moderator_of(self) -> frozenset[int]:
        return frozenset(g.guild_id for g in self.guilds if g.is_moderator)

    @property
    def manager_of(self) -> frozenset[int]:
        return frozenset(g.guild_id for g in self.guilds if g.is_manager)

    def age(self) -> float:
        return time.time() - self.checked_at

    def moderators_age(self) -> float | None:
        if self.moderators_checked_at is None:
            return None
        return time.time() - self.moderators_checked_at


def _fresh(age: float | None, max_age: float) -> bool:
    # A negative age is a clock that went backwards: ask again rather than trust it.
    return age is not None and 0 <= age < max_age


def _key(user_id: int) -> str:
    return f"discord_login:memberships:{user_id}"


def memberships_forget(*, user: Any) -> None:
    """Drop the cached answer (sign-out, a rejected token): the next use asks Discord."""
    cache.delete(_key(user.pk))


def memberships_cached(*, user: Any) -> Memberships | None:
    """The last answer, however old (callers decide whether it is fresh enough)."""
    entry = cache.get(_key(user.pk))
    if not isinstance(entry, dict):
        return None
    try:
        return Memberships(
            discord_id=int(entry["discord_id"]),
            checked_at=float(entry["checked_at"]),
            guilds=tuple(GuildMembership(**g) for g in entry["guilds"]),
            moderators_checked_at=(
                None
                if entry.get("moderators_checked_at") is None
                else float(entry["moderators_checked_at"])
            ),
        )
    except (KeyError, TypeError, ValueError):
        return None


def memberships_for(*, user: Any, max_age: float, moderators: bool = True) -> Memberships:
    """The served guilds ``user`` is in and moderates, asked of Discord if older than ``max_age``.

    ``max_age=0`` always asks. ``moderators=False`` (the members' pages) asks
    only which servers the person is in: ``moderator_of`` is then not to be
    relied on. Raises ``DiscordSignInNeeded`` (no usable token),
    ``ModeratorCheckUnavailable`` (Discord cannot tell now) or, for
    ``moderators=False``, ``GuildListUnavailable``.
    """
    cached = memberships_cached(user=user)
    if (
        cached is not None
        and _fresh(cached.age(), max_age)
        and (not moderators or _fresh(cached.moderators_age(), max_age))
    ):
        return cached
    if moderators:
        return _refresh(user, members_only=False, previous=None)
    try:
        return _refresh(user, members_only=True, previous=cached)
    except ModeratorCheckUnavailable:
        raise GuildListUnavailable() from None


def moderated_guilds(request: Any) -> frozenset[int]:
    """The guilds the signed-in person of ``request`` moderates, asked once per request.

    Fresh within ``MODERATOR_CONSOLE_REFRESH_SECONDS``, and asked of Discord
    anew for an unsafe method (every action). Works for Django's and DRF's
    requests alike. Raises ``DiscordSignInNeeded`` or ``ModeratorCheckUnavailable``.
    """
    http_request = getattr(request, "_request", request)  # DRF wraps Django's request
    cached = getattr(http_request, "_moderated_guilds", None)
    if cached is not None:
        return cached
    unsafe = http_request.method not in SAFE_METHODS
    max_age = 0 if unsafe else settings.MODERATOR_CONSOLE_REFRESH_SECONDS
    answer = memberships_for(user=http_request.user, max_age=max_age)
    http_request._moderated_guilds = answer.moderator_of
    http_request._managed_guilds = answer.manager_of
    return answer.moderator_of


def managed_guilds(request: Any) -> frozenset[int]:
    """The guilds whose settings the person of ``request`` may change (owner, Manage Server).

    Asked with ``moderated_guilds`` (the same answer, as fresh): the moderator
    role alone lets a person work on markets, never reconfigure the guild (the
    bot's /config set asks the same).
    """
    http_request = getattr(request, "_request", request)
    moderated_guilds(request)
    return getattr(http_request, "_managed_guilds", frozenset())


def _refresh(user: Any, *, members_only: bool, previous: Memberships | None) -> Memberships:
    """Ask Discord; ``members_only``: the guild list alone, never a member call.

    Then a guild whose moderator answer needs the member call keeps the flag
    ``previous`` had for it (False if none) and the answer ``previous``'s
    ``moderators_checked_at`` (None if it had no flag to keep): ``moderator_of``
    is never fresher than that says.
    """
    from points.models import Guild  # the core sits below the apps: imported when asked

    token, discord_id = _user_token(user)
    if previous is not None and previous.discord_id != discord_id:
        previous = None  # another Discord account since: nothing of it carries over
    kept = {g.guild_id: g.is_moderator for g in previous.guilds} if previous else {}
    moderators_checked_at: float | None = time.time()
    carried_everything = True
    try:
        listed = _get(user, token, "/users/@me/guilds")
        if not isinstance(listed, list):
            raise _unavailable(user, "the guild list is not a list")
        partial = {int(g["id"]): g for g in listed}
        served = Guild.objects.filter(pk__in=list(partial)).values_list(
            "pk", "name", "moderator_role_id"
        )
        guilds = []
        for guild_id, name, moderator_role_id in served:
            entry = partial[guild_id]
            bits = int(entry.get("permissions") or 0)
            manager = bool(entry.get("owner")) or bool(bits & (MANAGE_GUILD | ADMINISTRATOR))
            moderator = manager
            if not moderator and moderator_role_id is not None:
                if members_only:
                    moderator = kept.get(guild_id, False)
                    # As old as the answer the flag is kept from; unknown without one.
                    moderators_checked_at = (
                        previous.moderators_checked_at
                        if previous is not None and guild_id in kept
                        else None
                    )
                    if moderators_checked_at is None:
                        carried_everything = False
                else:
                    member = _get(user, token, f"/users/@me/guilds/{guild_id}/member")
                    if member is None:
                        continue  # left the server between the two answers
                    moderator = moderator_role_id in {int(r) for r in member["roles"]}
            guilds.append(
                GuildMembership(
                    guild_id=guild_id,
                    name=name or entry.get("name") or "",
                    is_moderator=moderator,
                    is_manager=manager,
                )
            )
    except (KeyError, TypeError, ValueError, AttributeError):
        raise _unavailable(user, "an answer without the expected fields") from None
    guilds.sort(key=lambda g: g.guild_id)
    if not carried_everything:
        moderators_checked_at = None
    answer = Memberships(
        discord_id=discord_id,
        checked_at=time.time(),
        guilds=tuple(guilds),
        moderators_checked_at=moderators_checked_at,
    )
    cache.set(
        _key(user.pk),
        {
            "discord_id": answer.discord_id,
            "checked_at": answer.checked_at,
            "moderators_checked_at": answer.moderators_checked_at,
            "guilds": [g.__dict__ for g in answer.guilds],
        },
        # Kept a while past freshness: callers check the age, the cache only bounds memory.
        timeout=24 * 3600,
    )
    return answer


def _user_token(user: Any) -> tuple[str, int]:
    """The person's Discord access token and Discord user id, or ``DiscordSignInNeeded``."""
    from allauth.socialaccount.models import SocialToken

    token = (
        SocialToken.objects.filter(account__user_id=user.pk, account__provider="discord")
        .select_related("account")
        .order_by("-id")
        .first()
    )
    if token is None or not token.token:
        raise DiscordSignInNeeded()
    if token.expires_at is not None and token.expires_at <= timezone.now():
        raise DiscordSignInNeeded()
    return token.token, int(token.account.uid)


def _get(user: Any, token: str, path: str) -> Any:
    """Discord's JSON for ``path`` with the person's token; None for Unknown Guild (404)."""
    backoff_key = f"discord_login:backoff:{user.pk}"
    until = cache.get(backoff_key)
    if until is not None and time.time() < until:
        raise _unavailable(user, "rate limited by Discord")
    try:
        response = httpx.get(
            f"{settings.DISCORD_API_BASE_URL}{path}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=settings.DISCORD_API_TIMEOUT_SECONDS,
        )
    except httpx.HTTPError as exc:
        raise _unavailable(user, type(exc).__name__) from exc
    if response.status_code == 401:
        memberships_forget(user=user)
        raise DiscordSignInNeeded()
    if response.status_code == 429:
        retry_after = _retry_after(response)
        cache.set(backoff_key, time.time() + retry_after, timeout=int(retry_after) + 1)
        raise _unavailable(user, f"rate limited for {retry_after:.1f} s")
    body = _json(response)
    if response.status_code == 404 and isinstance(body, dict) and body.get("code") == UNKNOWN_GUILD:
        return None
    if response.status_code != 200 or body is None:
        raise _unavailable(user, f"HTTP {response.status_code} on {path}")
    return body


def _retry_after(response: httpx.Response) -> float:
    body = _json(response)
    try:
        seconds = float(
            response.headers.get("Retry-After")
            or (body.get("retry_after") if isinstance(body, dict) else None)
        )
    except (TypeError, ValueError):
        seconds = 1.0
    return min(max(seconds, 0.0), MAX_BACKOFF_SECONDS)


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _unavailable(user: Any, reason: str) -> ModeratorCheckUnavailable:
    # The reason goes to the log (never the token); the person reads the stable message.
    logger.warning("Discord membership check for user %s failed: %s", user.pk, reason)
    return ModeratorCheckUnavailable()
