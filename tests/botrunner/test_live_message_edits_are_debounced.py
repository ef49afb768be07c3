"""Trades edit the market's posted message at most once per debounce window."""

from __future__ import annotations

import pytest

from markets.services import market_close
from predictmarket.outbox import outbox_position
from tests.botrunner.conftest import member_for, run
from tests.botrunner.discord_fakes import FakeClock, FakeDiscord, not_found
from tests.botrunner.outbox_setup import (
    CHANNEL_ID,
    MESSAGE_ID,
    consumer,
    post,
    start_cursor_here,
    trade,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def posted(market, guild, bob):
    post(market)
    start_cursor_here()
    return market, member_for(bob, guild)


def test_several_trades_within_the_window_make_one_edit(posted) -> None:
    market, bettor = posted
    discord, clock = FakeDiscord(), FakeClock()
    live = consumer(discord, clock)
    for n in range(3):
        trade(bettor, market, 0, 50, f"t{n}")
    run(live.poll_once())
    assert [(c, m) for c, m, _ in discord.edits] == [(CHANNEL_ID, MESSAGE_ID)]
    first = discord.edits[0][2]
    assert {f.name: f.value for f in first["embed"].fields}["Volume"] == "150 points"
    assert first["allowed_mentions"].to_dict() == {"parse": []}

    for n in range(3, 5):
        trade(bettor, market, 1, 50, f"t{n}")
    clock.now += 2  # inside the window: nothing yet
    run(live.poll_once())
    assert len(discord.edits) == 1

    clock.now += 4  # the window has passed: one edit with everything since
    run(live.poll_once())
    assert len(discord.edits) == 2
    latest = discord.edits[1][2]
    assert {f.name: f.value for f in latest["embed"].fields}["Volume"] == "250 points"

    clock.now += 30
    run(live.poll_once())  # nothing new happened: no edit
    assert len(discord.edits) == 2


def test_a_pending_edit_survives_a_restart(posted) -> None:
    market, bettor = posted
    discord, clock = FakeDiscord(), FakeClock()
    live = consumer(discord, clock)
    trade(bettor, market, 0, 50, "a")
    run(live.poll_once())
    trade(bettor, market, 0, 50, "b")
    clock.now += 1
    run(live.poll_once())  # debounced: the cursor waits before the trade not yet shown
    assert len(discord.edits) == 1
    restarted = consumer(discord, FakeClock())
    run(restarted.poll_once())
    assert len(discord.edits) == 2
    assert {f.name: f.value for f in discord.edits[1][2]["embed"].fields}["Volume"] == "100 points"


def test_closing_the_market_disables_buy_and_sell(posted) -> None:
    market, _ = posted
    discord, clock = FakeDiscord(), FakeClock()
    market_close(market_id=market.pk, actor="test")
    run(consumer(discord, clock).poll_once())
    [(_, _, edit)] = discord.edits
    buttons = {item.label: item.disabled for item in edit["view"].children}
    assert buttons == {"Buy": True, "Sell": True, "My position": False, "Refresh": False}
    assert {f.name: f.value for f in edit["embed"].fields}["Status"] == "Closed"


def test_a_deleted_message_is_given_up_and_the_cursor_moves_on(posted) -> None:
    market, bettor = posted
    discord, clock = FakeDiscord(), FakeClock()
    discord.edit_failures = [not_found()]
    live = consumer(discord, clock)
    trade(bettor, market, 0, 50, "x")
    run(live.poll_once())
    assert discord.edits == []
    assert outbox_position("discord") == live._handled_upto
    clock.now += 60
    run(live.poll_once())
    assert discord.attempts == 1  # not retried
