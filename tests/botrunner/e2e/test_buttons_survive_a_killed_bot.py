"""A bot process killed outright (SIGKILL) and started again keeps every button working.

Members click buttons on messages the first process posted long after it is
gone: the market's live message (Buy, My position, Refresh) and an ephemeral
``/bet`` quote's Confirm. The second process must answer them all from the
custom ids alone, and Confirm pressed twice still places exactly one trade.

The module restarts its bot process: it has its own emulator and process,
like every e2e module, so no other module sees the restart.
"""

from __future__ import annotations

import signal

import pytest

from betting.models import Trade
from tests.botrunner.e2e.bot_process import BotProcess
from tests.botrunner.e2e.conftest import Personas, open_market
from tests.botrunner.e2e.flows import EPHEMERAL, quote, show_market
from tests.discord_emulator import DiscordEmulator, GuildSetup, message_text

pytestmark = [
    pytest.mark.discord_e2e,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]


def kill_and_restart(bot: BotProcess) -> int:
    """SIGKILL: no shutdown code runs, as after an OOM kill or a lost machine."""
    first_pid = bot.process.pid if bot.process else 0
    assert bot.stop(signal.SIGKILL) == -signal.SIGKILL
    bot.start()
    assert bot.process is not None and bot.process.pid != first_pid
    return first_pid


def test_a_quote_confirmed_after_a_restart_places_one_trade(
    emulator: DiscordEmulator, bot: BotProcess, people: Personas, discord_guild: GuildSetup
) -> None:
    market = open_market(discord_guild, people.alice, "Bakery reopens in March?", ["Yes", "No"])
    shown = quote(emulator, people.alice, market.pk, "No", 120)  # by the first process

    kill_and_restart(bot)
    first = emulator.click(people.alice, shown, "Confirm")
    second = emulator.click(people.alice, shown, "Confirm")  # a double click

    done = emulator.wait_for_reply(first, contains="Bought")
    again = emulator.wait_for_reply(second, contains="Bought")
    assert "**No**" in done["content"] and "120 points" in done["content"]
    assert "120 points" in again["content"]
    [trade] = Trade.objects.filter(market=market)
    assert (trade.member.discord_id, trade.outcome.label, trade.points) == (
        people.alice.user_id,
        "No",
        120,
    )


def test_the_live_message_buttons_work_after_a_restart(
    emulator: DiscordEmulator, bot: BotProcess, people: Personas, discord_guild: GuildSetup
) -> None:
    market = open_market(discord_guild, people.alice, "Night bus on Fridays?", ["Yes", "No"])
    posted = show_market(emulator, people.alice, market.pk)  # by the first process

    kill_and_restart(bot)

    # Buy: pick an answer, type an amount, see the quote, confirm.
    picker = emulator.wait_for_reply(emulator.click(people.bob, posted, "Buy"), contains="Buy")
    assert int(picker["flags"]) & EPHEMERAL
    picked = emulator.select(people.bob, picker, ["0"])
    amount = emulator.submit(people.bob, picked, {"amount": "75"})
    shown = emulator.wait_for_reply(amount, contains="Confirm your bet")
    done = emulator.wait_for_reply(emulator.click(people.bob, shown, "Confirm"), contains="Bought")
    assert "**Yes**" in done["content"] and "75 points" in done["content"]
    [trade] = Trade.objects.filter(market=market)
    assert (trade.member.discord_id, trade.outcome.label, trade.points) == (
        people.bob.user_id,
        "Yes",
        75,
    )

    # My position: the member's own holding, privately.
    position = emulator.wait_for_reply(
        emulator.click(people.bob, posted, "My position"), contains="Your position"
    )
    assert int(position["flags"]) & EPHEMERAL
    assert "Yes" in message_text(position)

    # Refresh: the public message is redrawn in place, with its chart.
    before = len(emulator.requests)
    refreshed = emulator.click(people.alice, posted, "Refresh")
    assert emulator.wait_for_callback(refreshed).type == 6  # deferred update, no new message
    edit = emulator.wait_for(
        lambda: [
            r
            for r in emulator.requests_matching("PATCH", "/messages/@original$", since=before)
            if r.status == 200
        ],
        timeout=45,
        what="the Refresh edit of the market message",
    )[0]
    assert edit.multipart and [f["filename"] for f in edit.files] == [f"market-{market.pk}.png"]
    message = emulator.message(posted["id"])
    assert "1" in [
        f["value"] for e in message["embeds"] for f in e["fields"] if f["name"] == "Traders"
    ]
    assert [a["content_type"] for a in message["attachments"]] == ["image/png"]
