"""The members' web app: people signed in with Discord (through the emulator) in two guilds.

The emulated Discord has two servers the bot serves, Harbour and Hilltop, and
Elsewhere, which the bot is not in. Each test adds its own people to them and
signs them in through the emulator's OAuth2 routes, so the web app asks the
emulator (``GET /users/@me/guilds`` with the person's token) which servers
they are in, as it would ask Discord.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.test import Client
from pytest_django import Settings

from markets.models import Market
from points.models import Guild, Member
from points.services import member_ensure
from tests.api.helpers import open_market
from tests.discord_emulator import DiscordEmulator, GuildSetup, Persona
from tests.factories import GuildFactory
from tests.web.conftest import REDIRECT_URL, DiscordSignIn

pytestmark = pytest.mark.web


@pytest.fixture(scope="session")
def _app_emulator() -> Iterator[DiscordEmulator]:
    guilds = [GuildSetup(name="Harbour"), GuildSetup(name="Hilltop"), GuildSetup(name="Elsewhere")]
    with DiscordEmulator(guilds) as emulator:
        yield emulator


@dataclass
class MembersApp:
    emulator: DiscordEmulator
    harbour: Guild
    hilltop: Guild

    @property
    def harbour_setup(self) -> GuildSetup:
        return self.emulator.guilds[0]

    @property
    def hilltop_setup(self) -> GuildSetup:
        return self.emulator.guilds[1]

    @property
    def elsewhere_setup(self) -> GuildSetup:
        return self.emulator.guilds[2]

    def person(self, name: str, *setups: GuildSetup) -> Persona:
        """A Discord user who is in each of ``setups`` (Harbour if none is named)."""
        first, *rest = setups or (self.harbour_setup,)
        persona = first.member(name)
        for setup in rest:
            setup.members[persona.user_id] = persona
        return persona

    def sign_in(self, persona: Persona, client: Client | None = None) -> Client:
        """A Django test client signed in as ``persona`` through Discord's OAuth2 flow."""
        client = client or Client()
        self.emulator.oauth.signed_in(persona)
        response = DiscordSignIn(self.emulator, persona).sign_in(client)
        assert response.status_code == 302, response.content[:300]
        return client

    def member_of(self, guild: Guild, persona: Persona) -> Member:
        return member_ensure(
            guild_id=guild.pk, discord_id=persona.user_id, display_name=persona.username
        )

    def market(self, guild: Guild, creator: Persona, **kwargs: object) -> Market:
        return open_market(self.member_of(guild, creator), **kwargs)  # type: ignore[arg-type]


def configure_signin(settings: Settings, emulator: DiscordEmulator, redirect_url: str) -> None:
    settings.DISCORD_OAUTH_CLIENT_ID = emulator.oauth.client_id
    settings.DISCORD_OAUTH_CLIENT_SECRET = emulator.oauth.client_secret
    settings.DISCORD_OAUTH_AUTHORIZE_URL = emulator.oauth_authorize_url
    settings.DISCORD_OAUTH_REDIRECT_URL = redirect_url
    settings.DISCORD_API_BASE_URL = emulator.base_url


@pytest.fixture
def members_app(_app_emulator: DiscordEmulator, settings: Settings, db: None) -> MembersApp:
    configure_signin(settings, _app_emulator, REDIRECT_URL)
    return MembersApp(
        emulator=_app_emulator,
        harbour=GuildFactory(id=_app_emulator.guilds[0].guild_id, name="Harbour"),
        hilltop=GuildFactory(id=_app_emulator.guilds[1].guild_id, name="Hilltop"),
    )
