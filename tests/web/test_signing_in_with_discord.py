"""Sign in with Discord: the whole authorization-code flow, through the emulator."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from markets.voters import staff_voter
from predictmarket.models import StaffDiscordLink
from tests.web.conftest import DiscordSignIn


def _signed_in_user(client: Client) -> Any:
    user_id = client.session.get("_auth_user_id")
    return get_user_model().objects.get(pk=user_id) if user_id else None


def test_it_signs_in_and_links_the_discord_user(discord_signin: DiscordSignIn) -> None:
    client = Client()
    confirm = client.get(reverse("discord_login"))
    assert confirm.status_code == 200
    assert b"Continue to Discord" in confirm.content  # a GET never leaves the site

    authorize = discord_signin.to_discord(client)
    assert "scope=identify+guilds+guilds.members.read" in authorize or all(
        scope in authorize for scope in ("identify", "guilds", "guilds.members.read")
    )
    assert "state=" in authorize
    response = client.get(discord_signin.consent(authorize))

    assert response.status_code == 302
    assert response["Location"] == "/"
    user = _signed_in_user(client)
    assert user is not None
    alice = discord_signin.alice
    assert StaffDiscordLink.objects.get(user=user).discord_id == alice.user_id
    # One person, one vote: this web user votes as that Discord user.
    assert staff_voter(user) == f"discord:{alice.user_id}"
    token_calls = [r for r in discord_signin.emulator.requests if r.path == "/oauth2/token"]
    assert token_calls and token_calls[-1].status == 200
    assert client.get("/").content.count(alice.username.encode()) >= 1


def test_signing_in_again_is_the_same_user(discord_signin: DiscordSignIn) -> None:
    first = Client()
    discord_signin.sign_in(first)
    second = Client()
    discord_signin.sign_in(second)
    assert _signed_in_user(first) == _signed_in_user(second)
    assert StaffDiscordLink.objects.filter(discord_id=discord_signin.alice.user_id).count() == 1


def test_it_rotates_the_session_key_at_login(discord_signin: DiscordSignIn) -> None:
    client = Client()
    authorize = discord_signin.to_discord(client)  # the session now holds the OAuth state
    before = client.session.session_key
    assert before
    client.get(discord_signin.consent(authorize))
    after = client.session.session_key
    assert _signed_in_user(client) is not None
    assert after != before


def test_it_does_not_redirect_to_another_site(discord_signin: DiscordSignIn) -> None:
    client = Client()
    response = discord_signin.sign_in(client, next_url="https://elsewhere.example/steal")
    assert response.status_code == 302
    assert "elsewhere.example" not in response["Location"]
    assert response["Location"] == "/"
    assert _signed_in_user(client) is not None


def test_it_redirects_to_a_page_of_this_site(discord_signin: DiscordSignIn) -> None:
    client = Client()
    response = discord_signin.sign_in(client, next_url="/g/1/leaderboard/")
    assert response.status_code == 302
    assert response["Location"] == "/g/1/leaderboard/"


def test_it_refuses_a_discord_user_linked_to_another_user(
    discord_signin: DiscordSignIn,
) -> None:
    operator = get_user_model().objects.create_user("operator", is_staff=True)
    StaffDiscordLink.objects.create(user=operator, discord_id=discord_signin.alice.user_id)
    users_before = get_user_model().objects.count()

    client = Client()
    response = discord_signin.sign_in(client)

    assert response.status_code == 409
    assert b"already linked to another user" in response.content
    assert _signed_in_user(client) is None
    assert get_user_model().objects.count() == users_before
    assert StaffDiscordLink.objects.get(discord_id=discord_signin.alice.user_id).user == operator


def test_logout_takes_a_post(discord_signin: DiscordSignIn) -> None:
    client = Client(enforce_csrf_checks=True)
    discord_signin.sign_in(client)
    assert _signed_in_user(client) is not None

    page = client.get(reverse("account_logout"))
    assert page.status_code == 200
    assert _signed_in_user(client) is not None  # a link or a prefetch does not log out

    client.get("/")  # the landing page's form carries the CSRF token
    token = client.cookies["csrftoken"].value
    response = client.post(reverse("account_logout"), HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert _signed_in_user(client) is None
