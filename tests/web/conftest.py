"""Signing in with Discord through the Discord emulator's OAuth2 routes.

The Django test client plays the browser on this site; ``requests`` plays it on
Discord's consent page (the emulator), which answers with the redirect back to
our callback, exactly as a browser would follow it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

import pytest
import requests
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse
from pytest_django import Settings

from tests.discord_emulator import DiscordEmulator, GuildSetup, Persona

REDIRECT_URL = "http://testserver/accounts/discord/login/callback/"


@dataclass
class DiscordSignIn:
    emulator: DiscordEmulator
    alice: Persona

    def to_discord(self, client: Client, *, next_url: str | None = None) -> str:
        """Press "Sign in with Discord"; the URL of Discord's consent page we are sent to."""
        landing = client.get("/")  # the button is a POST form with the CSRF token
        assert f'action="{reverse("discord_login")}"'.encode() in landing.content
        url = reverse("discord_login")
        if next_url is not None:
            url += "?" + urlencode({"next": next_url})
        token = client.cookies["csrftoken"].value
        response = client.post(url, {"csrfmiddlewaretoken": token})
        assert response.status_code == 302, response.content[:500]
        assert response["Location"].startswith(self.emulator.oauth_authorize_url + "?")
        return response["Location"]

    def consent(self, authorize_url: str) -> str:
        """What Discord's consent page redirects the browser to (our callback, with its query)."""
        answer = requests.get(authorize_url, allow_redirects=False, timeout=5)
        assert answer.status_code == 302, answer.text
        location = answer.headers["Location"]
        assert location.startswith(REDIRECT_URL)
        parts = urlsplit(location)
        return f"{parts.path}?{parts.query}"

    def sign_in(self, client: Client, *, next_url: str | None = None) -> HttpResponse:
        return client.get(self.consent(self.to_discord(client, next_url=next_url)))


@pytest.fixture(scope="session")
def _oauth_emulator() -> Iterator[DiscordEmulator]:
    with DiscordEmulator([GuildSetup(name="Alice's guild")]) as emulator:
        yield emulator


@pytest.fixture
def discord_signin(_oauth_emulator: DiscordEmulator, settings: Settings, db: None) -> DiscordSignIn:
    """Sign-in configured against the emulator, with alice signed in to Discord there."""
    emulator = _oauth_emulator
    settings.DISCORD_OAUTH_CLIENT_ID = emulator.oauth.client_id
    settings.DISCORD_OAUTH_CLIENT_SECRET = emulator.oauth.client_secret
    settings.DISCORD_OAUTH_AUTHORIZE_URL = emulator.oauth_authorize_url
    settings.DISCORD_OAUTH_REDIRECT_URL = REDIRECT_URL
    settings.DISCORD_API_BASE_URL = emulator.base_url
    alice = emulator.guild.member(f"alice{len(emulator.guild.members)}")
    emulator.oauth.signed_in(alice)
    return DiscordSignIn(emulator, alice)
