"""INTERACTION_CREATE payloads built the way a member's click or command arrives.

``slash``/``autocomplete`` read the option types from the command the bot
registered (so a test says ``amount=100`` and the payload carries an integer
option, as Discord would send it); ``component`` and ``modal_submit`` carry the
message or custom id the member acted on.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from tests.discord_emulator.model import BOT_PERMISSIONS, GuildSetup, Persona, snowflake

APPLICATION_COMMAND = 2
MESSAGE_COMPONENT = 3
AUTOCOMPLETE = 4
MODAL_SUBMIT = 5

SUB_COMMAND = 1
SUB_COMMAND_GROUP = 2
STRING, INTEGER, BOOLEAN, USER, CHANNEL, ROLE, MENTIONABLE, NUMBER = 3, 4, 5, 6, 7, 8, 9, 10
BUTTON, STRING_SELECT = 2, 3


@dataclass
class Callback:
    type: int
    data: dict[str, Any] | None
    after: float  # seconds from INTERACTION_CREATE on the wire to the callback


@dataclass
class InteractionRecord:
    """One interaction sent to the bot and everything the bot answered to it."""

    id: int
    token: str
    type: int
    guild_id: int
    channel_id: int
    payload: dict[str, Any]
    sent_at: float | None = None  # emulator clock, set when the frame is on the wire
    callback: Callback | None = None
    original_id: int | None = None  # the message the first response created or acts on
    followup_ids: list[int] = field(default_factory=list)
    deferred_pending: bool = False  # a deferred "thinking" reply not yet filled in
    source_message_id: int | None = None  # the message a component is on


def _option_values(
    definitions: list[dict[str, Any]],
    values: dict[str, Any],
    guild: GuildSetup,
    resolved: dict[str, dict[str, Any]],
    focused: str | None,
) -> list[dict[str, Any]]:
    known = {d["name"]: d for d in definitions}
    unknown = set(values) - set(known)
    if unknown:
        raise KeyError(f"the command has no option {sorted(unknown)}; it has {sorted(known)}")
    options: list[dict[str, Any]] = []
    for name, value in values.items():
        kind = int(known[name]["type"])
        option: dict[str, Any] = {"name": name, "type": kind}
        if kind == USER:
            persona = value if isinstance(value, Persona) else guild.members[int(value)]
            option["value"] = str(persona.user_id)
            resolved.setdefault("users", {})[str(persona.user_id)] = persona.user_payload()
            member = persona.member_payload()
            member.pop("user")
            resolved.setdefault("members", {})[str(persona.user_id)] = member
        elif kind in (CHANNEL, ROLE, MENTIONABLE):
            option["value"] = str(value)
            if kind == CHANNEL:
                resolved.setdefault("channels", {})[str(value)] = guild.channel_payload(int(value))
            elif kind == ROLE:
                roles = {r["id"]: r for r in guild.roles_payload()}
                resolved.setdefault("roles", {})[str(value)] = roles[str(value)]
        elif kind == INTEGER and name != focused:
            option["value"] = int(value)
        elif kind == NUMBER and name != focused:
            option["value"] = float(value)
        elif kind == BOOLEAN:
            option["value"] = bool(value)
        else:
            option["value"] = str(value)  # a focused option is sent as typed text
        if name == focused:
            option["focused"] = True
        options.append(option)
    return options


def command_data(
    command: dict[str, Any],
    path: list[str],
    values: dict[str, Any],
    guild: GuildSetup,
    *,
    focused: str | None = None,
) -> dict[str, Any]:
    """``data`` of a slash command or autocomplete interaction for ``/<path…>``."""
    resolved: dict[str, dict[str, Any]] = {}
    definitions = command.get("options") or []
    chain: list[dict[str, Any]] = []
    for name in path[1:]:
        sub = next((o for o in definitions if o["name"] == name), None)
        if sub is None or int(sub["type"]) not in (SUB_COMMAND, SUB_COMMAND_GROUP):
            raise KeyError(f"/{' '.join(path)}: no subcommand {name!r}")
        chain.append({"name": name, "type": int(sub["type"])})
        definitions = sub.get("options") or []
    options = _option_values(definitions, values, guild, resolved, focused)
    for level in reversed(chain):
        level["options"] = options
        options = [level]
    data: dict[str, Any] = {
        "id": str(command["id"]),
        "name": command["name"],
        "type": int(command.get("type", 1)),
        "options": options,
    }
    if command.get("guild_id"):
        data["guild_id"] = str(command["guild_id"])
    if resolved:
        data["resolved"] = resolved
    return data


def interaction_payload(
    *,
    application_id: int,
    kind: int,
    guild: GuildSetup,
    persona: Persona,
    data: dict[str, Any],
    channel_id: int | None = None,
    message: dict[str, Any] | None = None,
) -> dict[str, Any]:
    channel_id = channel_id or guild.general_channel_id
    payload: dict[str, Any] = {
        "id": str(snowflake()),
        "application_id": str(application_id),
        "type": kind,
        "data": data,
        "guild_id": str(guild.guild_id),
        "channel_id": str(channel_id),
        "channel": guild.channel_payload(channel_id),
        "member": persona.member_payload(),
        "token": "itoken-" + secrets.token_urlsafe(24),
        "version": 1,
        "app_permissions": str(BOT_PERMISSIONS),
        "locale": "en-US",
        "guild_locale": "en-US",
        "entitlements": [],
        "authorizing_integration_owners": {"0": str(guild.guild_id)},
        "context": 0,
    }
    if message is not None:
        payload["message"] = message
    return payload


def find_component(message: dict[str, Any], *, label: str | None = None) -> dict[str, Any]:
    """The button (by label) or the only select on a message, as the member sees it."""
    components = [c for row in message.get("components") or [] for c in row.get("components", [])]
    for component in components:
        if label is not None and component.get("label") == label:
            return component
        if label is None and int(component.get("type", 0)) == STRING_SELECT:
            return component
    shown = [c.get("label") or c.get("custom_id") for c in components]
    raise LookupError(f"no component {label or 'select'!r} on the message; it shows {shown}")


def modal_data(custom_id: str, values: dict[str, str]) -> dict[str, Any]:
    return {
        "custom_id": custom_id,
        "components": [
            {"type": 1, "components": [{"type": 4, "custom_id": key, "value": value}]}
            for key, value in values.items()
        ],
    }
