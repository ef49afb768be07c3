"""/config show and /config set: server managers only; values validated; changes audited."""

from __future__ import annotations

import pytest

from botrunner.cogs.config import config_set_command, config_show_command
from points.models import Guild
from predictmarket.models import AuditLogEntry
from tests.botrunner.conftest import MODERATOR_ROLE_ID, member_for, run
from tests.botrunner.fakes import FakePermissions, FakeRole

pytestmark = pytest.mark.django_db(transaction=True)


def _settings(guild: Guild) -> dict[str, object]:
    guild.refresh_from_db()
    return {f.name: getattr(guild, f.name) for f in Guild._meta.fields if f.name != "updated_at"}


def test_show_lists_every_setting(slash, guild, admin) -> None:
    interaction = slash(admin)
    run(config_show_command(interaction))
    assert interaction.last.ephemeral
    names = [f.name for f in interaction.last.embed.fields]
    assert names == [
        "Moderator role",
        "Moderator commands",
        "Announcement channel",
        "New markets",
        "Closing soon",
        "Market threads",
        "Starting balance",
        "Daily amount",
        "Smallest bet",
        "Largest bet",
        "Fee",
        "Default liquidity",
        "Resolution votes",
        "Who resolves two-answer markets",
        "Who resolves 3+ answer markets",
        "Auto-refund after",
        "Corrections",
        "Public pages",
        "Transfers (/tip)",
        "Points kept in",
    ]
    assert f"<@&{MODERATOR_ROLE_ID}>" in interaction.last.text


def test_an_admin_changes_every_setting(slash, guild, admin) -> None:
    interaction = slash(admin)
    run(
        config_set_command(
            interaction,
            moderator_role=FakeRole(765_000_000_000_000_777),
            announcement_channel=FakeRole(880_000_000_000_000_555),  # anything with an id
            starting_balance=500,
            daily_amount=25,
            min_bet=5,
            max_bet=5000,
            fee_bps=150,
            default_liquidity=2000,
            min_resolution_votes=3,
            auto_refund_hours=48,
            correction_window_hours=0,
            public_pages=True,
            transfers_enabled=False,
            resolvers_binary="creator",
            resolvers_multiple="arbitrator",
            announce_new_markets=True,
            closing_soon_lead_minutes=90,
            market_threads=True,
        )
    )
    guild.refresh_from_db()
    assert (guild.announce_new_markets, guild.closing_soon_lead_minutes, guild.market_threads) == (
        True,
        90,
        True,
    )
    assert _field(interaction, "Closing soon") == (
        "announced 1 h 30 min before a market closes, and in its thread"
    )
    assert _field(interaction, "New markets") == "announced"
    assert (guild.resolvers_binary, guild.resolvers_multiple) == ("creator", "arbitrator")
    assert (guild.moderator_role_id, guild.announcement_channel_id) == (
        765_000_000_000_000_777,
        880_000_000_000_000_555,
    )
    assert (guild.starting_balance, guild.daily_amount, guild.min_bet, guild.max_bet) == (
        500,
        25,
        5,
        5000,
    )
    assert (guild.fee_bps, guild.default_liquidity, guild.min_resolution_votes) == (150, 2000, 3)
    assert (guild.auto_refund_hours, guild.public_pages, guild.transfers_enabled) == (
        48,
        True,
        False,
    )
    assert guild.correction_window_hours == 0  # corrections off
    assert "Settings saved" in interaction.last.text and "1.5%" in interaction.last.text
    assert "moderators, or the market's creator (/market resolve)" in interaction.last.text
    entry = AuditLogEntry.objects.get(action="guild.settings")
    assert entry.actor == f"discord:{admin.id}"
    assert (entry.data["before"]["fee_bps"], entry.data["after"]["fee_bps"]) == (0, 150)


