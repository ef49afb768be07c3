"""Which guilds a signed-in person may use here: theirs on Discord that the bot serves.

Discord's answer comes from ``predictmarket.discord_login.memberships`` (the
same cache and HTTP path as the moderators' console), asked as a members-only
question: one ``GET /users/@me/guilds`` with the person's own token, at most
every ``GUILDS_CACHE_SECONDS``, so someone who leaves a server loses its pages
soon. A failure to ask is never cached and never guessed: the page says
Discord could not be reached.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from allauth.socialaccount.models import SocialAccount

from points.models import Guild
from predictmarket.discord_login.memberships import DiscordSignInNeeded, memberships_for

# For merely reading and trading in a guild, a minute is short enough.
GUILDS_CACHE_SECONDS = 60


@dataclass(frozen=True)
class WebIdentity:
    """Who the web user is on Discord: the linked id and the name Discord shows."""

    discord_id: int
    display_name: str


def web_identity(user: Any) -> WebIdentity:
    """The signed-in user's Discord identity, or ``DiscordSignInNeeded``."""
    link = getattr(user, "discord_link", None) if user.is_authenticated else None
    if link is None:
        raise DiscordSignInNeeded(
            "The members' pages need you to sign in with Discord (again), so we can ask "
            "Discord which servers you are in."
        )
    account = SocialAccount.objects.filter(user=user, provider="discord").first()
    data = account.extra_data if account is not None else {}
    name = data.get("global_name") or data.get("username") or ""
    return WebIdentity(discord_id=link.discord_id, display_name=str(name)[:100])


def _member_of(user: Any) -> frozenset[int]:
    return memberships_for(user=user, max_age=GUILDS_CACHE_SECONDS, moderators=False).member_of


def member_guilds(user: Any) -> list[Guild]:
    """The guilds ``user`` belongs to on Discord that this bot serves, by name."""
    return list(Guild.objects.filter(pk__in=sorted(_member_of(user))).order_by("name", "id"))


def member_guild(user: Any, guild_id: int) -> Guild | None:
    """One of ``member_guilds``, or ``None`` (not theirs, or not served): the caller's 404."""
    if guild_id not in _member_of(user):
        return None
    return Guild.objects.filter(pk=guild_id).first()
