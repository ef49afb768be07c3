"""What the emulated Discord knows: guilds, roles, channels, members, snowflakes.

Shapes follow Discord's gateway and HTTP objects closely enough for nextcord
2.6 to parse them; ids are strings on the wire, as Discord sends them.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

DISCORD_EPOCH_MS = 1_420_070_400_000

# Permission bits (Discord's documentation, "Permissions").
MANAGE_GUILD = 1 << 5
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
MENTION_EVERYONE = 1 << 17
USE_APPLICATION_COMMANDS = 1 << 31
MEMBER_PERMISSIONS = VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS | USE_APPLICATION_COMMANDS
BOT_PERMISSIONS = MEMBER_PERMISSIONS | ATTACH_FILES

_counter = itertools.count()
_counter_lock = threading.Lock()


def snowflake() -> int:
    """A fresh id whose timestamp is now, as Discord's are (nextcord reads ``created_at``)."""
    with _counter_lock:
        increment = next(_counter) & 0xFFF
    return ((int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22) | (1 << 17) | increment


def iso_now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass
class Persona:
    """A Discord user who is a member of the emulated guild."""

    user_id: int
    username: str
    role_ids: tuple[int, ...] = ()
    permissions: int = MEMBER_PERMISSIONS

    def user_payload(self) -> dict[str, Any]:
        return {
            "id": str(self.user_id),
            "username": self.username,
            "discriminator": "0",
            "global_name": self.username,
            "avatar": None,
            "bot": False,
        }

    def private_member_payload(self) -> dict[str, Any]:
        """The member object ``GET /users/@me/guilds/{id}/member`` answers (no permissions)."""
        member = self.member_payload()
        member.pop("permissions")
        # Discord's UserResponse, with the fields its OpenAPI document requires.
        user = {**member["user"], "public_flags": 0, "flags": 0, "primary_guild": None}
        user.pop("bot")
        return {**member, "user": user, "banner": None, "communication_disabled_until": None}

    def member_payload(self) -> dict[str, Any]:
        return {
            "user": self.user_payload(),
            "nick": None,
            "avatar": None,
            "roles": [str(r) for r in self.role_ids],
            "joined_at": "2024-01-01T00:00:00+00:00",
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "permissions": str(self.permissions),
        }


@dataclass
class GuildSetup:
    """One guild as the bot sees it in GUILD_CREATE, with a moderator role and two channels.

    The moderator role grants no Manage Server: its members moderate only because
    the guild's settings name the role. The bot has its own (managed) role, as an
    invited bot does; ``bot_permissions`` are that role's permissions.
    """

    guild_id: int = field(default_factory=snowflake)
    name: str = "Emulated guild"
    moderator_role_id: int = field(default_factory=snowflake)
    moderator_role_mentionable: bool = True
    bot_role_id: int = field(default_factory=snowflake)
    bot_permissions: int = BOT_PERMISSIONS
    general_channel_id: int = field(default_factory=snowflake)
    announcement_channel_id: int = field(default_factory=snowflake)
    owner_id: int = field(default_factory=snowflake)
    members: dict[int, Persona] = field(default_factory=dict)

    def member(
        self,
        username: str,
        *,
        moderator: bool = False,
        manage_guild: bool = False,
        user_id: int | None = None,
    ) -> Persona:
        """Add a member (a moderator carries the moderator role) and return them.

        ``user_id`` makes an existing Discord user (a persona of another guild) a
        member here too; each guild keeps its own roles for them.
        """
        permissions = MEMBER_PERMISSIONS | (MANAGE_GUILD if manage_guild else 0)
        persona = Persona(
            user_id=user_id or snowflake(),
            username=username,
            role_ids=(self.moderator_role_id,) if moderator else (),
            permissions=permissions,
        )
        self.members[persona.user_id] = persona
        return persona

    @property
    def channel_ids(self) -> set[int]:
        return {self.general_channel_id, self.announcement_channel_id}

    def channel_payload(self, channel_id: int) -> dict[str, Any]:
        name = "general" if channel_id == self.general_channel_id else "announcements"
        return {
            "id": str(channel_id),
            "type": 0,  # GUILD_TEXT
            "guild_id": str(self.guild_id),
            "name": name,
            "position": 0 if name == "general" else 1,
            "permission_overwrites": [],
            "nsfw": False,
            "parent_id": None,
            "topic": None,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "flags": 0,
        }

    def roles_payload(self) -> list[dict[str, Any]]:
        def role(
            role_id: int,
            name: str,
            permissions: int,
            position: int,
            *,
            mentionable: bool = False,
            managed: bool = False,
        ) -> dict[str, Any]:
            return {
                "id": str(role_id),
                "name": name,
                "color": 0,
                "hoist": False,
                "icon": None,
                "unicode_emoji": None,
                "position": position,
                "permissions": str(permissions),
                "managed": managed,
                "mentionable": mentionable,
                "flags": 0,
            }

        return [
            role(self.guild_id, "@everyone", MEMBER_PERMISSIONS, 0),
            role(
                self.moderator_role_id,
                "Moderators",
                MEMBER_PERMISSIONS,
                1,
                mentionable=self.moderator_role_mentionable,
            ),
            role(self.bot_role_id, "PredictBot", self.bot_permissions, 2, managed=True),
        ]

    def role_payload(self, role_id: int) -> dict[str, Any]:
        return next(r for r in self.roles_payload() if r["id"] == str(role_id))

    def guild_create_payload(self, bot_user: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": str(self.guild_id),
            "name": self.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "owner_id": str(self.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 1,
            "explicit_content_filter": 0,
            "roles": self.roles_payload(),
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "vanity_url_code": None,
            "description": None,
            "banner": None,
            "premium_tier": 0,
            "preferred_locale": "en-US",
            "public_updates_channel_id": None,
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
            "joined_at": "2024-01-01T00:00:00+00:00",
            "large": False,
            "unavailable": False,
            "member_count": len(self.members) + 1,
            "voice_states": [],
            "members": [
                {
                    "user": bot_user,
                    "roles": [str(self.bot_role_id)],
                    "joined_at": "2024-01-01T00:00:00+00:00",
                    "deaf": False,
                    "mute": False,
                    "flags": 0,
                }
            ],
            "channels": [self.channel_payload(c) for c in sorted(self.channel_ids)],
            "threads": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
        }
