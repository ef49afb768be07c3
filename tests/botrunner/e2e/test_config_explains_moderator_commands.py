"""``/config`` says how the moderator role gets its hidden commands, and when it cannot be pinged.

The guild's moderator role starts out not mentionable and the bot without
Mention Everyone, so the reminders' ping would reach nobody. The bot reads
both from the role data Discord sent (GUILD_CREATE, then GUILD_ROLE_UPDATE when
a server manager edits a role).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from points.models import Guild
from tests.botrunner.e2e.bot_process import BotProcess
from tests.discord_emulator import DiscordEmulator, GuildSetup, Persona, message_text
from tests.discord_emulator.model import BOT_PERMISSIONS, MENTION_EVERYONE

pytestmark = [
    pytest.mark.discord_e2e,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]

HOW_TO_ALLOW = "Integrations"
CANNOT_PING = "cannot ping"


@pytest.fixture(scope="module")
def discord_guild() -> GuildSetup:
    return GuildSetup(name="Unpingable moderators", moderator_role_mentionable=False)


@pytest.fixture(scope="module")
def manager(discord_guild: GuildSetup) -> Persona:
    return discord_guild.member("manager", manage_guild=True)


@pytest.fixture
def roles_restored(emulator: DiscordEmulator, discord_guild: GuildSetup) -> Iterator[None]:
    yield
    discord_guild.moderator_role_mentionable = False
    discord_guild.bot_permissions = BOT_PERMISSIONS
    emulator.role_updated(discord_guild.moderator_role_id)
    emulator.role_updated(discord_guild.bot_role_id)


def settings_text(emulator: DiscordEmulator, manager: Persona) -> str:
    shown = emulator.slash(manager, "config show")
    return message_text(emulator.wait_for_reply(shown, contains="Market settings"))


def test_config_show_says_moderator_commands_are_hidden_and_how_to_allow_the_role(
    emulator: DiscordEmulator, bot: BotProcess, manager: Persona
) -> None:
    text = settings_text(emulator, manager)

    assert "hidden from members" in text
    assert HOW_TO_ALLOW in text and "/resolve" in text and "/moderate" in text


def test_setting_the_moderator_role_explains_it_and_warns_it_cannot_be_pinged(
    emulator: DiscordEmulator, bot: BotProcess, manager: Persona, discord_guild: GuildSetup
) -> None:
    role = discord_guild.moderator_role_id
    Guild.objects.filter(pk=discord_guild.guild_id).update(moderator_role_id=None)

    asked = emulator.slash(manager, "config set", moderator_role=role)
    text = message_text(emulator.wait_for_reply(asked, contains="Settings saved"))

    assert Guild.objects.get(pk=discord_guild.guild_id).moderator_role_id == role
    assert "hidden from members" in text and HOW_TO_ALLOW in text
    assert CANNOT_PING in text and "Mention Everyone" in text


def test_the_warning_goes_once_the_role_is_mentionable_or_the_bot_may_mention_everyone(
    emulator: DiscordEmulator,
    bot: BotProcess,
    manager: Persona,
    discord_guild: GuildSetup,
    roles_restored: None,
) -> None:
    assert CANNOT_PING in settings_text(emulator, manager)

    discord_guild.moderator_role_mentionable = True
    emulator.role_updated(discord_guild.moderator_role_id)
    assert CANNOT_PING not in settings_text(emulator, manager)

    discord_guild.moderator_role_mentionable = False
    emulator.role_updated(discord_guild.moderator_role_id)
    assert CANNOT_PING in settings_text(emulator, manager)

    discord_guild.bot_permissions = BOT_PERMISSIONS | MENTION_EVERYONE
    emulator.role_updated(discord_guild.bot_role_id)
    assert CANNOT_PING not in settings_text(emulator, manager)
