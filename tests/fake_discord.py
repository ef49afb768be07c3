"""A fake Discord HTTP API on loopback: the routes the web asks about a member.

``GET /api/v10/guilds/{guild_id}/members/{user_id}`` answers the member's role
ids (404 ``Unknown Member`` when they are not in the guild) and ``GET
/api/v10/guilds/{guild_id}`` the guild's owner and roles with their permission
bits, as Discord does (permissions are decimal strings). Both insist on the
bot token. With a person's own OAuth token (``user_token``), ``GET
/api/v10/users/@me/guilds`` lists their servers (``owner``, ``permissions``) and
``GET /api/v10/users/@me/guilds/{guild_id}/member`` their roles in one. Tests
change roles between requests, script failures (a status, a ``Retry-After``, a
delay past the client's timeout) and count the requests.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

MEMBER = re.compile(r"^/api/v10/guilds/(?P<guild>\d+)/members/(?P<user>\d+)$")
GUILD = re.compile(r"^/api/v10/guilds/(?P<guild>\d+)$")
MY_GUILDS = re.compile(r"^/api/v10/users/@me/guilds$")
MY_MEMBER = re.compile(r"^/api/v10/users/@me/guilds/(?P<guild>\d+)/member$")

MANAGE_GUILD = 0x20
ADMINISTRATOR = 0x8


@dataclass
class Fault:
    status: int | None = None
    retry_after: float | None = None
    delay: float = 0.0
    body: Any = None  # answer this instead (with ``status``, default 200)


@dataclass
class FakeGuild:
    owner_id: int = 1
    role_permissions: dict[int, int] = field(default_factory=dict)  # role id -> bits
    members: dict[int, list[int]] = field(default_factory=dict)  # user id -> role ids


@dataclass
class FakeDiscord:
    token: str = "fake-bot-token"
    guilds: dict[int, FakeGuild] = field(default_factory=dict)
    faults: deque[Fault] = field(default_factory=deque)
    requests: list[str] = field(default_factory=list)
    down: bool = False  # every request answers 503
    unknown_guilds: set[int] = field(default_factory=set)  # servers the bot is not in
    user_tokens: dict[str, int] = field(default_factory=dict)  # OAuth token -> user id
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        """Forget everything but the token and the socket (one server serves many tests)."""
        with self.lock:
            self.guilds.clear()
            self.faults.clear()
            self.requests.clear()
            self.unknown_guilds.clear()
            self.user_tokens.clear()
            self.down = False

    # -- what Discord knows -------------------------------------------------------
    def guild(self, guild_id: int) -> FakeGuild:
        """Any server the bot is in; members nobody added are not members."""
        # @everyone (whose id is the guild's) grants nothing unless a test says so.
        return self.guilds.setdefault(guild_id, FakeGuild(role_permissions={guild_id: 0}))

    def add_role(self, guild_id: int, role_id: int, permissions: int = 0) -> None:
        self.guild(guild_id).role_permissions[role_id] = permissions

    def add_member(self, guild_id: int, user_id: int, roles: list[int] | None = None) -> None:
        guild = self.guild(guild_id)
        for role in roles or []:
            guild.role_permissions.setdefault(role, 0)
        guild.members[user_id] = list(roles or [])

    def set_roles(self, guild_id: int, user_id: int, roles: list[int]) -> None:
        self.guild(guild_id).members[user_id] = list(roles)

    def user_token(self, user_id: int) -> str:
        """A person's OAuth2 access token, as signing in with Discord would give them."""
        token = f"user-token-{user_id}"
        self.user_tokens[token] = user_id
        return token

    def remove_member(self, guild_id: int, user_id: int) -> None:
        self.guild(guild_id).members.pop(user_id, None)

    def fail_next(self, **kwargs: Any) -> None:
        self.faults.append(Fault(**kwargs))

    def requests_to(self, path: str) -> int:
        return sum(1 for p in self.requests if p == path)

    # -- the server ---------------------------------------------------------------
    def start(self) -> str:
        """Serve on a free loopback port; returns the base URL, ``…/api/v10``."""
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:
                fake._handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()
        return f"http://127.0.0.1:{self.server.server_port}/api/v10"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        path = urlsplit(handler.path).path
        with self.lock:
            self.requests.append(path)
            fault = self.faults.popleft() if self.faults else None
        if fault and fault.delay:
            time.sleep(fault.delay)
        if self.down:
            return self._json(handler, 503, {"message": "upstream connect error", "code": 0})
        if fault and fault.body is not None:
            return self._json(handler, fault.status or 200, fault.body)
        if fault and fault.status:
            headers = {}
            body: dict[str, Any] = {"message": "scripted failure", "code": 0}
            if fault.retry_after is not None:
                headers["Retry-After"] = str(fault.retry_after)
                body = {"message": "You are being rate limited.", "retry_after": fault.retry_after}
                body["global"] = False
            return self._json(handler, fault.status, body, headers)
        if MY_GUILDS.match(path) or MY_MEMBER.match(path):
            return self._user_route(handler, path)
        if handler.headers.get("Authorization") != f"Bot {self.token}":
            return self._json(handler, 401, {"message": "401: Unauthorized", "code": 0})
        match = MEMBER.match(path) or GUILD.match(path)
        if match and int(match["guild"]) in self.unknown_guilds:
            return self._json(handler, 404, {"message": "Unknown Guild", "code": 10004})
        if match := MEMBER.match(path):
            guild = self.guild(int(match["guild"]))
            roles = guild.members.get(int(match["user"]))
            if roles is None:
                return self._json(handler, 404, {"message": "Unknown Member", "code": 10007})
            user = {"id": match["user"], "username": f"user{match['user']}"}
            return self._json(handler, 200, {"user": user, "roles": [str(r) for r in roles]})
        if match := GUILD.match(path):
            guild = self.guild(int(match["guild"]))
            roles = [
                {"id": str(role), "name": f"role {role}", "permissions": str(bits)}
                for role, bits in guild.role_permissions.items()
            ]
            body = {"id": match["guild"], "owner_id": str(guild.owner_id), "roles": roles}
            return self._json(handler, 200, body)
        return self._json(handler, 404, {"message": "404: Not Found", "code": 0})

    def _user_route(self, handler: BaseHTTPRequestHandler, path: str) -> None:
        scheme, _, token = (handler.headers.get("Authorization") or "").partition(" ")
        user_id = self.user_tokens.get(token) if scheme == "Bearer" else None
        if user_id is None:
            return self._json(handler, 401, {"message": "401: Unauthorized", "code": 0})
        if match := MY_MEMBER.match(path):
            guild_id = int(match["guild"])
            roles = self.guilds[guild_id].members.get(user_id) if guild_id in self.guilds else None
            if roles is None:
                return self._json(handler, 404, {"message": "Unknown Guild", "code": 10004})
            user = {"id": str(user_id), "username": f"user{user_id}"}
            return self._json(handler, 200, {"user": user, "roles": [str(r) for r in roles]})
        listed = []
        for guild_id, guild in self.guilds.items():
            roles = guild.members.get(user_id)
            if roles is None or guild_id in self.unknown_guilds:
                continue
            bits = guild.role_permissions.get(guild_id, 0)  # @everyone
            for role in roles:
                bits |= guild.role_permissions.get(role, 0)
            listed.append(
                {
                    "id": str(guild_id),
                    "name": f"guild {guild_id}",
                    "owner": guild.owner_id == user_id,
                    "permissions": str(bits),
                }
            )
        return self._json(handler, 200, listed)

    def _json(
        self,
        handler: BaseHTTPRequestHandler,
        status: int,
        payload: Any,
        headers: dict[str, str] | None = None,
    ) -> None:
        data = json.dumps(payload).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        # The client may have given up (a timeout test): nothing to answer then.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            handler.wfile.write(data)
