"""Member text that starts with ``#``, ``-#``, ``>``, ``>>>`` or a list marker stays plain text.

Discord turns a line that starts with ``# `` into a heading, ``-# `` into
subtext, ``> ``/``>>> `` into a quote and ``- ``, ``* ``, ``+ ``, ``1. `` into a
list. A question, an answer, a category or a display name can land at the start
of a line (the card's description and fields, the result announcements), so the
bot escapes the marker (``\\#``, ``1\\.``); Discord then shows the characters as typed.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from betting.services import bet_place
from tests.botrunner.e2e.bot_process import BotProcess
from tests.botrunner.e2e.conftest import Personas, member_row, open_market
from tests.botrunner.e2e.flows import show_market
from tests.discord_emulator import DiscordEmulator, GuildSetup, Persona

pytestmark = [
    pytest.mark.discord_e2e,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]

# A line Discord would render as a heading, subtext, quote or list item.
BLOCK_MARKER = re.compile(r"^\s*(?:#{1,3} |-# |>>> |> |[-*+] |\d+\. )", re.MULTILINE)
# A question longer than the embed title: the card opens its description with it.
QUESTION = "# Breaking: " + "will the old harbour crane be restored " * 8 + "?"
ANSWERS = ["## Yes", "### No", "-# maybe", "> later", ">>> never", "- soon", "+ 2030", "1. first"]


class MarkerPersonas(Personas):
    def __init__(self, guild: GuildSetup) -> None:
        super().__init__(guild)
        self.subtext = guild.member("-# tiny")
        self.quoter = guild.member("> quoted")


@pytest.fixture(scope="module")
def people(discord_guild: GuildSetup) -> MarkerPersonas:
    return MarkerPersonas(discord_guild)


def rendered_parts(message: dict[str, Any]) -> list[str]:
    """Each block of text Discord renders markdown in: content, descriptions, field values."""
    parts = [message.get("content") or ""]
    for embed in message.get("embeds") or []:
        parts += [embed.get("title") or "", embed.get("description") or ""]
        parts += [f.get("value") or "" for f in embed.get("fields") or []]
    return parts


def block_lines(message: dict[str, Any]) -> list[str]:
    return [m.group(0) for part in rendered_parts(message) for m in BLOCK_MARKER.finditer(part)]


def test_the_market_card_keeps_leading_markers_as_text(
    emulator: DiscordEmulator, bot: BotProcess, people: MarkerPersonas, discord_guild: GuildSetup
) -> None:
    market = open_market(
        discord_guild, people.subtext, QUESTION, ANSWERS, category="> rumours", description="- x"
    )

    posted = show_market(emulator, people.subtext, market.pk)

    assert block_lines(posted) == [], rendered_parts(posted)
    [embed] = posted["embeds"]
    assert embed["title"].startswith(r"\# Breaking:")
    assert embed["description"].startswith(r"\# Breaking:")
    for escaped in (r"\## Yes", r"\### No", r"\-# maybe", r"\> later", r"\>>> never"):
        assert escaped in embed["description"], escaped
    for escaped in (r"\- soon", r"\+ 2030", r"1\. first"):
        assert escaped in embed["description"], escaped
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Created by"] == r"\-# tiny"
    assert fields["Category"] == r"\> rumours"


def test_an_unwind_announcement_keeps_leading_markers_as_text(
    emulator: DiscordEmulator, bot: BotProcess, people: MarkerPersonas, discord_guild: GuildSetup
) -> None:
    market = open_market(discord_guild, people.alice, "1. Ferry on time?", ["Yes", "No"])
    for persona, outcome in ((people.subtext, 0), (people.quoter, 1)):
        trader: Persona = persona
        bet_place(
            member=member_row(discord_guild, trader),
            market_id=market.pk,
            outcome_index=outcome,
            amount=50,
            idempotency_key=f"e2e:marker:{trader.user_id}:{market.pk}",
            bypass_rate_limit=True,
        )

    cancelled = emulator.slash(people.mod_one, "market cancel", market=str(market.pk))
    emulator.wait_for_reply(cancelled, contains="cancelled")

    channel = str(discord_guild.announcement_channel_id)
    refunded = emulator.wait_for(
        lambda: [
            m
            for m in emulator.messages.values()
            if m["channel_id"] == channel
            and any(f"Refunded: #{market.pk} " in e.get("title", "") for e in m["embeds"])
        ],
        timeout=30,
        what="the refund announcement",
    )[0]

    assert block_lines(refunded) == [], rendered_parts(refunded)
    description = refunded["embeds"][0]["description"]
    assert r"\-# tiny — got back" in description, description
    assert r"\> quoted — got back" in description, description
    assert refunded["embeds"][0]["title"] == rf"Refunded: #{market.pk} 1\. Ferry on time?"
