"""Discord's OAuth2 authorization-code flow, for "Sign in with Discord" on the web.

``GET /oauth2/authorize`` stands for Discord's consent page: the person the test
says is signed in to Discord in this browser (``signed_in``) either allows the
application (a redirect back with ``code`` and ``state``) or denies it
(``deny_next``: ``error=access_denied``). ``POST /api/v10/oauth2/token``
exchanges a code once, for the redirect URI it was issued to and with the
client's secret, as Discord does; ``GET /api/v10/users/@me`` and
``/users/@me/guilds`` (and ``/users/@me/guilds/{guild_id}/member``) answer to
that user's Bearer token (never to the bot's).
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from aiohttp import web

from tests.discord_emulator.model import Persona

if TYPE_CHECKING:
    from tests.discord_emulator.server import DiscordEmulator

TOKEN_LIFETIME_SECONDS = 604_800  # Discord's access tokens last a week


@dataclass
class Grant:
    persona: Persona
    client_id: str
    redirect_uri: str
    scope: str


def _oauth_error(status: int, code: str, description: str) -> web.Response:
    return web.json_response({"error": code, "error_description": description}, status=status)


class OAuth:
    def __init__(self, emulator: DiscordEmulator) -> None:
        self.emu = emulator
        self.client_id = str(emulator.application_id)
        self.client_secret = "secret." + secrets.token_urlsafe(16)
        self.user: Persona | None = None
        self._deny = False
        self._codes: dict[str, Grant] = {}
        self._tokens: dict[str, Grant] = {}

    # -- what the test says the person does on Discord's consent page -----------
    def signed_in(self, persona: Persona) -> None:
        with self.emu.lock:
            self.user = persona
            self._deny = False

    def deny_next(self) -> None:
        with self.emu.lock:
            self._deny = True

    def persona_for(self, authorization: str | None) -> Persona | None:
        """The user a ``Bearer`` user token belongs to (a bot token is not one)."""
        if not authorization or not authorization.startswith("Bearer "):
            return None
        grant = self._tokens.get(authorization.removeprefix("Bearer "))
        return grant.persona if grant else None

    def scopes_for(self, authorization: str | None) -> set[str]:
        """The scopes the person granted with the token in ``authorization``."""
        token = (authorization or "").removeprefix("Bearer ")
        grant = self._tokens.get(token)
        return set(grant.scope.split()) if grant else set()

    # -- GET /oauth2/authorize (Discord's web page, not its API) ----------------
    async def authorize(self, request: web.Request) -> web.Response:
        query = request.query
        redirect_uri = query.get("redirect_uri", "")
        if query.get("client_id") != self.client_id:
            return web.Response(status=400, text="Unknown application (client_id)")
        if query.get("response_type") != "code":
            return web.Response(status=400, text="response_type must be code")
        if urlsplit(redirect_uri).scheme not in {"http", "https"}:
            return web.Response(status=400, text="Invalid OAuth2 redirect_uri")
        scopes = set(query.get("scope", "").split())
        if not scopes or not scopes <= {"identify", "guilds", "guilds.members.read", "email"}:
            return web.Response(status=400, text=f"Invalid scope {query.get('scope')!r}")
        state = {"state": query["state"]} if "state" in query else {}
        with self.emu.lock:
            deny, self._deny = self._deny, False
            persona = self.user
        if deny or persona is None:
            params = {
                "error": "access_denied",
                "error_description": "The resource owner or "
                "authorization server denied the request",
                **state,
            }
        else:
            code = secrets.token_urlsafe(20)
            self._codes[code] = Grant(persona, self.client_id, redirect_uri, query["scope"])
            params = {"code": code, **state}
        separator = "&" if "?" in redirect_uri else "?"
        raise web.HTTPFound(f"{redirect_uri}{separator}{urlencode(params)}")

    # -- POST /api/v10/oauth2/token ----------------------------------------------
    async def token(self, request: web.Request, body: Any) -> web.Response:
        if not request.headers.get("Content-Type", "").startswith(
            "application/x-www-form-urlencoded"
        ):
            return _oauth_error(400, "invalid_request", "the body must be form-encoded")
        form = body if isinstance(body, dict) else {}
        client_id, secret = form.get("client_id"), form.get("client_secret")
        basic = request.headers.get("Authorization", "")
        if basic.startswith("Basic "):
            client_id, _, secret = base64.b64decode(basic[6:]).decode().partition(":")
        if client_id != self.client_id or secret != self.client_secret:
            return _oauth_error(401, "invalid_client", "Invalid client")
        if form.get("grant_type") != "authorization_code":
            return _oauth_error(400, "unsupported_grant_type", "Unsupported grant type")
        grant = self._codes.pop(form.get("code", ""), None)  # a code is good once
        if grant is None or grant.redirect_uri != form.get("redirect_uri"):
            return _oauth_error(400, "invalid_grant", 'Invalid "code" in request.')
        access_token = secrets.token_urlsafe(24)
        self._tokens[access_token] = grant
        return web.json_response(
            {
                "access_token": access_token,
                "token_type": "Bearer",
                "expires_in": TOKEN_LIFETIME_SECONDS,
                "refresh_token": secrets.token_urlsafe(24),
                "scope": grant.scope,
            }
        )

    def my_guilds(self, persona: Persona) -> list[dict[str, Any]]:
        """``GET /users/@me/guilds``: the partial guilds this person is a member of."""
        return [
            {
                "id": str(guild.guild_id),
                "name": guild.name,
                "icon": None,
                "banner": None,
                "owner": guild.owner_id == persona.user_id,
                "permissions": str(guild.members[persona.user_id].permissions),
                "features": [],
            }
            for guild in self.emu.guilds
            if persona.user_id in guild.members
        ]
