"""A named arbitrator resolves from Discord; holding shares, their sole vote is refused.

The server lets an arbitrator named on ``/market create`` resolve its two-answer
markets (``/config set``), with one vote deciding. The arbitrator is a plain
member: ``/resolve`` is hidden from them, so they use ``/market resolve``, which
every member sees. Holding shares, their vote waits for a moderator; once one
agrees the market is decided and the announcement names both. The creator also
clarifies the description with ``/market describe`` and the live message shows
it as edited, with the earlier version.
"""

from __future__ import annotations

import pytest

from betting.services import bet_place
from markets.models import Market, MarketCorrection, MarketStatus
from markets.services import market_close
from points.models import Guild, ResolverRule
from points.services import guild_update_settings
from tests.botrunner.e2e.bot_process import BotProcess
from tests.botrunner.e2e.conftest import Personas, member_row
from tests.botrunner.e2e.flows import EPHEMERAL
from tests.discord_emulator import DiscordEmulator, GuildSetup, Persona, message_text

pytestmark = [
    pytest.mark.discord_e2e,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture(scope="module")
def manager(discord_guild: GuildSetup) -> Persona:
    return discord_guild.member("manager", manage_guild=True)


def _create_with_arbitrator(
    emulator: DiscordEmulator, creator: Persona, arbitrator: Persona
) -> tuple[Market, dict]:
    asked = emulator.slash(creator, "market create", arbitrator=arbitrator)
    submitted = emulator.submit(
        creator,
        asked,
        {
            "question": "Will the raffle be drawn on time?",
            "options": "Yes\nNo",
            "duration": "1d",
            "category": "",
        },
    )
    emulator.wait_for_reply(submitted, contains="is open", timeout=45)
    posted = emulator.wait_for(
        lambda: [
            emulator.messages[i]
            for i in submitted.followup_ids
            if not int(emulator.messages[i]["flags"]) & EPHEMERAL
        ],
        timeout=45,
        what="the public market message",
    )[0]
    market = Market.objects.get(question="Will the raffle be drawn on time?")
    emulator.wait_for(
        lambda: Market.objects.filter(pk=market.pk, discord_message_id=int(posted["id"])).exists(),
        what="the market to record its live message",
    )
    return market, posted


def test_the_arbitrators_sole_vote_is_refused_while_they_hold_shares(
    emulator: DiscordEmulator,
    bot: BotProcess,
    people: Personas,
    discord_guild: GuildSetup,
    manager: Persona,
) -> None:
    configured = emulator.slash(
        manager, "config set", resolvers_binary="arbitrator", resolution_votes=1
    )
    shown = message_text(emulator.wait_for_reply(configured, contains="Settings saved"))
    assert "arbitrator named on /market create" in shown
    guild = Guild.objects.get(pk=discord_guild.guild_id)
    assert (guild.resolvers_binary, guild.min_resolution_votes) == (ResolverRule.ARBITRATOR, 1)

    market, posted = _create_with_arbitrator(emulator, people.alice, people.bob)
    assert (market.resolver_rule, market.arbitrator.discord_id) == (
        ResolverRule.ARBITRATOR,
        people.bob.user_id,
    )
    assert "arbitrator bob" in message_text(posted)
    bet_place(
        member=member_row(discord_guild, people.bob),
        market_id=market.pk,
        outcome_index=0,
        amount=100,
        idempotency_key=f"e2e:bob:{market.pk}",
        bypass_rate_limit=True,
    )
    market_close(market_id=market.pk, actor="system:e2e")

    # Alice created it but is not its arbitrator: refused.
    not_hers = emulator.slash(people.alice, "market resolve", market=str(market.pk), outcome="Yes")
    assert "arbitrator" in emulator.wait_for_reply(not_hers, contains="Only")["content"]

    sole = emulator.slash(people.bob, "market resolve", market=str(market.pk), outcome="Yes")
    waiting = emulator.wait_for_reply(sole, contains="counted")["content"]
    assert "you hold shares" in waiting and "a moderator must agree" in waiting
    assert Market.objects.get(pk=market.pk).status == MarketStatus.CLOSED

    agreed = emulator.slash(people.mod_one, "resolve", market=str(market.pk), outcome="Yes")
    assert "decided" in emulator.wait_for_reply(agreed, contains="decided")["content"]
    assert Market.objects.get(pk=market.pk).status == MarketStatus.RESOLVED

    channel = str(discord_guild.announcement_channel_id)
    announced = emulator.wait_for(
        lambda: [
            message_text(m)
            for m in emulator.messages.values()
            if m["channel_id"] == channel and "Resolved:" in message_text(m)
        ],
        timeout=30,
        what="the resolution announcement",
    )
    assert any(
        "Resolved by bob (arbitrator) with mod one (moderator)." in text for text in announced
    ), announced


def test_market_resolve_is_visible_to_members(emulator: DiscordEmulator, bot: BotProcess) -> None:
    with emulator.lock:
        market = next(c for c in emulator.commands.get(None, {}).values() if c["name"] == "market")
    assert market.get("default_member_permissions") is None  # every member sees /market
    subcommands = {o["name"] for o in market["options"]}
    assert {"resolve", "describe"} <= subcommands


def test_the_creator_clarifies_the_description_and_the_live_message_shows_it(
    emulator: DiscordEmulator, bot: BotProcess, people: Personas, discord_guild: GuildSetup
) -> None:
    guild_update_settings(
        guild_id=discord_guild.guild_id, actor="system:e2e", resolvers_binary="arbitrator"
    )
    market, posted = _create_with_arbitrator(emulator, people.alice, people.bob)

    described = emulator.slash(
        people.alice,
        "market describe",
        market=str(market.pk),
        description="Drawn at the summer fair, 3 pm.",
    )
    assert "updated" in emulator.wait_for_reply(described, contains="description")["content"]

    live = emulator.wait_for(
        lambda: (
            "Drawn at the summer fair, 3 pm. *(edited)*" in message_text(m) and m
            if (m := emulator.messages.get(int(posted["id"])))
            else None
        ),
        timeout=30,
        what="the live message to show the edit",
    )
    assert "Description history" in message_text(live)

    # Someone else trades: the creator may no longer edit, and nothing changes.
    bet_place(
        member=member_row(discord_guild, people.bob),
        market_id=market.pk,
        outcome_index=1,
        amount=50,
        idempotency_key=f"e2e:bob:describe:{market.pk}",
        bypass_rate_limit=True,
    )
    late = emulator.slash(
        people.alice, "market describe", market=str(market.pk), description="Changed again."
    )
    assert "only moderators" in emulator.wait_for_reply(late, contains="traded")["content"]
    assert Market.objects.get(pk=market.pk).description == "Drawn at the summer fair, 3 pm."


def test_a_holding_arbitrators_correction_waits_for_a_moderator(
    emulator: DiscordEmulator, bot: BotProcess, people: Personas, discord_guild: GuildSetup
) -> None:
    """A correction is a decision: ``/market resolve`` on a decided market is the
    arbitrator's correction vote, and holding shares it needs a moderator to agree."""
    guild_update_settings(
        guild_id=discord_guild.guild_id,
        actor="system:e2e",
        resolvers_binary="arbitrator",
        min_resolution_votes=1,
    )
    market, _ = _create_with_arbitrator(emulator, people.alice, people.bob)
    bet_place(
        member=member_row(discord_guild, people.bob),
        market_id=market.pk,
        outcome_index=0,
        amount=100,
        idempotency_key=f"e2e:bob:correct:{market.pk}",
        bypass_rate_limit=True,
    )
    market_close(market_id=market.pk, actor="system:e2e")
    decided = emulator.slash(people.mod_one, "resolve", market=str(market.pk), outcome="No")
    assert "decided" in emulator.wait_for_reply(decided, contains="decided")["content"]
    emulator.wait_for(
        lambda: Market.objects.filter(pk=market.pk, settled_at__isnull=False).exists(),
        timeout=30,
        what="the settlement",
    )

    sole = emulator.slash(people.bob, "market resolve", market=str(market.pk), outcome="Yes")
    waiting = emulator.wait_for_reply(sole, contains="correct")["content"]
    assert "you hold shares" in waiting and "a moderator must agree" in waiting, waiting
    assert not MarketCorrection.objects.filter(market=market).exists()

    agreed = emulator.slash(
        people.mod_two, "moderate correct", market=str(market.pk), outcome="Yes"
    )
    assert "corrected" in emulator.wait_for_reply(agreed, contains="corrected")["content"]
    assert Market.objects.get(pk=market.pk).winning_outcome.label == "Yes"

    channel = str(discord_guild.announcement_channel_id)
    announced = emulator.wait_for(
        lambda: [
            message_text(m)
            for m in emulator.messages.values()
            if m["channel_id"] == channel and "Corrected:" in message_text(m)
        ],
        timeout=30,
        what="the correction announcement",
    )
    assert any("by bob (arbitrator) and mod two (moderator)" in t for t in announced), announced
