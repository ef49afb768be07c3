"""The page at ``/``: what this is, sign-in (or why not), and the bot's invite link."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import nextcord
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from pytest_django import Settings

from predictmarket.landing import BOT_PERMISSIONS, bot_invite_url
from tests.web.conftest import DiscordSignIn

README = Path(__file__).resolve().parents[2] / "README.md"


def test_signed_out_it_offers_sign_in_and_the_invite(discord_signin: DiscordSignIn) -> None:
    response = Client().get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Prediction markets for your Discord server" in html
    assert f'action="{reverse("discord_login")}"' in html  # a POST form, with CSRF
    assert "Sign in with Discord" in html
    assert "Log out" not in html
    assert 'href="https://discord.com/oauth2/authorize?client_id=' in html


def test_signed_in_it_shows_who_and_log_out(discord_signin: DiscordSignIn) -> None:
    client = Client()
    discord_signin.sign_in(client)
    html = client.get("/").content.decode()
    assert f"You are signed in as <strong>{discord_signin.alice.username}</strong>" in html
    assert str(discord_signin.alice.user_id) in html
    assert f'action="{reverse("account_logout")}"' in html
    assert "Log out" in html
    assert ">Sign in with Discord<" not in html


def test_not_configured_it_says_so(settings: Settings, db: None) -> None:
    settings.DISCORD_OAUTH_CLIENT_ID = ""
    settings.DISCORD_OAUTH_CLIENT_SECRET = ""
    response = Client().get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Sign-in with Discord is not configured" in html
    assert "DISCORD_OAUTH_CLIENT_ID" in html
    assert "oauth2/authorize" not in html


def test_the_invite_link_asks_for_the_readmes_permissions() -> None:
    # README, "The Discord application": the permissions it tells operators to grant.
    section = README.read_text().split("## The Discord application", 1)[1].split("\n## ", 1)[0]
    invite_step = section.split("3. Invite it", 1)[1].split("\n4. ", 1)[0]
    named = re.findall(r"\*([A-Z][A-Za-z ]+)\*", " ".join(invite_step.split()))
    names = [n for n in named if n != "Mention Everyone"]  # optional, for pings only
    assert names == [
        "View Channels",
        "Send Messages",
        "Embed Links",
        "Attach Files",
        "Read Message History",
    ]
    attribute = {"View Channels": "view_channel"}
    expected = nextcord.Permissions(
        **{attribute.get(n, n.lower().replace(" ", "_")): True for n in names}
    )
    assert expected == BOT_PERMISSIONS
    assert BOT_PERMISSIONS.value == 1024 + 2048 + 16384 + 32768 + 65536 == 117760

    url = bot_invite_url("123456789012345678")
    assert url == (
        "https://discord.com/oauth2/authorize?client_id=123456789012345678"
        "&scope=bot%20applications.commands&permissions=117760"
    )
    query = parse_qs(urlsplit(url).query)
    assert query["scope"] == ["bot applications.commands"]


def test_a_staff_user_not_linked_to_discord_sees_it_too(discord_signin: DiscordSignIn) -> None:
    operator = get_user_model().objects.create_user("operator", is_staff=True)
    client = Client()
    client.force_login(operator)
    html = client.get("/").content.decode()
    assert "You are signed in as <strong>operator</strong>." in html
