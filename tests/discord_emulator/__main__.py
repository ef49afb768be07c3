"""``python -m tests.discord_emulator``: the emulator on its own, for running the bot locally.

    python -m tests.discord_emulator --port 8765 --token emulator-local

Prints the settings that point ``manage.py runbot`` at it, then every request
the bot makes and every rule it breaks, until Ctrl-C (``make bot-emulator``
starts both).
"""

from __future__ import annotations

import argparse
import signal
import threading

from tests.discord_emulator.model import GuildSetup
from tests.discord_emulator.server import DiscordEmulator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--token", default="emulator-local")
    args = parser.parse_args()
    guild = GuildSetup(name="Local emulated guild")
    guild.member("alice")
    guild.member("mod", moderator=True)
    emulator = DiscordEmulator([guild], token=args.token, echo=True)
    emulator.start(port=args.port)
    print(f"DISCORD_API_BASE_URL={emulator.base_url}", flush=True)
    print(f"DISCORD_TOKEN={emulator.token}", flush=True)
    print(
        f"guild {guild.guild_id}: moderator role {guild.moderator_role_id}, "
        f"#general {guild.general_channel_id}, #announcements {guild.announcement_channel_id}",
        flush=True,
    )
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    emulator.stop()


if __name__ == "__main__":
    main()
