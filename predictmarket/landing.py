"""The landing page at ``/``: what this is, signing in, and the bot's invite link."""

from __future__ import annotations

from urllib.parse import quote, urlencode

import nextcord
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from predictmarket.discord_login.views import signin_configured

# What the bot needs in a channel (README, "The Discord application"): read and post
# there, embed its market cards, attach price charts, and read the history to edit
# its live market messages.
BOT_PERMISSIONS = nextcord.Permissions(
    view_channel=True,
    send_messages=True,
    embed_links=True,
    attach_files=True,
    read_message_history=True,
)


def bot_invite_url(client_id: str) -> str:
    query = urlencode(
        {
            "client_id": client_id,
            "scope": "bot applications.commands",
            "permissions": BOT_PERMISSIONS.value,
        },
        quote_via=quote,  # %20 between the scopes, as Discord's own generator writes
    )
    return f"https://discord.com/oauth2/authorize?{query}"


def landing(request: HttpRequest) -> HttpResponse:
    client_id = settings.DISCORD_OAUTH_CLIENT_ID
    link = getattr(request.user, "discord_link", None) if request.user.is_authenticated else None
    return render(
        request,
        "site/landing.html",
        {
            "signin_configured": signin_configured(),
            "invite_url": bot_invite_url(client_id) if client_id else "",
            "discord_id": link.discord_id if link is not None else None,
        },
    )
