"""``/config show`` and ``/config set``: a guild's market settings (Manage Server only).

The settings are written by ``points.services.guild_update_settings``, which
validates every value with the model's validators and records the change in
the audit log.

The settings also say what Discord's side needs: the moderator commands are
hidden from members until a server manager adds the moderator role to them
(Integrations), and the reminders' ping of the moderator role reaches nobody
when the role is not mentionable and the bot lacks Mention Everyone. That is
read from the roles nextcord keeps from GUILD_CREATE and role updates, with no
request to Discord.
"""

from __future__ import annotations

from typing import Any

import nextcord
from nextcord.ext import commands

from botrunner.calls import call
from botrunner.context import require_admin
from botrunner.embeds import key_value_embed
from botrunner.invocation import Invocation, handler
from botrunner.reads import guild_settings
from botrunner.text import points
from points.amounts import MAX_AMOUNT
from points.drip.secrets import masked
from points.drip.services import guild_connect_drip, guild_use_local_points
from points.models import CLOSING_SOON_LEAD_MAX_MINUTES, Guild, ResolverRule
from points.services import guild_update_settings
from predictmarket.errors import ValidationFailed

MODERATOR_COMMANDS_NOTE = (
    "/resolve, /moderate, /points and /season are hidden from members by default: Discord "
    "shows them only to members with Manage Server. To let the moderator role use them, open "
    "Server Settings → Integrations → this bot, pick each command, and add the role."
)


def moderator_ping_warning(discord_guild: Any, role_id: int | None) -> str | None:
    """Why a reminder's ping of the moderator role would reach nobody, or None.

    ``discord_guild`` is nextcord's cached guild (None when it is not in the
    cache: then nothing is known and nothing is claimed).
    """
    if discord_guild is None or role_id is None:
        return None
    role = discord_guild.get_role(role_id)
    if role is None:
        return (
            "⚠️ The moderator role no longer exists in this server: pick another with "
            "/config set moderator_role."
        )
    me = discord_guild.me
    if role.mentionable or me is None or me.guild_permissions.mention_everyone:
        return None
    return (
        f"⚠️ The bot cannot ping {role.mention}: the role is not mentionable and the bot lacks "
        "the Mention Everyone permission, so reminders notify no moderator. Turn on "
        "“Allow anyone to @mention this role” (Server Settings → Roles), or give the bot "
        "Mention Everyone."
    )


RESOLVER_CHOICES = {label: value for value, label in ResolverRule.choices}


def resolver_rule_text(rule: str) -> str:
    """What ``/config show`` says about a resolver rule."""
    if rule == ResolverRule.CREATOR:
        return "moderators, or the market's creator (/market resolve)"
    if rule == ResolverRule.ARBITRATOR:
        return "moderators, or the arbitrator named on /market create (/market resolve)"
    return "moderators only"


def lead_text(minutes: int) -> str:
    """``90`` → ``1 h 30 min``: how a closing-soon lead reads."""
    hours, rest = divmod(minutes, 60)
    parts = ([f"{hours} h"] if hours else []) + ([f"{rest} min"] if rest else [])
    return " ".join(parts)


def _announcement_lines(guild: Guild) -> list[tuple[str, str]]:
    """What the bot announces and where; a setting that needs the channel says so."""
    unposted = "" if guild.announcement_channel_id else " (no announcement channel: not posted)"
    lead = guild.closing_soon_lead_minutes
    return [
        ("New markets", f"announced{unposted}" if guild.announce_new_markets else "not announced"),
        (
            "Closing soon",
            f"announced {lead_text(lead)} before a market closes{unposted}, and in its thread"
            if lead
            else "off",
        ),
        (
            "Market threads",
            "on: each market posted by the bot gets a thread holding its live message and "
            "its updates"
            if guild.market_threads
            else "off",
        ),
    ]


