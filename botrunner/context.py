"""Who is acting: the member behind an interaction, whether they moderate, rate limits.

Everything here that touches the database runs in one ``call`` (one worker
thread round trip): ensure the guild and member, decide moderator status from
the guild's configured role or Discord's Manage Server permission, and count
the command against the member's and the guild's rate limits (moderators are
neither limited nor counted).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from points.models import Member
from points.services import member_ensure
from predictmarket.errors import PermissionDenied, ValidationFailed
from predictmarket.ratelimit import rate_limit_hit


@dataclass(frozen=True)
class Actor:
    member: Member
    is_moderator: bool  # may resolve, close, cancel, adjust points
    is_admin: bool  # Manage Server: may change the guild's settings

    @property
    def name(self) -> str:
        """How services record who acted: ``discord:<user id>``."""
        return f"discord:{self.member.discord_id}"

    @property
    def guild_id(self) -> int:
        return self.member.guild_id


def has_manage_guild(interaction: Any) -> bool:
    """Manage Server (or Administrator), as resolved by Discord for this interaction.

    ``interaction.permissions`` comes in the interaction payload, so it is right
    even when the guild is not in the cache; ``guild_permissions`` is the cached
    view of the same thing.
    """
    for perms in (
        getattr(interaction, "permissions", None),
        getattr(interaction.user, "guild_permissions", None),
    ):
        if perms is not None and (
            getattr(perms, "manage_guild", False) or getattr(perms, "administrator", False)
        ):
            return True
    return False


def role_ids(user: Any) -> set[int]:
    """The member's role ids.

    nextcord keeps the ids from the interaction payload in ``Member._roles``;
    ``Member.roles`` only lists roles it also finds in the guild cache.
    """
    ids = {int(r) for r in getattr(user, "_roles", ()) or ()}
    ids.update(int(role.id) for role in getattr(user, "roles", ()) or ())
    return ids


def actor_resolve(
    *,
    guild_id: int,
    guild_name: str,
    user_id: int,
    display_name: str,
    roles: Iterable[int],
    manage_guild: bool,
    rate_limited: bool = True,
) -> Actor:
    """Runs on a worker thread: the member (created on first use), their rights, the limits."""
    member = member_ensure(
        guild_id=guild_id, discord_id=user_id, display_name=display_name, guild_name=guild_name
    )
    role = member.guild.moderator_role_id
    is_moderator = manage_guild or (role is not None and role in set(roles))
    if rate_limited:
        rate_limit_hit("command", member.pk, bypass=is_moderator)
        rate_limit_hit("guild_command", member.guild_id, bypass=is_moderator)
    return Actor(member=member, is_moderator=is_moderator, is_admin=manage_guild)


def require_guild(interaction: Any) -> int:
    if not getattr(interaction, "guild_id", None):
        raise ValidationFailed("Markets live in servers: use this command in a server.")
    return int(interaction.guild_id)


def require_moderator(actor: Actor) -> None:
    if not actor.is_moderator:
        raise PermissionDenied(
            "Only moderators can do that (the server's moderator role or Manage Server)."
        )


def require_admin(actor: Actor) -> None:
    if not actor.is_admin:
        raise PermissionDenied("Only server managers (Manage Server) can change the settings.")
