"""``DiscordEmulator``: Discord's gateway and HTTP API on a loopback port, for one real bot.

It runs its own event loop on a background thread, so a synchronous test (or
``python -m tests.discord_emulator``) drives it with plain calls: the member's
actions (``slash``, ``click``, ``select``, ``submit``, ``autocomplete``), the
network's misbehaviour (``fail_next``, ``drop_gateway``, ``advance``), and
what the bot did (``requests``, ``messages``, ``interactions``, ``violations``,
``wait_for``).
"""

from __future__ import annotations

import asyncio
import copy
import mimetypes
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from aiohttp import web

from tests.discord_emulator import interactions as ix
from tests.discord_emulator.gateway import Gateway
from tests.discord_emulator.model import MANAGE_GUILD, GuildSetup, Persona, iso_now, snowflake
from tests.discord_emulator.oauth import OAuth
from tests.discord_emulator.rest import Failure, RecordedRequest, Rest
from tests.discord_emulator.spec import DiscordSpec

T = TypeVar("T")


class EmulatorTimeout(AssertionError):
    """What a test waited for did not happen; the message says what the bot did instead."""


class DiscordEmulator:
    def __init__(
        self,
        guilds: Iterable[GuildSetup] = (),
        *,
        token: str | None = None,
        heartbeat_interval_ms: int = 5_000,
        recommended_shards: int = 1,
        spec: DiscordSpec | None = None,
        echo: bool = False,
    ) -> None:
        self.spec = spec or DiscordSpec()
        self.guilds = list(guilds) or [GuildSetup()]
        self.token = token or "emulator." + secrets.token_urlsafe(24)
        self.application_id = snowflake()
        self.bot_user = {
            "id": str(self.application_id),
            "username": "PredictBot",
            "discriminator": "0",
            "global_name": None,
            "avatar": None,
            "bot": True,
            "flags": 0,
            "verified": True,
            "mfa_enabled": False,
        }
        self.echo = echo  # print each request and violation (the standalone emulator)
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.recommended_shards = recommended_shards
        self.lock = threading.RLock()
        self.requests: list[RecordedRequest] = []
        self.commands: dict[int | None, dict[int, dict[str, Any]]] = {}
        self.messages: dict[int, dict[str, Any]] = {}
        # Direct messages: each user's DM channel with the bot (made on the first
        # ``POST /users/@me/channels``), and the users who do not accept DMs from it.
        self.dm_channels: dict[int, int] = {}
        self.dms_closed: set[int] = set()
        # Threads the bot started, by id (a thread started from a message has its id).
        self.threads: dict[int, dict[str, Any]] = {}
        self.interactions: dict[int, ix.InteractionRecord] = {}
        self.violations: list[str] = []
        self._failures: list[Failure] = []
        self._offset = 0.0  # advance(): the emulator's clock runs ahead of the wall clock
        self.gateway = Gateway(self)
        self.oauth = OAuth(self)  # before Rest: its OAuth2 routes answer from it
        self.rest = Rest(self)
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    # -- lifecycle ---------------------------------------------------------------
    @property
    def base_url(self) -> str:
        """What ``DISCORD_API_BASE_URL`` (``nextcord.http.Route.BASE``) is set to."""
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def oauth_authorize_url(self) -> str:
        """What ``DISCORD_OAUTH_AUTHORIZE_URL`` is set to (Discord's consent page)."""
        return f"http://127.0.0.1:{self.port}/oauth2/authorize"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    @property
    def guild(self) -> GuildSetup:
        return self.guilds[0]

    def start(self, port: int = 0) -> DiscordEmulator:
        ready = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self._start(port))
            except BaseException as exc:  # noqa: BLE001 - reported to the starting thread
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._stop())
            loop.close()

        self._thread = threading.Thread(target=serve, name="discord-emulator", daemon=True)
        self._thread.start()
        ready.wait(30)
        if failure:
            raise failure[0]
        return self

    async def _start(self, port: int) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self.gateway.handle)
        app.router.add_get("/oauth2/authorize", self.oauth.authorize)
        app.router.add_route("*", "/api/v10/{tail:.*}", self.rest.handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def _stop(self) -> None:
        await self.gateway.drop(code=1001)
        if self._runner is not None:
            await self._runner.cleanup()

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(15)
        self._loop = None

    def __enter__(self) -> DiscordEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def run(self, coroutine: Any, timeout: float = 15) -> Any:
        """Run a coroutine on the emulator's loop from a test thread."""
        assert self._loop is not None, "the emulator is not running"
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    # -- time --------------------------------------------------------------------
    def clock(self) -> float:
        return time.monotonic() + self._offset

    def advance(self, seconds: float) -> None:
        """Let Discord's clock run ahead (token lifetimes), without waiting."""
        self._offset += seconds

    # -- recording (called on the emulator's loop) -------------------------------
    def record(
        self, method: str, path: str, query: dict[str, str], body: Any, files: list[dict[str, Any]]
    ) -> RecordedRequest:
        with self.lock:
            recorded = RecordedRequest(
                len(self.requests), method, path, query, body, files, self.clock()
            )
            self.requests.append(recorded)
        if self.echo:
            print(f"{method} {path}", flush=True)
        return recorded

    def violation(self, text: str) -> None:
        with self.lock:
            self.violations.append(text)
        if self.echo:
            print(f"VIOLATION: {text}", flush=True)

    def take_failure(self, method: str, path: str) -> Failure | None:
        with self.lock:
            for failure in self._failures:
                if failure.method == method and failure.path.search(path):
                    failure.count -= 1
                    if failure.count <= 0:
                        self._failures.remove(failure)
                    return failure
        return None

    def guild_by_id(self, guild_id: int) -> GuildSetup | None:
        return next((g for g in self.guilds if g.guild_id == guild_id), None)

    def channel_exists(self, channel_id: int) -> bool:
        """A guild's text channel, a thread in one (threads are channels too), or a DM channel."""
        return (
            channel_id in self.threads
            or any(channel_id in g.channel_ids for g in self.guilds)
            or channel_id in self.dm_channels.values()
        )

    def channel_messages(self, channel_id: int) -> list[dict[str, Any]]:
        """Every message in a channel or thread, oldest first (copies)."""
        with self.lock:
            found = [m for m in self.messages.values() if m["channel_id"] == str(channel_id)]
            return copy.deepcopy(sorted(found, key=lambda m: int(m["id"])))

    def persona_by_user_id(self, user_id: int) -> Persona | None:
        """The user as a member of the first emulated guild they are in (None: no such user)."""
        return next((g.members[user_id] for g in self.guilds if user_id in g.members), None)

    def dm_recipient(self, channel_id: int) -> int | None:
        """Who a DM channel is with; None for a guild channel."""
        return next((u for u, c in self.dm_channels.items() if c == channel_id), None)

    def close_dms(self, persona: Persona) -> None:
        """The user turned off DMs from server members: messages to them answer 403 (50007)."""
        with self.lock:
            self.dms_closed.add(persona.user_id)

    def direct_messages(self, persona: Persona) -> list[dict[str, Any]]:
        """Messages the bot sent to this user's DM channel, oldest first."""
        with self.lock:
            channel_id = self.dm_channels.get(persona.user_id)
            return [
                copy.deepcopy(m)
                for m in self.messages.values()
                if channel_id is not None and m["channel_id"] == str(channel_id)
            ]

    def _attachments(self, channel_id: int, files: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Attachment objects for uploaded files, as Discord makes them."""
        made = []
        for file in files:
            attachment_id = snowflake()
            url = f"https://cdn.discordapp.com/attachments/{channel_id}/{attachment_id}/{file['filename']}"
            attachment = {
                "id": str(attachment_id),
                "filename": file["filename"],
                "size": file["size"],
                "url": url,
                "proxy_url": url,
                # Discord types a file by its content, whatever the part said
                # (nextcord sends every file as application/octet-stream).
                "content_type": detected_content_type(file),
            }
            if file.get("description"):
                attachment["description"] = file["description"]
            made.append(attachment)
        return made

    def new_message(
        self,
        channel_id: int,
        body: dict[str, Any],
        files: list[dict[str, Any]],
        *,
        flags: int,
        interaction: ix.InteractionRecord | None = None,
    ) -> dict[str, Any]:
        message_id = snowflake()
        message: dict[str, Any] = {
            "id": str(message_id),
            "channel_id": str(channel_id),
            "type": 0 if interaction is None else 20,  # 20: CHAT_INPUT_COMMAND reply
            "author": self.bot_user,
            "content": body.get("content") or "",
            "embeds": body.get("embeds") or [],
            "components": body.get("components") or [],
            "attachments": self._attachments(channel_id, files),
            "mentions": [],
            "mention_roles": [],
            "mention_everyone": False,
            "pinned": False,
            "tts": False,
            "timestamp": iso_now(),
            "edited_timestamp": None,
            "flags": flags,
            "allowed_mentions": body.get("allowed_mentions"),
        }
        if interaction is not None:
            message["webhook_id"] = str(self.application_id)
            message["application_id"] = str(self.application_id)
            message["interaction_id"] = str(interaction.id)  # the emulator's own bookkeeping
        with self.lock:
            self.messages[message_id] = message
        return message

    def edit_stored_message(
        self, message_id: int, body: dict[str, Any], files: list[dict[str, Any]]
    ) -> dict[str, Any]:
        with self.lock:
            message = self.messages[message_id]
            for key in ("content", "embeds", "components", "allowed_mentions"):
                if key in body:
                    message[key] = (
                        body[key] if body[key] is not None else ([] if key != "content" else "")
                    )
            if "attachments" in body or files:
                kept_ids = {str(a.get("id")) for a in body.get("attachments") or []}
                kept = [a for a in message["attachments"] if a["id"] in kept_ids]
                message["attachments"] = kept + self._attachments(int(message["channel_id"]), files)
            message["edited_timestamp"] = iso_now()
            return message

    # -- what a test injects ---------------------------------------------------------
    def fail_next(
        self,
        method: str,
        path: str,
        status: int,
        *,
        count: int = 1,
        retry_after: float = 1.0,
        body: dict[str, Any] | None = None,
    ) -> None:
        """Answer the next ``count`` requests matching (a regex on the path) with ``status``."""
        with self.lock:
            self._failures.append(
                Failure(method, re.compile(path), status, count, retry_after, body or {})
            )

    def clear_failures(self) -> None:
        """Forget the injected answers not used yet: Discord takes requests again."""
        with self.lock:
            self._failures.clear()

    def drop_gateway(self, code: int = 4000) -> int:
        return self.run(self.gateway.drop(code))

    def role_updated(self, role_id: int, guild: GuildSetup | None = None) -> None:
        """A server manager edited a role: GUILD_ROLE_UPDATE with the guild's role as it is now.

        Change the ``GuildSetup`` first (``moderator_role_mentionable``, ``bot_permissions``).
        """
        guild = guild or self.guild
        data = {"guild_id": str(guild.guild_id), "role": guild.role_payload(role_id)}

        async def send() -> None:
            await self.gateway.dispatch(guild.guild_id, "GUILD_ROLE_UPDATE", data)

        self.run(send())

    def set_roles(
        self,
        persona: Persona,
        role_ids: Iterable[int],
        *,
        guild: GuildSetup | None = None,
        manage_guild: bool | None = None,
    ) -> Persona:
        """A server manager changes a member's roles (and Manage Server) while the test runs.

        Every later answer says so: the bot token's ``/guilds/{id}/members/{user}``,
        the person's ``/users/@me/guilds`` (permissions) and
        ``/users/@me/guilds/{id}/member`` (roles). Returns the guild's persona.
        """
        guild = guild or self.guild
        with self.lock:
            member = guild.members[persona.user_id]
            member.role_ids = tuple(role_ids)
            if manage_guild is not None:
                member.permissions = (member.permissions & ~MANAGE_GUILD) | (
                    MANAGE_GUILD if manage_guild else 0
                )
            return member

    def delete_message(self, message_id: int) -> None:
        """A moderator deletes a message: later edits of it get 404 Unknown Message."""
        with self.lock:
            self.messages.pop(int(message_id))

    # -- what a member does ------------------------------------------------------------
    def command(self, name: str, guild: GuildSetup | None = None) -> dict[str, Any]:
        guild = guild or self.guild
        with self.lock:
            for scope in (guild.guild_id, None):
                for command in self.commands.get(scope, {}).values():
                    if command["name"] == name and int(command.get("type", 1)) == 1:
                        return copy.deepcopy(command)
        raise LookupError(f"/{name} is not registered (registered: {self.command_names()})")

    def command_names(self, scope: int | None = None) -> list[str]:
        with self.lock:
            return sorted(c["name"] for c in self.commands.get(scope, {}).values())

    def _send(
        self,
        persona: Persona,
        kind: int,
        data: dict[str, Any],
        *,
        guild: GuildSetup | None = None,
        message: dict[str, Any] | None = None,
        channel_id: int | None = None,
    ) -> ix.InteractionRecord:
        guild = guild or self.guild
        if message is not None:
            channel_id = int(message["channel_id"])
            message = {
                k: v for k, v in message.items() if k not in {"allowed_mentions", "interaction_id"}
            }
        payload = ix.interaction_payload(
            application_id=self.application_id,
            kind=kind,
            guild=guild,
            persona=persona,
            data=data,
            channel_id=channel_id,
            message=message,
        )
        record = ix.InteractionRecord(
            id=int(payload["id"]),
            token=payload["token"],
            type=kind,
            guild_id=guild.guild_id,
            channel_id=int(payload["channel_id"]),
            payload=payload,
            source_message_id=int(message["id"]) if message else None,
        )
        with self.lock:
            self.interactions[record.id] = record

        async def send() -> None:
            record.sent_at = await self.gateway.dispatch(
                guild.guild_id, "INTERACTION_CREATE", payload
            )

        self.run(send())
        return record

    def slash(self, persona: Persona, command: str, /, **options: Any) -> ix.InteractionRecord:
        """``/market show market:3`` is ``slash(member, "market show", market="3")``."""
        path = command.split()
        data = ix.command_data(self.command(path[0]), path, options, self.guild)
        return self._send(persona, ix.APPLICATION_COMMAND, data)

    def autocomplete(
        self, persona: Persona, command: str, /, *, focused: str, **options: Any
    ) -> ix.InteractionRecord:
        path = command.split()
        data = ix.command_data(self.command(path[0]), path, options, self.guild, focused=focused)
        return self._send(persona, ix.AUTOCOMPLETE, data)

    def click(self, persona: Persona, message: dict[str, Any], label: str) -> ix.InteractionRecord:
        button = ix.find_component(message, label=label)
        if button.get("disabled"):
            raise AssertionError(f"the {label!r} button is disabled; a member cannot click it")
        data = {"custom_id": button["custom_id"], "component_type": ix.BUTTON}
        return self._send(persona, ix.MESSAGE_COMPONENT, data, message=message)

    def select(
        self, persona: Persona, message: dict[str, Any], values: list[str]
    ) -> ix.InteractionRecord:
        menu = ix.find_component(message)
        data = {
            "custom_id": menu["custom_id"],
            "component_type": ix.STRING_SELECT,
            "values": values,
        }
        return self._send(persona, ix.MESSAGE_COMPONENT, data, message=message)

    def submit(
        self, persona: Persona, modal_of: ix.InteractionRecord, values: dict[str, str]
    ) -> ix.InteractionRecord:
        """Fill in and submit the modal the bot answered ``modal_of`` with."""
        callback = self.wait_for_callback(modal_of)
        if callback.type != 9:
            raise AssertionError(
                f"the bot answered with callback type {callback.type}, not a modal"
            )
        data = ix.modal_data(callback.data["custom_id"], values)
        return self._send(persona, ix.MODAL_SUBMIT, data, channel_id=modal_of.channel_id)

    # -- what the bot did -----------------------------------------------------------------
    def wait_for(self, check: Callable[[], T | None], *, timeout: float = 20, what: str) -> T:
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                found = check()
            if found:
                return found
            if time.monotonic() > deadline:
                raise EmulatorTimeout(
                    f"timed out after {timeout} s waiting for {what}.\n{self.describe()}"
                )
            time.sleep(0.05)

    def wait_for_callback(self, record: ix.InteractionRecord, timeout: float = 10) -> ix.Callback:
        return self.wait_for(
            lambda: record.callback, timeout=timeout, what=f"a response to interaction {record.id}"
        )

    def wait_for_reply(
        self, record: ix.InteractionRecord, *, contains: str = "", timeout: float = 20
    ) -> dict[str, Any]:
        """The interaction's latest message (original or follow-up) once it shows ``contains``."""

        def latest() -> dict[str, Any] | None:
            ids = [record.original_id, *record.followup_ids]
            for message_id in reversed([i for i in ids if i is not None]):
                message = self.messages.get(message_id)
                if (
                    message
                    and not int(message["flags"]) & 128
                    and contains in message_text(message)
                ):
                    return copy.deepcopy(message)
            return None

        return self.wait_for(
            latest, timeout=timeout, what=f"a reply to interaction {record.id} showing {contains!r}"
        )

    def requests_matching(self, method: str, path: str, *, since: int = 0) -> list[RecordedRequest]:
        pattern = re.compile(path)
        with self.lock:
            return [
                r for r in self.requests[since:] if r.method == method and pattern.search(r.path)
            ]

    def message(self, message_id: int) -> dict[str, Any]:
        with self.lock:
            return copy.deepcopy(self.messages[int(message_id)])

    def describe(self, last: int = 25) -> str:
        with self.lock:
            lines = [f"  {r.method} {r.path} -> {r.status}" for r in self.requests[-last:]]
            violations = list(self.violations)
        text = "last requests:\n" + ("\n".join(lines) or "  (none)")
        if violations:
            text += "\nviolations:\n" + "\n".join(f"  {v}" for v in violations)
        return text


SIGNATURES = {
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
    b"GIF8": "image/gif",
}


def detected_content_type(file: dict[str, Any]) -> str:
    """The type Discord gives an upload: from its bytes, else its name, else octet-stream."""
    data = file.get("data") or b""
    for signature, content_type in SIGNATURES.items():
        if data.startswith(signature):
            return content_type
    guessed, _ = mimetypes.guess_type(file.get("filename") or "")
    return guessed or "application/octet-stream"


def message_text(message: dict[str, Any]) -> str:
    """Everything a member reads on a message: content, embed titles, descriptions, fields."""
    parts = [message.get("content") or ""]
    for embed in message.get("embeds") or []:
        parts += [embed.get("title") or "", embed.get("description") or ""]
        for embed_field in embed.get("fields") or []:
            parts += [embed_field.get("name") or "", embed_field.get("value") or ""]
        parts.append((embed.get("footer") or {}).get("text") or "")
    return "\n".join(parts)