def _describe(guild: Guild, discord_guild: Any = None) -> list[tuple[str, str]]:
    role = f"<@&{guild.moderator_role_id}>" if guild.moderator_role_id else "not set"
    channel = f"<#{guild.announcement_channel_id}>" if guild.announcement_channel_id else "not set"
    warning = moderator_ping_warning(discord_guild, guild.moderator_role_id)
    return [
        ("Moderator role", f"{role} (Manage Server always moderates)"),
        *([("Moderator pings", warning)] if warning else []),
        ("Moderator commands", MODERATOR_COMMANDS_NOTE),
        ("Announcement channel", channel),
        *_announcement_lines(guild),
        ("Starting balance", f"{points(guild.starting_balance)} points"),
        ("Daily amount", f"{points(guild.daily_amount)} points"),
        ("Smallest bet", f"{points(guild.min_bet)} points"),
        ("Largest bet", f"{points(guild.max_bet)} points"),
        ("Fee", f"{guild.fee_bps / 100:g}% ({guild.fee_bps} basis points)"),
        ("Default liquidity", f"{points(guild.default_liquidity)} points"),
        ("Resolution votes", str(guild.min_resolution_votes)),
        ("Who resolves two-answer markets", resolver_rule_text(guild.resolvers_binary)),
        ("Who resolves 3+ answer markets", resolver_rule_text(guild.resolvers_multiple)),
        ("Auto-refund after", f"{guild.auto_refund_hours} hours"),
        (
            "Corrections",
            f"within {guild.correction_window_hours} hours of a decision"
            if guild.correction_window_hours
            else "off",
        ),
        ("Public pages", "on" if guild.public_pages else "off"),
        ("Transfers (/tip)", "on" if guild.transfers_enabled else "off"),
        ("Points kept in", guild.get_points_backend_display()),
        *(
            [
                ("DRIP realm", guild.drip_realm_id),
                ("DRIP API key", masked(guild.drip_api_key_encrypted)),
                ("DRIP currency", guild.drip_currency_id or "default"),
            ]
            if guild.points_backend == "drip"
            else []
        ),
    ]


@handler("config show")
async def config_show_command(inv: Invocation) -> None:
    actor = await inv.actor()
    require_admin(actor)
    guild = await call(guild_settings, actor.guild_id)
    await inv.reply(
        embed=key_value_embed("Market settings", _describe(guild, inv.interaction.guild))
    )


@handler("config set")
async def config_set_command(
    inv: Invocation,
    *,
    moderator_role: Any = None,
    clear_moderator_role: bool | None = None,
    announcement_channel: Any = None,
    clear_announcement_channel: bool | None = None,
    **values: Any,
) -> None:
    actor = await inv.actor()
    require_admin(actor)
    changes: dict[str, Any] = {k: v for k, v in values.items() if v is not None}
    if moderator_role is not None:
        changes["moderator_role_id"] = int(moderator_role.id)
    elif clear_moderator_role:
        changes["moderator_role_id"] = None
    if announcement_channel is not None:
        changes["announcement_channel_id"] = int(announcement_channel.id)
    elif clear_announcement_channel:
        changes["announcement_channel_id"] = None
    if not changes:
        raise ValidationFailed("Nothing to change: pick at least one setting.")
    guild = await call(guild_update_settings, guild_id=actor.guild_id, actor=actor.name, **changes)
    description = "Now in force:"
    if moderator_role is not None:
        description = (
            f"Now in force. Next, let <@&{guild.moderator_role_id}> see the moderator commands "
            "(see Moderator commands below)."
        )
    await inv.reply(
        embed=key_value_embed(
            "Settings saved", _describe(guild, inv.interaction.guild), description=description
        )
    )


@handler("config drip")
async def config_drip_command(
    inv: Invocation, *, realm_id: str, api_key: str | None = None, currency_id: str | None = None
) -> None:
    actor = await inv.actor()
    require_admin(actor)
    await call(
        guild_connect_drip,
        guild_id=actor.guild_id,
        realm_id=realm_id,
        api_key=api_key,
        currency_id=currency_id or "",
        actor=actor.name,
    )
    guild = await call(guild_settings, actor.guild_id)
    await inv.reply(
        embed=key_value_embed(
            "Connected to DRIP",
            _describe(guild),
            description="Bets now use members' DRIP points; payouts and refunds go back to DRIP.",
        )
    )


@handler("config local-points")
async def config_local_command(inv: Invocation) -> None:
    actor = await inv.actor()
    require_admin(actor)
    await call(guild_use_local_points, guild_id=actor.guild_id, actor=actor.name)
    guild = await call(guild_settings, actor.guild_id)
    await inv.reply(embed=key_value_embed("Using local points", _describe(guild)))


def _int(description: str, minimum: int, maximum: int) -> Any:
    # Discord's client refuses a number past max_value before sending it; the
    # service checks the same bound for anything that arrives another way.
    return nextcord.SlashOption(
        description=description, required=False, min_value=minimum, max_value=maximum
    )


