"""``/market list``: open markets first, sorted and filtered, counted, and paged with jumps.

Every step goes through the emulator to the real bot process: the command, the
category autocomplete, and the First / Previous / Next / Last buttons, which
carry the whole list query in their custom ids and so keep working after the
bot restarts.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest

from betting.services import bet_place
from markets.models import Market
from markets.services import market_cancel, market_close, resolution_vote
from tests.botrunner.e2e.bot_process import BotProcess
from tests.botrunner.e2e.conftest import Personas, member_row, open_market
from tests.botrunner.e2e.flows import EPHEMERAL
from tests.discord_emulator import DiscordEmulator, GuildSetup, Persona, message_text

pytestmark = [
    pytest.mark.discord_e2e,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]


def showing(first: int, last: int, total: int) -> str:
    """The count line of a list page, with an en dash between the numbers."""
    return f"Showing {first}\N{EN DASH}{last} of {total} markets"


def listed_ids(message: dict[str, Any]) -> list[int]:
    """The market numbers on a list page, in the order a member reads them."""
    return [int(n) for n in re.findall(r"\*\*#(\d+)\*\*", message_text(message))]


def buttons(message: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        c["label"]: c
        for row in message["components"]
        for c in row["components"]
        if c["type"] == 2  # BUTTON
    }


def page_after(emulator: DiscordEmulator, persona: Persona, shown: dict, label: str, text: str):
    clicked = emulator.click(persona, shown, label)
    page = emulator.wait_for_reply(clicked, contains=text)
    assert int(page["id"]) == int(shown["id"]), "a page button edits the list in place"
    return page


def market(guild: GuildSetup, people: Personas, question: str, hours: float, **kw) -> Market:
    return open_market(
        guild, people.alice, question, ["Yes", "No"], duration=timedelta(hours=hours), **kw
    )


def resolve(guild: GuildSetup, people: Personas, target: Market) -> None:
    market_close(market_id=target.pk, actor="system:e2e")
    for moderator in (people.mod_one, people.mod_two):
        resolution_vote(market_id=target.pk, voter=f"discord:{moderator.user_id}", outcome_index=0)


def test_open_markets_come_first_closing_soonest_with_the_count_and_page_jumps(
    emulator: DiscordEmulator, bot: BotProcess, people: Personas, discord_guild: GuildSetup
) -> None:
    # Created in an order that is neither closing order nor the order they are listed in.
    opened = {
        hours: market(discord_guild, people, f"Open {hours}h?", hours)
        for hours in (30, 5, 70, 12, 2, 48, 9)
    }
    closed = [market(discord_guild, people, f"Closed {n}?", 24) for n in range(3)]
    for target in closed:
        market_close(market_id=target.pk, actor="system:e2e")
    resolved = market(discord_guild, people, "Resolved?", 24)
    resolve(discord_guild, people, resolved)
    cancelled = market(discord_guild, people, "Cancelled?", 24)
    market_cancel(market_id=cancelled.pk, actor="system:e2e", is_moderator=True)
    by_closing = [opened[h].pk for h in sorted(opened)]

    asked = emulator.slash(people.bob, "market list")
    first = emulator.wait_for_reply(asked, contains=showing(1, 5, 12))

    assert int(first["flags"]) & EPHEMERAL
    assert listed_ids(first) == by_closing[:5]  # open ones, the soonest to close first
    shown = buttons(first)
    assert list(shown) == ["First", "Previous", "Next", "Last"]
    assert shown["First"].get("disabled") and shown["Previous"].get("disabled")
    assert len({b["custom_id"] for b in shown.values()}) == 4  # Discord wants them distinct

    last = page_after(emulator, people.bob, first, "Last", showing(11, 12, 12))
    # Then the closed ones awaiting a decision, then the decided ones.
    assert set(listed_ids(last)) == {resolved.pk, cancelled.pk}
    assert buttons(last)["Next"].get("disabled") and buttons(last)["Last"].get("disabled")

    middle = page_after(emulator, people.bob, last, "Previous", showing(6, 10, 12))
    assert listed_ids(middle)[:2] == by_closing[5:]
    assert set(listed_ids(middle)[2:]) == {m.pk for m in closed}
    assert "Page 2 of 3" in message_text(middle)

    picked = emulator.select(people.bob, middle, ["2"])  # "Go to page": page 3
    jumped = emulator.wait_for_reply(picked, contains=showing(11, 12, 12))
    assert int(jumped["id"]) == int(first["id"])
    assert set(listed_ids(jumped)) == {resolved.pk, cancelled.pk}

    back = page_after(emulator, people.bob, jumped, "First", showing(1, 5, 12))
    assert listed_ids(back) == by_closing[:5]
    again = page_after(emulator, people.bob, back, "Next", showing(6, 10, 12))
    assert listed_ids(again) == listed_ids(middle)


def test_sorting_by_volume_and_filtering_by_a_category_picked_from_autocomplete(
    emulator: DiscordEmulator, bot: BotProcess, people: Personas, discord_guild: GuildSetup
) -> None:
    quiet = market(discord_guild, people, "Quiet derby?", 3, category="Sports")
    busy = market(discord_guild, people, "Busy derby?", 40, category="Sports")
    middling = market(discord_guild, people, "Middling derby?", 20, category="Sports")
    rainy = market(discord_guild, people, "Rain tomorrow?", 10, category="Weather")
    done = market(discord_guild, people, "Old derby?", 10, category="Sports")
    market_close(market_id=done.pk, actor="system:e2e")
    for persona, target, amount in (
        (people.bob, busy, 300),
        (people.bob, middling, 120),
        (people.alice, rainy, 900),
    ):
        bet_place(
            member=member_row(discord_guild, persona),
            market_id=target.pk,
            outcome_index=0,
            amount=amount,
            idempotency_key=f"e2e:list:{target.pk}",
            bypass_rate_limit=True,
        )

    typing = emulator.autocomplete(people.bob, "market list", focused="category", category="spo")
    choices = emulator.wait_for_callback(typing).data["choices"]
    assert [c["value"] for c in choices] == ["Sports"]

    asked = emulator.slash(people.bob, "market list", category="Sports", sort="volume")
    page = emulator.wait_for_reply(asked, contains=showing(1, 4, 4))
    assert listed_ids(page) == [busy.pk, middling.pk, quiet.pk, done.pk]  # open first, then busiest
    assert rainy.pk not in listed_ids(page)

    only_open = emulator.slash(people.bob, "market list", status="open", category="sports")
    page = emulator.wait_for_reply(only_open, contains=showing(1, 3, 3))
    assert listed_ids(page) == [quiet.pk, middling.pk, busy.pk]  # closing soonest by default


def test_the_pager_keeps_its_filters_across_a_bot_restart_and_on_a_public_list(
    emulator: DiscordEmulator, bot: BotProcess, people: Personas, discord_guild: GuildSetup
) -> None:
    category = "Long category name " + "x" * 31  # the 50 characters a category may have
    mine = [
        market(discord_guild, people, f"Will the tide {n} turn?", 1 + n, category=category)
        for n in range(7)
    ]
    market(discord_guild, people, "Will the tide turn elsewhere?", 1)  # no category: not listed

    asked = emulator.slash(
        people.alice,
        "market list",
        category=category,
        search="tide",
        sort="newest",
        public=True,
    )
    posted = emulator.wait_for_reply(asked, contains=showing(1, 5, 7))
    assert not int(posted["flags"]) & EPHEMERAL  # everyone in the channel sees it
    assert listed_ids(posted) == [m.pk for m in reversed(mine)][:5]
    assert all(len(b["custom_id"]) <= 100 for b in buttons(posted).values())

    bot.stop()
    bot.start()

    # Another member pages the public list, answered by the new process.
    following = page_after(emulator, people.bob, posted, "Next", showing(6, 7, 7))
    assert listed_ids(following) == [mine[1].pk, mine[0].pk]
    assert "newest" in message_text(following)
