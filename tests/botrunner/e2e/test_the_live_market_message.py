"""The market message the bot posts stays live: trades by anyone edit it, through Discord's rules.

One bot process serves the module; each test makes its own market, so the
tests do not depend on each other's trades.
"""

from __future__ import annotations

import time

import pytest

from betting.models import Trade
from betting.services import bet_place
from markets.models import Market
from tests.botrunner.e2e.bot_process import BotProcess
from tests.botrunner.e2e.conftest import Personas, member_row, open_market
from tests.botrunner.e2e.flows import EPHEMERAL, embed_description, odds_lines, quote, show_market
from tests.discord_emulator import DiscordEmulator, GuildSetup, message_text

pytestmark = [
    pytest.mark.discord_e2e,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]

# The consumer edits a message at most once per 5 s and polls every 2 s.
EDIT_WITHIN = 20


def someone_else_bets(guild: GuildSetup, people: Personas, market: Market, outcome: int) -> None:
    bet_place(
        member=member_row(guild, people.bob),
        market_id=market.pk,
        outcome_index=outcome,
        amount=250,
        idempotency_key=f"e2e:bob:{market.pk}:{outcome}",
        bypass_rate_limit=True,
    )


def edits_of(emulator: DiscordEmulator, message: dict, since: int = 0) -> list:
    path = f"/channels/{message['channel_id']}/messages/{message['id']}$"
    return emulator.requests_matching("PATCH", path, since=since)


def test_market_show_posts_the_live_message_with_its_chart(
    emulator: DiscordEmulator, bot: BotProcess, people: Personas, discord_guild: GuildSetup
) -> None:
    market = open_market(
        discord_guild, people.alice, "Will the bridge open in June?", ["Yes", "No"]
    )
    someone_else_bets(discord_guild, people, market, 0)  # a price history, so there is a chart

    posted = show_market(emulator, people.alice, market.pk)

    assert not int(posted["flags"]) & EPHEMERAL  # everyone in the channel sees it
    assert "Will the bridge open in June?" in message_text(posted)
    assert [a["filename"] for a in posted["attachments"]] == [f"market-{market.pk}.png"]
    labels = [c["label"] for row in posted["components"] for c in row["components"]]
    assert labels == ["Buy", "Sell", "My position", "Refresh"]
    market.refresh_from_db()
    assert market.discord_message_id == int(posted["id"])
    assert market.discord_channel_id == discord_guild.general_channel_id


def test_bet_shows_a_quote_and_confirm_places_the_trade(
    emulator: DiscordEmulator, bot: BotProcess, people: Personas, discord_guild: GuildSetup
) -> None:
    market = open_market(discord_guild, people.alice, "Rain on Saturday?", ["Yes", "No"])

    shown = quote(emulator, people.alice, market.pk, "Yes", 100)
    assert int(shown["flags"]) & EPHEMERAL  # the quote is the member's alone
    assert not Trade.objects.filter(market=market).exists()  # a quote charges nothing

    confirmed = emulator.click(people.alice, shown, "Confirm")
    done = emulator.wait_for_reply(confirmed, contains="Bought")

    assert "Yes" in done["content"] and "100 points" in done["content"]
    assert done["components"] == []  # the buttons are gone with the quote
    trade = Trade.objects.get(market=market)
    assert (trade.member.discord_id, trade.outcome.label, trade.points) == (
        people.alice.user_id,
        "Yes",
        100,
    )


def test_a_trade_by_someone_else_edits_the_live_message_with_the_new_odds(
    emulator: DiscordEmulator, bot: BotProcess, people: Personas, discord_guild: GuildSetup
) -> None:
    market = open_market(discord_guild, people.alice, "Ferry back by May?", ["Yes", "No"])
    posted = show_market(emulator, people.alice, market.pk)
    before = len(emulator.requests)

    someone_else_bets(discord_guild, people, market, 1)

    edit = emulator.wait_for(
        lambda: [r for r in edits_of(emulator, posted, before) if r.status == 200],
        timeout=EDIT_WITHIN,
        what="the bot's edit of the live market message",
    )[0]
    for line in odds_lines(market):
        assert line in embed_description(edit.body)
    assert emulator.message(posted["id"])["embeds"][0]["description"] == embed_description(
        edit.body
    )


def test_a_rate_limited_edit_is_retried_after_retry_after(
    emulator: DiscordEmulator, bot: BotProcess, people: Personas, discord_guild: GuildSetup
) -> None:
    market = open_market(discord_guild, people.alice, "Snow before December?", ["Yes", "No"])
    posted = show_market(emulator, people.alice, market.pk)
    before = len(emulator.requests)
    path = f"/channels/{posted['channel_id']}/messages/{posted['id']}$"
    emulator.fail_next("PATCH", path, 429, retry_after=1.5)

    someone_else_bets(discord_guild, people, market, 0)

    limited, retried = emulator.wait_for(
        # The retry counts once the emulator has answered it (status 0 until then).
        lambda: (
            (edits := edits_of(emulator, posted, before))
            and len(edits) >= 2
            and edits[1].status
            and edits[:2]
        ),
        timeout=EDIT_WITHIN,
        what="a rate-limited edit and its retry",
    )
    assert (limited.status, retried.status) == (429, 200)
    assert retried.at - limited.at >= 1.5  # it waited Retry-After, not less
    for line in odds_lines(market):
        assert line in embed_description(retried.body)


def test_a_deleted_message_stops_the_edits_of_that_market(
    emulator: DiscordEmulator, bot: BotProcess, people: Personas, discord_guild: GuildSetup
) -> None:
    market = open_market(discord_guild, people.alice, "Library open on Sunday?", ["Yes", "No"])
    posted = show_market(emulator, people.alice, market.pk)
    emulator.delete_message(int(posted["id"]))  # a moderator deleted it in Discord
    before = len(emulator.requests)

    someone_else_bets(discord_guild, people, market, 0)
    emulator.wait_for(
        lambda: [r for r in edits_of(emulator, posted, before) if r.status == 404],
        timeout=EDIT_WITHIN,
        what="the edit Discord refuses with 404 Unknown Message",
    )
    after_404 = len(emulator.requests)
    bet_place(
        member=member_row(discord_guild, people.alice),
        market_id=market.pk,
        outcome_index=1,
        amount=50,
        idempotency_key=f"e2e:alice:{market.pk}:after-404",
        bypass_rate_limit=True,
    )
    # Longer than the debounce and two polls: an edit would have been tried by now.
    time.sleep(9)
    assert edits_of(emulator, posted, after_404) == []


def test_a_dropped_gateway_connection_is_resumed(
    emulator: DiscordEmulator, bot: BotProcess, people: Personas, discord_guild: GuildSetup
) -> None:
    market = open_market(discord_guild, people.alice, "Market hall repainted?", ["Yes", "No"])
    identifies = len(emulator.gateway.identifies)
    resumes = sum(s.resumes for s in emulator.gateway.sessions.values())

    assert emulator.drop_gateway(code=4000) == 1

    emulator.wait_for(
        lambda: sum(s.resumes for s in emulator.gateway.sessions.values()) > resumes,
        what="the bot's RESUME",
    )
    assert len(emulator.gateway.identifies) == identifies  # resumed, not a new session
    shown = quote(emulator, people.bob, market.pk, "No", 40)  # and it still answers members
    assert "Confirm" in [c["label"] for row in shown["components"] for c in row["components"]]