class ConfigCog(commands.Cog, name="Config"):
    @nextcord.slash_command(
        name="config",
        description="Server managers: market settings",
        dm_permission=False,
        # Hidden from members who cannot manage the server; still checked on every call.
        default_member_permissions=nextcord.Permissions(manage_guild=True),
    )
    async def config(self, interaction: nextcord.Interaction) -> None:
        """Group: the subcommands below do the work."""

    @config.subcommand(name="show", description="Show the market settings")
    async def show(self, interaction: nextcord.Interaction) -> None:
        await config_show_command(interaction)

    @config.subcommand(name="set", description="Change market settings")
    async def set_(
        self,
        interaction: nextcord.Interaction,
        moderator_role: nextcord.Role | None = nextcord.SlashOption(  # noqa: B008
            description="Role whose members moderate markets", required=False
        ),
        clear_moderator_role: bool | None = nextcord.SlashOption(
            description="Remove the moderator role", required=False
        ),
        announcement_channel: nextcord.abc.GuildChannel | None = nextcord.SlashOption(  # noqa: B008
            description="Where new markets, closing-soon notices, results and reminders go",
            required=False,
            channel_types=[nextcord.ChannelType.text, nextcord.ChannelType.news],
        ),
        clear_announcement_channel: bool | None = nextcord.SlashOption(
            description="Stop announcements", required=False
        ),
        starting_balance: int | None = _int("Points a new member starts with", 0, MAX_AMOUNT),
        daily_amount: int | None = _int("Points per /daily (0 turns it off)", 0, MAX_AMOUNT),
        min_bet: int | None = _int("Smallest bet", 1, MAX_AMOUNT),
        max_bet: int | None = _int("Largest bet", 1, MAX_AMOUNT),
        fee_bps: int | None = _int("Trading fee in basis points (100 = 1%)", 0, 5000),
        default_liquidity: int | None = _int("Liquidity of new markets", 1, MAX_AMOUNT),
        resolution_votes: int | None = _int("Moderator votes that decide a market", 1, 25),
        auto_refund_hours: int | None = _int("Refund unresolved markets after (hours)", 1, 8760),
        resolvers_binary: str | None = nextcord.SlashOption(
            description="Who resolves two-answer markets (new markets)",
            choices=RESOLVER_CHOICES,
            required=False,
        ),
        resolvers_multiple: str | None = nextcord.SlashOption(
            description="Who resolves markets with 3 or more answers (new markets)",
            choices=RESOLVER_CHOICES,
            required=False,
        ),
        correction_window_hours: int | None = _int(
            "Hours after a decision moderators may correct it (0 = off)", 0, 8760
        ),
        public_pages: bool | None = nextcord.SlashOption(
            description="Show markets on the public web pages", required=False
        ),
        transfers: bool | None = nextcord.SlashOption(
            description="Allow /tip between members", required=False
        ),
        announce_new_markets: bool | None = nextcord.SlashOption(
            description="Announce each new market in the announcement channel", required=False
        ),
        closing_soon_minutes: int | None = _int(
            "Announce markets this many minutes before they close (0 = off)",
            0,
            CLOSING_SOON_LEAD_MAX_MINUTES,
        ),
        market_threads: bool | None = nextcord.SlashOption(
            description="Give each market a thread for its live message and updates",
            required=False,
        ),
    ) -> None:
        await config_set_command(
            interaction,
            moderator_role=moderator_role,
            clear_moderator_role=clear_moderator_role,
            announcement_channel=announcement_channel,
            clear_announcement_channel=clear_announcement_channel,
            starting_balance=starting_balance,
            daily_amount=daily_amount,
            min_bet=min_bet,
            max_bet=max_bet,
            fee_bps=fee_bps,
            default_liquidity=default_liquidity,
            min_resolution_votes=resolution_votes,
            auto_refund_hours=auto_refund_hours,
            resolvers_binary=resolvers_binary,
            resolvers_multiple=resolvers_multiple,
            correction_window_hours=correction_window_hours,
            public_pages=public_pages,
            transfers_enabled=transfers,
            announce_new_markets=announce_new_markets,
            closing_soon_lead_minutes=closing_soon_minutes,
            market_threads=market_threads,
        )

    @config.subcommand(name="drip", description="Keep this server's points in DRIP")
    async def drip(
        self,
        interaction: nextcord.Interaction,
        realm_id: str = nextcord.SlashOption(
            description="DRIP realm id (24 hex characters)", min_length=24, max_length=24
        ),
        api_key: str | None = nextcord.SlashOption(
            description="DRIP API key (stored encrypted; leave out to keep the current one)",
            required=False,
            max_length=200,
        ),
        currency_id: str | None = nextcord.SlashOption(
            description="DRIP currency id (optional)", required=False, max_length=64
        ),
    ) -> None:
        await config_drip_command(
            interaction, realm_id=realm_id, api_key=api_key, currency_id=currency_id
        )

    @config.subcommand(name="local-points", description="Keep points in this bot's own ledger")
    async def local_points(self, interaction: nextcord.Interaction) -> None:
        await config_local_command(interaction)


def setup(bot: Any) -> None:
    bot.add_cog(ConfigCog())