def test_clearing_the_role_and_channel(slash, guild, admin) -> None:
    interaction = slash(admin)
    run(config_set_command(interaction, clear_moderator_role=True, clear_announcement_channel=True))
    guild.refresh_from_db()
    assert guild.moderator_role_id is None and guild.announcement_channel_id is None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"min_bet": 100, "max_bet": 10}, "max_bet (10) must not be below min_bet (100)"),
        ({"fee_bps": 6000}, "less than or equal to 5000"),
        ({"min_resolution_votes": 0}, "greater than or equal to 1"),
        ({"resolvers_binary": "anyone"}, "is not a valid choice"),
        (
            {"closing_soon_lead_minutes": 10_081},
            "closing_soon_lead_minutes: At most 10,080 minutes (a week); 0 turns it off.",
        ),
        ({"closing_soon_lead_minutes": -5}, "greater than or equal to 0"),
        ({"fee_bps": 100, "closing_soon_lead_minutes": 20_000}, "At most 10,080 minutes"),
        ({}, "Nothing to change"),
    ],
)
def test_invalid_settings_are_refused_and_nothing_changes(slash, guild, admin, changes, message):
    before = _settings(guild)
    interaction = slash(admin)
    run(config_set_command(interaction, **changes))
    assert interaction.last.ephemeral
    assert message in interaction.last.text
    assert _settings(guild) == before
    assert not AuditLogEntry.objects.filter(action="guild.settings").exists()


@pytest.mark.parametrize("role", ["member", "moderator"])
def test_only_server_managers_configure(slash, guild, alice, role) -> None:
    user = alice
    if role == "moderator":
        user.roles = [FakeRole(MODERATOR_ROLE_ID)]  # moderates, but cannot manage the server
    member_for(user, guild)
    before = _settings(guild)
    for command, kwargs in ((config_set_command, {"fee_bps": 100}), (config_show_command, {})):
        interaction = slash(user)
        run(command(interaction, **kwargs))
        assert interaction.last.ephemeral
        assert "Only server managers" in interaction.last.text
    assert _settings(guild) == before


def test_announcements_without_a_channel_say_nothing_is_posted(slash, guild, admin) -> None:
    interaction = slash(admin)
    run(config_set_command(interaction, clear_announcement_channel=True, announce_new_markets=True))
    assert _field(interaction, "New markets") == ("announced (no announcement channel: not posted)")
    assert _field(interaction, "Closing soon") == "off"
    assert _field(interaction, "Market threads") == "off"


def _field(interaction, name: str) -> str | None:
    return next((f.value for f in interaction.last.embed.fields if f.name == name), None)


def test_show_says_how_the_moderator_role_gets_its_hidden_commands(slash, admin) -> None:
    interaction = slash(admin)
    run(config_show_command(interaction))
    note = _field(interaction, "Moderator commands")
    assert note and "hidden from members" in note and "Integrations" in note
    assert _field(interaction, "Moderator pings") is None  # the role is mentionable


def test_show_warns_when_the_role_cannot_be_pinged(slash, discord_guild, admin) -> None:
    discord_guild.roles = [FakeRole(MODERATOR_ROLE_ID, mentionable=False)]
    interaction = slash(admin)
    run(config_show_command(interaction))
    warning = _field(interaction, "Moderator pings")
    assert warning and "cannot ping" in warning and f"<@&{MODERATOR_ROLE_ID}>" in warning


def test_mention_everyone_lets_the_bot_ping_an_unmentionable_role(
    slash, discord_guild, admin
) -> None:
    discord_guild.roles = [FakeRole(MODERATOR_ROLE_ID, mentionable=False)]
    discord_guild.me.guild_permissions = FakePermissions(mention_everyone=True)
    interaction = slash(admin)
    run(config_show_command(interaction))
    assert _field(interaction, "Moderator pings") is None


def test_show_says_when_the_moderator_role_was_deleted(slash, discord_guild, admin) -> None:
    discord_guild.roles = []
    interaction = slash(admin)
    run(config_show_command(interaction))
    assert "no longer exists" in (_field(interaction, "Moderator pings") or "")


def test_setting_the_role_says_what_to_do_next(slash, discord_guild, admin) -> None:
    discord_guild.roles.append(FakeRole(765_000_000_000_000_778, mentionable=False))
    interaction = slash(admin)
    run(config_set_command(interaction, moderator_role=FakeRole(765_000_000_000_000_778)))
    embed = interaction.last.embed
    assert "see the moderator commands" in embed.description
    assert "cannot ping" in (_field(interaction, "Moderator pings") or "")
