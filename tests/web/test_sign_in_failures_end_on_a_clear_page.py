"""Every way Discord sign-in can fail ends on a page that says so, signed out, never a 500."""

from __future__ import annotations

import re
import socket

from django.contrib.auth import get_user_model
from django.test import Client
from pytest_django import Settings

from predictmarket.models import StaffDiscordLink
from tests.web.conftest import DiscordSignIn


def _assert_signed_out_and_nothing_made(client: Client) -> None:
    assert "_auth_user_id" not in client.session
    assert get_user_model().objects.count() == 0
    assert StaffDiscordLink.objects.count() == 0


def test_a_forged_state_is_refused(discord_signin: DiscordSignIn) -> None:
    client = Client()
    callback = discord_signin.consent(discord_signin.to_discord(client))
    forged = re.sub(r"state=[^&]+", "state=forged", callback)
    response = client.get(forged)
    assert response.status_code == 401
    assert b"did not match a sign-in started here" in response.content
    _assert_signed_out_and_nothing_made(client)


def test_a_callback_from_another_browser_is_refused(discord_signin: DiscordSignIn) -> None:
    # The state lives in the session that started the sign-in: a callback URL
    # replayed in another browser (login CSRF) finds no state there.
    callback = discord_signin.consent(discord_signin.to_discord(Client()))
    victim = Client()
    response = victim.get(callback)
    assert response.status_code == 401
    _assert_signed_out_and_nothing_made(victim)


def test_denied_consent_says_so(discord_signin: DiscordSignIn) -> None:
    client = Client()
    authorize = discord_signin.to_discord(client)
    discord_signin.emulator.oauth.deny_next()
    response = client.get(discord_signin.consent(authorize), follow=True)
    assert response.status_code == 200
    assert b"Sign-in cancelled" in response.content
    assert b"did not allow this site" in response.content
    _assert_signed_out_and_nothing_made(client)


def test_discord_token_endpoint_down_says_so(discord_signin: DiscordSignIn) -> None:
    client = Client()
    callback = discord_signin.consent(discord_signin.to_discord(client))
    discord_signin.emulator.fail_next("POST", "/oauth2/token", status=503)
    response = client.get(callback)
    assert response.status_code == 401
    assert b"Discord could not be reached" in response.content
    _assert_signed_out_and_nothing_made(client)


def test_discord_unreachable_says_so(discord_signin: DiscordSignIn, settings: Settings) -> None:
    client = Client()
    callback = discord_signin.consent(discord_signin.to_discord(client))
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    settings.DISCORD_API_BASE_URL = f"http://127.0.0.1:{port}/api/v10"
    response = client.get(callback)
    assert response.status_code == 401
    assert b"Discord could not be reached" in response.content
    _assert_signed_out_and_nothing_made(client)


def test_a_rejected_user_token_says_so(discord_signin: DiscordSignIn) -> None:
    client = Client()
    callback = discord_signin.consent(discord_signin.to_discord(client))
    discord_signin.emulator.fail_next("GET", "/users/@me$", status=401)
    response = client.get(callback)
    assert response.status_code == 401
    assert b"Discord could not be reached" in response.content
    _assert_signed_out_and_nothing_made(client)


def test_not_configured_says_so(settings: Settings, db: None) -> None:
    settings.DISCORD_OAUTH_CLIENT_ID = ""
    settings.DISCORD_OAUTH_CLIENT_SECRET = ""
    client = Client()
    for response in (
        client.get("/accounts/discord/login/"),
        client.post("/accounts/discord/login/"),
        client.get("/accounts/discord/login/callback/?code=x&state=y"),
    ):
        assert response.status_code == 503
        assert b"Sign-in with Discord is not configured" in response.content
