"""Two guilds, a moderator of each, and data in both: the moderators' console tests.

People sign in through the Discord emulator's OAuth2 routes (the real allauth
flow); the console then asks the emulator with their own token which servers
they moderate. Guild A's moderator holds A's moderator role and is a plain
member of B; B's moderator moderates by Manage Server (the permission path).
Everything of B is named "bravo", of A "alpha", so a leak shows in any text.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import requests
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pytest_django import Settings

from betting.seasons import season_start
from betting.services import bet_place
from markets.models import Market
from points.models import DripTransfer, DripTransferStatus, Guild, Member
from points.services import member_ensure, points_grant
from tests.api.helpers import open_market
from tests.discord_emulator import DiscordEmulator, GuildSetup, Persona
from tests.factories import GuildFactory

REDIRECT_PATH = "/accounts/discord/login/callback/"


@dataclass
class Cast:
    emulator: DiscordEmulator
    a: GuildSetup
    b: GuildSetup
    mod_a: Persona  # moderator role in A, plain member of B
    mod_b: Persona  # Manage Server in B
    member_a: Persona  # no rights anywhere


@pytest.fixture(scope="session")
def _console_emulator() -> Iterator[DiscordEmulator]:
    a = GuildSetup(name="Alpha guild")
    b = GuildSetup(name="Bravo guild")
    with DiscordEmulator([a, b]) as emulator:
        yield emulator


@pytest.fixture
def cast(_console_emulator: DiscordEmulator, settings: Settings) -> Cast:
    emulator = _console_emulator
    a, b = emulator.guilds
    n = len(a.members)
    mod_a = a.member(f"alphamod{n}", moderator=True)
    b.member(mod_a.username, user_id=mod_a.user_id)
    mod_b = b.member(f"bravomod{n}", manage_guild=True)
    member_a = a.member(f"alphamember{n}")
    settings.DISCORD_OAUTH_CLIENT_ID = emulator.oauth.client_id
    settings.DISCORD_OAUTH_CLIENT_SECRET = emulator.oauth.client_secret
    settings.DISCORD_OAUTH_AUTHORIZE_URL = emulator.oauth_authorize_url
    settings.DISCORD_OAUTH_REDIRECT_URL = f"http://testserver{REDIRECT_PATH}"
    settings.DISCORD_API_BASE_URL = emulator.base_url
    return Cast(emulator, a, b, mod_a, mod_b, member_a)


@dataclass
class World:
    guild_a: Guild
    guild_b: Guild
    market_a: Market
    market_b: Market
    member_a: Member
    member_b: Member


def make_world(cast: Cast) -> World:
    """Markets, trades, positions, grants (ledger + audit), DRIP transfers, seasons in A and B."""
    guilds = {}
    for setup, word in ((cast.a, "alpha"), (cast.b, "bravo")):
        guild = GuildFactory(id=setup.guild_id, name=setup.name)
        Guild.objects.filter(pk=guild.pk).update(moderator_role_id=setup.moderator_role_id)
        creator = member_ensure(
            guild_id=guild.pk, discord_id=setup.owner_id, display_name=f"{word}-owner"
        )
        trader = member_ensure(
            guild_id=guild.pk, discord_id=setup.owner_id + 1, display_name=f"{word}-trader"
        )
        market = open_market(
            creator,
            question=f"Will the {word} bridge open?",
            category=f"{word}-category",
            duration=timedelta(days=2),
        )
        bet_place(
            member=trader,
            market_id=market.pk,
            outcome_index=0,
            amount=120,
            idempotency_key=f"{word}-bet-{guild.pk}",
            bypass_rate_limit=True,
        )
        points_grant(member=trader, amount=5, reason=f"{word} grant", actor=f"admin:{word}")
        DripTransfer.objects.create(
            guild=guild,
            member=trader,
            amount=7,
            purpose="payout",
            subject=f"{word} subject",
            idempotency_key=f"{word}-drip-{guild.pk}",
            status=DripTransferStatus.AMBIGUOUS,
            attempts=1,
            sent_at=timezone.now(),
        )
        for number in (1, 2):  # season 1 ended (its standings archived), season 2 open
            season_start(
                guild_id=guild.pk,
                actor=f"admin:{word}",
                is_moderator=True,
                reset=False,
                idempotency_key=f"{word}-season-{number}-{guild.pk}",
            )
        guilds[word] = (guild.__class__.objects.get(pk=guild.pk), market, trader)
    return World(
        guild_a=guilds["alpha"][0],
        guild_b=guilds["bravo"][0],
        market_a=guilds["alpha"][1],
        market_b=guilds["bravo"][1],
        member_a=guilds["alpha"][2],
        member_b=guilds["bravo"][2],
    )


def sign_in(cast: Cast, persona: Persona, client: Client | None = None) -> Client:
    """The whole OAuth2 flow through the emulator, as a browser would follow it."""
    client = client or Client()
    cast.emulator.oauth.signed_in(persona)
    client.get("/")
    token = client.cookies["csrftoken"].value
    start = client.post(reverse("discord_login"), {"csrfmiddlewaretoken": token})
    assert start.status_code == 302, start.content[:300]
    consent = requests.get(start["Location"], allow_redirects=False, timeout=5)
    assert consent.status_code == 302, consent.text
    back = urlsplit(consent.headers["Location"])
    assert back.path == REDIRECT_PATH
    done = client.get(f"{back.path}?{back.query}")
    assert done.status_code == 302, done.content[:500]
    return client


def operator_client() -> Client:
    users = get_user_model()
    root = users.objects.filter(username="root").first() or users.objects.create_superuser(
        "root", "root@example.com", "pw"
    )
    client = Client()
    client.force_login(root)
    return client
