"""A local Discord for one real bot process: gateway and HTTP API on loopback (aiohttp).

Start it with ``DiscordEmulator(...).start()`` (or as a context manager), point
the bot's ``DISCORD_API_BASE_URL`` at ``emulator.base_url`` and its token at
``emulator.token``; the bot then finds the gateway through ``GET /gateway/bot``
as it would on Discord. ``python -m tests.discord_emulator`` runs it standalone.
"""

from __future__ import annotations

from tests.discord_emulator.model import GuildSetup, Persona
from tests.discord_emulator.server import DiscordEmulator, EmulatorTimeout, message_text
from tests.discord_emulator.spec import DiscordSpec, SpecMissing

__all__ = [
    "DiscordEmulator",
    "DiscordSpec",
    "EmulatorTimeout",
    "GuildSetup",
    "Persona",
    "SpecMissing",
    "message_text",
]
