"""One Discord emulator and one real ``runbot`` process per test module.

The bot runs against the pytest test database, and the tests are marked
``django_db(transaction=True)``: what a test writes through the services is
committed, so the bot process sees it, and the tables are emptied after each
test (ids keep growing, so the running bot never confuses two tests). Every test
ends by checking that the bot broke none of Discord's rules the emulator
enforces (one initial response, the 3-second deadline, bodies valid against
Discord's spec, …).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.db import connection

from betting.services import bet_place
from markets.models import Market
from markets.services import market_close, market_create
from points.models import Member
from points.services import guild_update_settings, member_ensure
from tests.botrunner.e2e.bot_process import BotProcess
from tests.discord_emulator import DiscordEmulator, GuildSetup, Persona


class Personas:
    """The emulated guild's people: two members, two moderators."""

    def __init__(self, guild: GuildSetup) -> None:
        self.alice = guild.member("alice")
        self.bob = guild.member("bob")
        self.mod_one = guild.member("mod one", moderator=True)
        self.mod_two = guild.member("mod two", moderator=True)


@pytest.fixture(scope="module")
def discord_guild() -> GuildSetup:
    return GuildSetup(name="Emulated guild")


@pytest.fixture(scope="module")
def people(discord_guild: GuildSetup) -> Personas:
    return Personas(discord_guild)


@pytest.fixture(scope="module")
def emulator(discord_guild: GuildSetup, people: Personas) -> Iterator[DiscordEmulator]:
    with DiscordEmulator([discord_guild]) as running:
        yield running


@pytest.fixture(autouse=True)
def configured_guild(transactional_db: None, discord_guild: GuildSetup) -> GuildSetup:
    """The guild's settings in the database: its moderator role and announcement channel."""
    member_ensure(
        guild_id=discord_guild.guild_id, discord_id=discord_guild.owner_id, guild_name="Emulated"
    )
    guild_update_settings(
        guild_id=discord_guild.guild_id,
        actor="system:e2e",
        moderator_role_id=discord_guild.moderator_role_id,
        announcement_channel_id=discord_guild.announcement_channel_id,
    )
    return discord_guild


@pytest.fixture(autouse=True)
def _bot_quiet_before_the_tables_are_emptied(transactional_db: None) -> Iterator[None]:
    """After each test the tables are emptied (one TRUNCATE) while the bot keeps running.

    A bot read that spans several tables in one transaction (a market snapshot
    is built in one REPEATABLE READ snapshot) can hold one table the TRUNCATE
    needs while waiting for another it already took: a deadlock, and the test
    database is left unflushed for the next test. So first wait (at most 10 s)
    until no other session of the test database is inside a statement or a
    transaction: the bot's work for this test has finished.
    """
    yield
    if connection.vendor != "postgresql":
        return
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() "
                "AND state IN ('active', 'idle in transaction', 'idle in transaction (aborted)')"
            )
            if cursor.fetchone()[0] == 0:
                return
        time.sleep(0.05)


@pytest.fixture(scope="module")
def bot(
    django_db_setup: None,
    emulator: DiscordEmulator,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[BotProcess]:
    process = BotProcess(emulator, tmp_path_factory.mktemp("runbot") / "runbot.log")
    process.start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(autouse=True)
def _discord_rules_kept(request: pytest.FixtureRequest) -> Iterator[None]:
    if "emulator" not in request.fixturenames:
        yield
        return
    emulator: DiscordEmulator = request.getfixturevalue("emulator")
    before = len(emulator.violations)
    yield
    broken = emulator.violations[before:]
    assert not broken, "the bot broke Discord's rules:\n" + "\n".join(broken)


def member_row(guild: GuildSetup, persona: Persona) -> Member:
    return member_ensure(
        guild_id=guild.guild_id, discord_id=persona.user_id, display_name=persona.username
    )


def open_market(
    guild: GuildSetup, creator: Persona, question: str, options: list[str], **kwargs: object
) -> Market:
    """A market created through the service, committed, so the bot process sees it."""
    return market_create(
        creator=member_row(guild, creator),
        question=question,
        options=options,
        duration=kwargs.pop("duration", timedelta(days=2)),  # type: ignore[arg-type]
        actor=f"discord:{creator.user_id}",
        bypass_rate_limit=True,
        **kwargs,  # type: ignore[arg-type]
    )


def resolved_by_two_moderators(
    emulator: DiscordEmulator,
    guild: GuildSetup,
    market: Market,
    bets: list[tuple[Persona, int]],
    moderators: tuple[Persona, Persona],
    *,
    key: str,
) -> None:
    """Each persona bets 100 on their answer, the market closes, and two moderators
    ``/resolve`` it to Yes through the bot (the vote rule's two agreeing votes)."""
    for persona, answer in bets:
        bet_place(
            member=member_row(guild, persona),
            market_id=market.pk,
            outcome_index=answer,
            amount=100,
            idempotency_key=f"e2e:{key}:{persona.user_id}:{market.pk}",
            bypass_rate_limit=True,
        )
    market_close(market_id=market.pk, actor="system:e2e")
    for mod in moderators:
        voted = emulator.slash(mod, "resolve", market=str(market.pk), outcome="Yes")
        emulator.wait_for_reply(voted, contains="market")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> object:
    """A failed e2e test shows the end of the bot's log: its tracebacks are the evidence."""
    report = yield
    if report.failed and call.when in ("call", "setup"):
        process = getattr(item, "funcargs", {}).get("bot")
        if isinstance(process, BotProcess):
            report.sections.append(("runbot log (last lines)", process.log_tail(60)))
    return report
