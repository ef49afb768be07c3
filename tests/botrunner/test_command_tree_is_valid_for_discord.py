"""Discord refuses a whole command set if one name, description or option breaks its rules.

The bot is built as ``runbot`` builds it (every cog loaded) without connecting,
and every command, subcommand, option and choice in the payloads nextcord
would register is checked against Discord's limits.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from botrunner.bot import EXTENSIONS, PredictBot

NAME = re.compile(r"^[-_\w]{1,32}$")
SUBCOMMAND, GROUP = 1, 2


def _payloads() -> list[dict[str, Any]]:
    async def build() -> list[dict[str, Any]]:
        bot = PredictBot(run_outbox=False)
        try:
            return [command.get_payload(None) for command in bot.get_all_application_commands()]
        finally:
            await bot.close()

    return asyncio.run(build())


def _walk(payload: dict[str, Any], path: str) -> list[tuple[str, dict[str, Any]]]:
    found = [(path, payload)]
    for option in payload.get("options") or []:
        found += _walk(option, f"{path} {option['name']}")
    return found


def test_every_name_description_option_and_choice_is_within_discords_limits() -> None:
    payloads = _payloads()
    assert 0 < len(payloads) <= 100, "at most 100 top-level commands"
    problems = []
    for payload in payloads:
        for path, node in _walk(payload, payload["name"]):
            name, description = node["name"], node.get("description", "")
            if not NAME.match(name) or name != name.lower():
                problems.append(f"{path}: bad name {name!r}")
            if not 1 <= len(description) <= 100:
                problems.append(f"{path}: description of {len(description)} characters")
            options = node.get("options") or []
            if len(options) > 25:
                problems.append(f"{path}: {len(options)} options")
            choices = node.get("choices") or []
            if len(choices) > 25:
                problems.append(f"{path}: {len(choices)} choices")
            for choice in choices:
                if not 1 <= len(choice["name"]) <= 100:
                    problems.append(f"{path}: choice name {choice['name']!r}")
            # Required options must come before optional ones.
            required = [o.get("required", False) for o in options if o["type"] > GROUP]
            if required != sorted(required, reverse=True):
                problems.append(f"{path}: an optional option precedes a required one")
    assert problems == []


def test_every_capability_has_a_command() -> None:
    commands: set[str] = set()
    for payload in _payloads():
        subcommands = [o for o in payload.get("options") or [] if o["type"] == SUBCOMMAND]
        if subcommands:
            commands |= {f"{payload['name']} {o['name']}" for o in subcommands}
        else:
            commands.add(payload["name"])
    assert commands == {
        "market create",
        "market list",
        "market show",
        "market cancel",
        "market resolve",
        "market describe",
        "moderate close",
        "moderate cancel",
        "moderate correct",
        "bet",
        "sell",
        "portfolio",
        "balance",
        "daily",
        "tip",
        "leaderboard",
        "history",
        "help",
        "resolve",
        "points grant",
        "points deduct",
        "points freeze",
        "points unfreeze",
        "config show",
        "config set",
        "config drip",
        "config local-points",
        "apikey",
        "notify",
        "season start",
    }


def test_every_cog_is_loaded() -> None:
    async def cogs() -> set[str]:
        bot = PredictBot(run_outbox=False)
        try:
            return set(bot.extensions)
        finally:
            await bot.close()

    assert asyncio.run(cogs()) == set(EXTENSIONS)


def test_config_is_hidden_from_members_without_manage_server() -> None:
    config = next(p for p in _payloads() if p["name"] == "config")
    assert int(config["default_member_permissions"]) == 1 << 5  # MANAGE_GUILD


def test_exactly_the_moderator_and_manager_commands_are_hidden_from_members() -> None:
    hidden = {
        p["name"]: int(p["default_member_permissions"])
        for p in _payloads()
        if p.get("default_member_permissions") is not None
    }
    assert hidden == {
        "resolve": 1 << 5,
        "moderate": 1 << 5,
        "points": 1 << 5,
        "config": 1 << 5,
        "season": 1 << 5,
    }
