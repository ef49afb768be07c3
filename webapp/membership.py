"""Which guilds a signed-in person may use here: theirs on Discord that the bot serves.

Discord says which servers a person is in (``GET /users/@me/guilds`` with the
person's own OAuth token, scope ``guilds``); the bot serves the guilds we have a
``Guild`` row for. The answer is the intersection, asked again at most every
``GUILDS_CACHE_SECONDS`` so someone who leaves a server loses its pages soon.
A failure to ask is never cached and never guessed: the page says Discord
could not be reached.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import httpx
from allauth.socialaccount.models import SocialAccount, SocialToken
from django.conf import settings
from django.core.cache import cache

from points.models import Guild
from predictmarket.errors import DomainError, ExternalServiceError

logger = logging.getLogger(__name__)

# Moderator rights are refreshed every minute (predictmarket/discord_api.py); for
# merely reading and trading in a guild, a minute is also short enough.
GUILDS_CACHE_SECONDS = 60


class DiscordSignInNeeded(DomainError):
    code = "discord_sign_in_needed"
    http_status = 401
    default_message = (
        "The members' pages need you to sign in with Discord (again), so we can ask "
        "Discord which servers you are in."
    )


@dataclass(frozen=True)
class WebIdentity:
    """Who the web user is on Discord: the linked id and the name Discord shows."""

    discord_id: int
    display_name: str


def web_identity(user: Any) -> WebIdentity:
    """The signed-in user's Discord identity, or ``DiscordSignInNeeded``."""
    link = getattr(user, "discord_link", None) if user.is_authenticated else None
    if link is None:
        raise DiscordSignInNeeded()
    account = SocialAccount.objects.filter(user=user, provider="discord").first()
    data = account.extra_data if account is not None else {}
    name = data.get("global_name") or data.get("username") or ""
    return WebIdentity(discord_id=link.discord_id, display_name=str(name)[:100])


def _discord_guild_ids(user: Any) -> list[int]:
    key = f"webapp:guilds:{user.pk}"
    cached = cache.get(key)
    if cached is not None:
        return cached
    token = (
        SocialToken.objects.filter(account__user=user, account__provider="discord")
        .order_by("-id")
        .values_list("token", flat=True)
        .first()
    )
    if not token:
        raise DiscordSignInNeeded()
    try:
        response = httpx.get(
            f"{settings.DISCORD_API_BASE_URL}/users/@me/guilds",
            headers={"Authorization": f"Bearer {token}"},
            timeout=settings.DISCORD_API_TIMEOUT_SECONDS,
        )
    except httpx.HTTPError as exc:
        logger.warning("discord_guilds_unreachable", extra={"error": type(exc).__name__})
        raise ExternalServiceError(
            "Discord could not be reached to list your servers; please try again shortly."
        ) from None
    if response.status_code == 401:
        # The token expired or was revoked: signing in again issues a new one.
        raise DiscordSignInNeeded()
    if response.status_code != 200:
        logger.warning("discord_guilds_failed", extra={"status": response.status_code})
        raise ExternalServiceError(
            "Discord did not list your servers just now; please try again shortly."
        )
    try:
        ids = sorted(int(g["id"]) for g in response.json())
    except (ValueError, KeyError, TypeError):
        raise ExternalServiceError("Discord answered with something unexpected.") from None
    cache.set(key, ids, timeout=GUILDS_CACHE_SECONDS)
    return ids


def member_guilds(user: Any) -> list[Guild]:
    """The guilds ``user`` belongs to on Discord that this bot serves, by name."""
    ids = _discord_guild_ids(user)
    return list(Guild.objects.filter(pk__in=ids).order_by("name", "id"))


def member_guild(user: Any, guild_id: int) -> Guild | None:
    """One of ``member_guilds``, or ``None`` (not theirs, or not served): the caller's 404."""
    if guild_id not in _discord_guild_ids(user):
        return None
    return Guild.objects.filter(pk=guild_id).first()
