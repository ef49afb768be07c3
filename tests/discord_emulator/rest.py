"""Discord's HTTP API, the part the bot uses, with the rules Discord enforces.

Every request is recorded (method, path, body, files, status, time) before it
is answered. Bodies are validated against Discord's OpenAPI description; a
body that does not match is refused with Discord's 50035 "Invalid Form Body"
and recorded as a violation, as are a second initial response, a response
after the 3-second deadline and a follow-up after the 15-minute token life.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from aiohttp import BodyPartReader, web

from tests.discord_emulator.interactions import Callback, InteractionRecord
from tests.discord_emulator.model import iso_now, snowflake

if TYPE_CHECKING:
    from tests.discord_emulator.server import DiscordEmulator

EPHEMERAL = 1 << 6
LOADING = 1 << 7
INITIAL_RESPONSE_DEADLINE = 3.0
TOKEN_LIFETIME = 15 * 60.0

PONG, MESSAGE, DEFERRED_MESSAGE, DEFERRED_UPDATE, UPDATE, AUTOCOMPLETE_RESULT, MODAL = (
    1,
    4,
    5,
    6,
    7,
    8,
    9,
)


@dataclass
class RecordedRequest:
    index: int
    method: str
    path: str  # without /api/v10
    query: dict[str, str]
    body: Any = field(repr=False)
    files: list[dict[str, Any]] = field(repr=False)
    at: float  # emulator clock when it arrived
    status: int = 0
    multipart: bool = False  # sent as multipart/form-data (``body`` is its payload_json)
    form_problems: list[str] = field(default_factory=list, repr=False)

    @property
    def is_write(self) -> bool:
        return self.method in {"POST", "PUT", "PATCH", "DELETE"}


@dataclass
class Failure:
    """An injected answer for the next ``count`` requests matching ``method`` and ``path``."""

    method: str
    path: re.Pattern[str]
    status: int
    count: int = 1
    retry_after: float = 1.0
    body: dict[str, Any] = field(default_factory=dict)


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    # Exactly "application/json": nextcord parses JSON only then (no "; charset=").
    return web.Response(
        body=json.dumps(data).encode(),
        status=status,
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def error(status: int, code: int, message: str, **extra: Any) -> web.Response:
    return json_response({"code": code, "message": message, **extra}, status)


BUCKET_HEADERS = {
    "X-RateLimit-Limit": "5",
    "X-RateLimit-Remaining": "4",
    "X-RateLimit-Reset-After": "1.000",
    "X-RateLimit-Bucket": "emulator",
}


def injected(failure: Failure) -> web.Response:
    if failure.status == 429:
        seconds = failure.retry_after
        return json_response(
            {"message": "You are being rate limited.", "retry_after": seconds, "global": False},
            429,
            {
                "Retry-After": str(math.ceil(seconds)),
                "X-RateLimit-Limit": "5",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset-After": f"{seconds:.3f}",
                "X-RateLimit-Bucket": "emulator-injected",
                "X-RateLimit-Scope": "user",
                # Discord's own 429s come through Google's front end; nextcord treats
                # a 429 without "Via" as a Cloudflare ban and does not retry it.
                "Via": "1.1 google",
            },
        )
    defaults = {403: (50001, "Missing Access"), 404: (10008, "Unknown Message")}
    code, message = defaults.get(failure.status, (0, "Injected failure"))
    return json_response({"code": code, "message": message, **failure.body}, failure.status)


FILE_FIELD = re.compile(r"^files\[(\d+)\]$")


def _described(payload: Any, field_name: str) -> str | None:
    """The description ``payload_json`` gives the file part ``files[n]`` (attachment id n)."""
    match = FILE_FIELD.match(field_name or "")
    holder = payload.get("data", payload) if isinstance(payload, dict) else None
    if match is None or not isinstance(holder, dict):
        return None
    for attachment in holder.get("attachments") or []:
        if isinstance(attachment, dict) and str(attachment.get("id")) == match.group(1):
            return attachment.get("description")
    return None


Handler = Callable[[web.Request, RecordedRequest, dict[str, str]], Awaitable[web.Response]]


class Rest:
    def __init__(self, emulator: DiscordEmulator) -> None:
        self.emu = emulator
        app = emulator.application_id
        route = self._route
        self.routes: list[tuple[str, re.Pattern[str], Handler, bool]] = [
            # The bot's token gets the bot user; a signed-in person's Bearer token, them.
            route("GET", r"/users/@me", self.me, authorized=False),
            route("GET", r"/users/@me/guilds", self.my_guilds, authorized=False),
            route(
                "GET",
                r"/users/@me/guilds/(?P<guild>\d+)/member",
                self.my_guild_member,
                authorized=False,
            ),
            # Discord's OAuth2 token endpoint (form-encoded; not in the OpenAPI document).
            route("POST", r"/oauth2/token", self.oauth_token, authorized=False),
            route("GET", r"/gateway/bot", self.gateway_bot),
            route("GET", r"/gateway", self.gateway),
            route("GET", r"/applications/@me", self.application),
            route("GET", r"/oauth2/applications/@me", self.application),
            route(
                "GET", rf"/applications/{app}(?:/guilds/(?P<guild>\d+))?/commands", self.commands
            ),
            route(
                "PUT", rf"/applications/{app}(?:/guilds/(?P<guild>\d+))?/commands", self.overwrite
            ),
            route("POST", rf"/applications/{app}(?:/guilds/(?P<guild>\d+))?/commands", self.create),
            route(
                "PATCH",
                rf"/applications/{app}(?:/guilds/(?P<guild>\d+))?/commands/(?P<id>\d+)",
                self.edit_command,
            ),
            route(
                "DELETE",
                rf"/applications/{app}(?:/guilds/(?P<guild>\d+))?/commands/(?P<id>\d+)",
                self.delete_command,
            ),
            route(
                "POST",
                r"/interactions/(?P<id>\d+)/(?P<token>[^/]+)/callback",
                self.callback,
                authorized=False,
            ),
            route("POST", rf"/webhooks/{app}/(?P<token>[^/]+)", self.followup, authorized=False),
            route(
                "GET",
                rf"/webhooks/{app}/(?P<token>[^/]+)/messages/(?P<message>@original|\d+)",
                self.get_webhook_message,
                authorized=False,
            ),
            route(
                "PATCH",
                rf"/webhooks/{app}/(?P<token>[^/]+)/messages/(?P<message>@original|\d+)",
                self.edit_webhook_message,
                authorized=False,
            ),
            route("POST", r"/users/@me/channels", self.create_dm),
            route("POST", r"/channels/(?P<channel>\d+)/messages", self.create_message),
            route(
                "PATCH",
                r"/channels/(?P<channel>\d+)/messages/(?P<message>\d+)",
                self.edit_message,
            ),
            route(
                "POST",
                r"/channels/(?P<channel>\d+)/messages/(?P<message>\d+)/threads",
                self.start_thread_with_message,
            ),
            route("GET", r"/guilds/(?P<guild>\d+)/members/(?P<user>\d+)", self.guild_member),
        ]

    @staticmethod
    def _route(
        method: str, pattern: str, handler: Handler, *, authorized: bool = True
    ) -> tuple[str, re.Pattern[str], Handler, bool]:
        return method, re.compile(f"^{pattern}$"), handler, authorized

    # -- the one entry point ---------------------------------------------------
    async def handle(self, request: web.Request) -> web.Response:
        emu = self.emu
        path = "/" + request.match_info["tail"]
        body, files, form_problems = await self._read_body(request)
        recorded = emu.record(request.method, path, dict(request.query), body, files)
        recorded.multipart = form_problems is not None
        recorded.form_problems = form_problems or []
        response = await self._answer(request, recorded, path)
        recorded.status = response.status
        return response

    async def _answer(
        self, request: web.Request, recorded: RecordedRequest, path: str
    ) -> web.Response:
        emu = self.emu
        failure = emu.take_failure(request.method, path)
        if failure is not None:
            return injected(failure)
        for method, pattern, handler, authorized in self.routes:
            match = pattern.match(path)
            if method != request.method or match is None:
                continue
            if authorized and request.headers.get("Authorization") != f"Bot {emu.token}":
                return error(401, 0, "401: Unauthorized")
            if recorded.multipart:
                problems = recorded.form_problems or emu.spec.errors(
                    request.method, path, recorded.body, multipart=True
                )
                if problems:
                    emu.violation(
                        f"{request.method} {path}: multipart body does not match the spec: "
                        f"{problems}"
                    )
                    return error(400, 50035, "Invalid Form Body", errors=problems)
            elif handler == self.oauth_token:
                pass  # its form body is checked by the OAuth2 server itself
            elif recorded.body is not None or request.method in {"POST", "PUT", "PATCH"}:
                problems = emu.spec.errors(request.method, path, recorded.body)
                if problems:
                    emu.violation(
                        f"{request.method} {path}: body does not match the spec: {problems}"
                    )
                    return error(400, 50035, "Invalid Form Body", errors=problems)
            response = await handler(request, recorded, match.groupdict())
            response.headers.update(BUCKET_HEADERS)
            return response
        emu.violation(f"{request.method} {path}: the emulator does not serve this route")
        return error(404, 0, "404: Not Found")

    async def _read_body(
        self, request: web.Request
    ) -> tuple[Any, list[dict[str, Any]], list[str] | None]:
        """The JSON body (or a multipart body's ``payload_json``), its files, and form problems.

        The third value is ``None`` for a plain body and the list of what is
        wrong with the form (empty when nothing is) for ``multipart/form-data``.
        """
        content_type = request.headers.get("Content-Type", "")
        if content_type.startswith("application/x-www-form-urlencoded"):
            return dict(parse_qsl((await request.read()).decode())), [], None
        if not content_type.startswith("multipart/"):
            raw = await request.read()
            return (json.loads(raw) if raw else None), [], None
        body: Any = None
        files: list[dict[str, Any]] = []
        problems: list[str] = []
        reader = await request.multipart()
        async for part in reader:
            if not isinstance(part, BodyPartReader):
                problems.append("a nested multipart part (Discord reads flat forms only)")
                continue
            data = await part.read()
            if part.name == "payload_json":
                try:
                    body = json.loads(data)
                except ValueError:
                    problems.append("payload_json is not valid JSON")
                continue
            if not part.filename:
                problems.append(f"the form field {part.name!r} is neither payload_json nor a file")
                continue
            files.append(
                {
                    "field": part.name,
                    "filename": part.filename,
                    "size": len(data),
                    "content_type": part.headers.get("Content-Type", ""),
                    "data": bytes(data),
                }
            )
        if body is None and not problems:
            problems.append("a multipart body without its payload_json part")
        for file in files:
            file["description"] = _described(body, file["field"])
        return body, files, problems

    # -- identity and gateway --------------------------------------------------
    async def me(
        self, request: web.Request, rec: RecordedRequest, args: dict[str, str]
    ) -> web.Response:
        authorization = request.headers.get("Authorization")
        if authorization == f"Bot {self.emu.token}":
            return json_response(self.emu.bot_user)
        persona = self.emu.oauth.persona_for(authorization)
        if persona is None:
            return error(401, 0, "401: Unauthorized")
        return json_response(persona.user_payload())

    async def my_guilds(
        self, request: web.Request, rec: RecordedRequest, args: dict[str, str]
    ) -> web.Response:
        persona = self.emu.oauth.persona_for(request.headers.get("Authorization"))
        if persona is None:
            # The bot's token lists the bot's guilds on Discord; nothing here asks for them.
            return error(401, 0, "401: Unauthorized")
        return json_response(self.emu.oauth.my_guilds(persona))

    async def my_guild_member(
        self, request: web.Request, rec: RecordedRequest, args: dict[str, str]
    ) -> web.Response:
        """``GET /users/@me/guilds/{guild_id}/member``: the person's own member object.

        Needs a user's Bearer token granted ``guilds.members.read``; a guild they
        are not in is Discord's 404 Unknown Guild (10004).
        """
        oauth = self.emu.oauth
        authorization = request.headers.get("Authorization")
        persona = oauth.persona_for(authorization)
        if persona is None:
            return error(401, 0, "401: Unauthorized")
        if "guilds.members.read" not in oauth.scopes_for(authorization):
            return error(403, 50001, "Missing Access")
        with self.emu.lock:
            guild = self.emu.guild_by_id(int(args["guild"]))
            member = guild.members.get(persona.user_id) if guild else None
            if member is None:
                return error(404, 10004, "Unknown Guild")
            return json_response(member.private_member_payload())

    async def oauth_token(
        self, request: web.Request, rec: RecordedRequest, args: dict[str, str]
    ) -> web.Response:
        return await self.emu.oauth.token(request, rec.body)

    async def gateway_bot(
        self, request: web.Request, rec: RecordedRequest, args: dict[str, str]
    ) -> web.Response:
        return json_response(
            {
                "url": self.emu.gateway_url,
                "shards": self.emu.recommended_shards,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 999,
                    "reset_after": 14_400_000,
                    "max_concurrency": 1,
                },
            }
        )

    async def gateway(
        self, request: web.Request, rec: RecordedRequest, args: dict[str, str]
    ) -> web.Response:
        return json_response({"url": self.emu.gateway_url})

    async def application(
        self, request: web.Request, rec: RecordedRequest, args: dict[str, str]
    ) -> web.Response:
        emu = self.emu
        return json_response(
            {
                "id": str(emu.application_id),
                "name": emu.bot_user["username"],
                "icon": None,
                "description": "",
                "bot_public": True,
                "bot_require_code_grant": False,
                "verify_key": "0" * 64,
                "flags": 0,
                "owner": {**emu.bot_user, "bot": False, "id": str(snowflake())},
                "team": None,
            }
        )

    async def guild_member(
        self, request: web.Request, rec: RecordedRequest, args: dict[str, str]
    ) -> web.Response:
        guild = self.emu.guild_by_id(int(args["guild"]))
        persona = guild.members.get(int(args["user"])) if guild else None
        if persona is None:
            return error(404, 10007, "Unknown Member")
        member = persona.member_payload()
        member.pop("permissions")  # only interactions carry resolved permissions
        return json_response(member)

    # -- application commands ----------------------------------------------------
    def _store(self, guild: str | None) -> dict[int, dict[str, Any]]:
        return self.emu.commands.setdefault(int(guild) if guild else None, {})

    def _command(self, body: dict[str, Any], guild: str | None, command_id: int) -> dict[str, Any]:
        # Stored as sent, with the fields Discord adds: nextcord compares what it
        # would send with what Discord lists to decide whether to write at all.
        command = {**body, "id": str(command_id), "application_id": str(self.emu.application_id)}
        command.setdefault("type", 1)
        command["version"] = str(snowflake())
        if guild:
            command["guild_id"] = guild
        return command

    async def commands(
        self, request: web.Request, rec: RecordedRequest, args: dict[str, str]
    ) -> web.Response:
        with self.emu.lock:
            return json_response(list(self._store(args["guild"]).values()))

    async def overwrite(
        self, request: web.Request, rec: RecordedRequest, args: dict[str, str]
    ) -> web.Response:
        with self.emu.lock:
            store = self._store(args["guild"])
            by_name = {(c["name"], c["type"]): int(c["id"]) for c in store.values()}
            store.clear()
            for body in rec.body or []:
                key = (body["name"], body.get("type", 1))
                command = self._command(body, args["guild"], by_name.get(key) or snowflake())
                store[int(command["id"])] = command
            return json_response(list(store.values()))

    async def create(
        self, request: web.Request, rec: RecordedRequest, args: dict[str, str]
    ) -> web.Response:
        with self.emu.lock:
            store = self._store(args["guild"])
            key = (rec.body["name"], rec.body.get("type", 1))
            existing = next((c for c in store.values() if (c["name"], c["type"]) == key), None)
            # Creating a command whose name exists replaces it (Discord's upsert).
            command = self._command(
                rec.body, args["guild"], int(existing["id"]) if existing else snowflake()
            )
            store[int(command["id"])] = command
            return json_response(command, 200 if existing else 201)

    async def edit_command(
        self, request: web.Request, rec: RecordedRequest, args: dict[str, str]
    ) -> web.Response:
        with self.emu.lock:
            store = self._store(args["guild"])
            current = store.get(int(args["id"]))
            if current is None:
                return error(404, 10063, "Unknown application command")
            merged = {**current, **rec.body}
            for key in ("id", "application_id", "version", "guild_id"):
                merged.pop(key, None)
            store[int(args["id"])] = self._command(merged, args["guild"], int(args["id"]))
            return json_response(store[int(args["id"])])

    async def delete_command(
        self, request: web.Request, rec: RecordedRequest, args: dict[str, str]
    ) -> web.Response:
        with self.emu.lock:
            if self._store(args["guild"]).pop(int(args["id"]), None) is None:
                return error(404, 10063, "Unknown application command")
            return web.Response(status=204)

    # -- interactions --------------------------------------------------------------
    async def callback(
        self, request: web.Request, rec: RecordedRequest, args: dict[str, str]
    ) -> web.Response:
        emu = self.emu
        with emu.lock:
            record = emu.interactions.get(int(args["id"]))
            if record is None or record.token != args["token"]:
                emu.violation(f"callback for an unknown interaction {args['id']}")
                return error(404, 10062, "Unknown interaction")
            after = rec.at - (record.sent_at or rec.at)
            if record.callback is not None:
                emu.violation(
                    f"interaction {record.id} answered twice (callback types "
                    f"{record.callback.type} then {rec.body.get('type')})"
                )
                return error(400, 40060, "Interaction has already been acknowledged.")
            if after > INITIAL_RESPONSE_DEADLINE:
                emu.violation(
                    f"interaction {record.id} answered {after:.2f} s after it was sent (limit 3 s)"
                )
                return error(404, 10062, "Unknown interaction")
            kind = int(rec.body["type"])
            data = rec.body.get("data") or {}
            record.callback = Callback(kind, data, after)
            if kind in (MESSAGE, DEFERRED_MESSAGE):
                flags = int(data.get("flags") or 0) & EPHEMERAL
                if kind == DEFERRED_MESSAGE:
                    flags |= LOADING
                    record.deferred_pending = True
                message = emu.new_message(
                    record.channel_id,
                    {} if kind == DEFERRED_MESSAGE else data,
                    rec.files,
                    flags=flags,
                    interaction=record,
                )
                record.original_id = int(message["id"])
            elif kind in (DEFERRED_UPDATE, UPDATE):
                record.original_id = record.source_message_id
                if kind == UPDATE and record.source_message_id is not None:
                    emu.edit_stored_message(record.source_message_id, data, rec.files)
        return web.Response(status=204)

    def _webhook_interaction(
        self, token: str, rec: RecordedRequest
    ) -> InteractionRecord | web.Response:
        emu = self.emu
        record = next((r for r in emu.interactions.values() if r.token == token), None)
        if record is None:
            emu.violation(f"{rec.method} {rec.path}: unknown webhook token")
            return error(404, 10015, "Unknown Webhook")
        if record.sent_at is not None and rec.at - record.sent_at > TOKEN_LIFETIME:
            emu.violation(f"{rec.method} {rec.path}: the interaction token expired (15 minutes)")
            return error(401, 50027, "Invalid Webhook Token")
        if record.callback is None:
            emu.violation(f"{rec.method} {rec.path}: follow-up before the initial response")
            return error(404, 10015, "Unknown Webhook")
        return record

    async def followup(
        self, request: web.Request, rec: RecordedRequest, args: dict[str, str]
    ) -> web.Response:
        emu = self.emu
        with emu.lock:
            record = self._webhook_interaction(args["token"], rec)
            if isinstance(record, web.Response):
                return record
            if record.deferred_pending and record.original_id is not None:
                # Discord: the first follow-up after a deferred reply fills that reply
                # in, and keeps its flags (an ephemeral "thinking" stays ephemeral).
                record.deferred_pending = False
                message = emu.edit_stored_message(record.original_id, rec.body or {}, rec.files)
                message["flags"] = int(message["flags"]) & ~LOADING
            else:
                flags = int((rec.body or {}).get("flags") or 0) & EPHEMERAL
                message = emu.new_message(
                    record.channel_id, rec.body or {}, rec.files, flags=flags, interaction=record
                )
                record.followup_ids.append(int(message["id"]))
        if rec.query.get("wait") in {"true", "True", "1"}:
            return json_response(message)
        return web.Response(status=204)

    def _webhook_message_id(self, record: InteractionRecord, which: str) -> int | None:
        if which == "@original":
            return record.original_id
        wanted = int(which)
        if wanted == record.original_id or wanted in record.followup_ids:
            return wanted
        return None

    async def get_webhook_message(
        self, request: web.Request, rec: RecordedRequest, args: dict[str, str]
    ) -> web.Response:
        with self.emu.lock:
            record = self._webhook_interaction(args["token"], rec)
            if isinstance(record, web.Response):
                return record
            message_id = self._webhook_message_id(record, args["message"])
            if message_id is None or message_id not in self.emu.messages:
                return error(404, 10008, "Unknown Message")
            return json_response(self.emu.messages[message_id])

    async def edit_webhook_message(
        self, request: web.Request, rec: RecordedRequest, args: dict[str, str]
    ) -> web.Response:
        emu = self.emu
        with emu.lock:
            record = self._webhook_interaction(args["token"], rec)
            if isinstance(record, web.Response):
                return record
            message_id = self._webhook_message_id(record, args["message"])
            if message_id is None or message_id not in emu.messages:
                return error(404, 10008, "Unknown Message")
            if message_id == record.original_id:
                record.deferred_pending = False
            message = emu.edit_stored_message(message_id, rec.body or {}, rec.files)
            message["flags"] = int(message["flags"]) & ~LOADING
            return json_response(message)

    # -- direct messages -------------------------------------------------------------
    async def create_dm(
        self, request: web.Request, rec: RecordedRequest, args: dict[str, str]
    ) -> web.Response:
        """``POST /users/@me/channels``: the DM channel with ``recipient_id`` (one per user).

        Opening the channel always works, even to a user whose DMs are closed:
        Discord refuses only the message sent there (403, code 50007).
        """
        emu = self.emu
        with emu.lock:
            recipient = (rec.body or {}).get("recipient_id")
            user_id = int(recipient) if recipient else 0
            persona = emu.persona_by_user_id(user_id)
            if persona is None:
                return error(400, 50033, "Invalid Recipient(s)")
            channel_id = emu.dm_channels.setdefault(user_id, snowflake())
            user = persona.private_member_payload()["user"]
            return json_response(
                {
                    "id": str(channel_id),
                    "type": 1,  # DM
                    "last_message_id": None,
                    "flags": 0,
                    "recipients": [user],
                }
            )

    # -- channel messages ------------------------------------------------------------
    async def create_message(
        self, request: web.Request, rec: RecordedRequest, args: dict[str, str]
    ) -> web.Response:
        emu = self.emu
        with emu.lock:
            if not emu.channel_exists(int(args["channel"])):
                return error(404, 10003, "Unknown Channel")
            if emu.dm_recipient(int(args["channel"])) in emu.dms_closed:
                return error(403, 50007, "Cannot send messages to this user")
            message = emu.new_message(int(args["channel"]), rec.body or {}, rec.files, flags=0)
            return json_response(message)

    async def start_thread_with_message(
        self, request: web.Request, rec: RecordedRequest, args: dict[str, str]
    ) -> web.Response:
        """``POST /channels/{channel}/messages/{message}/threads``: a public thread from a message.

        As Discord: the thread takes the message's id, the message must be a
        visible one in that guild text channel (not in a thread), and a message
        starts one thread at most (160004).
        """
        emu = self.emu
        with emu.lock:
            channel_id, message_id = int(args["channel"]), int(args["message"])
            guild = next((g for g in emu.guilds if channel_id in g.channel_ids), None)
            if guild is None:
                if channel_id in emu.threads:
                    return error(400, 50024, "Cannot execute action on this channel type")
                return error(404, 10003, "Unknown Channel")
            message = emu.messages.get(message_id)
            if (
                message is None
                or message["channel_id"] != args["channel"]
                or int(message["flags"]) & EPHEMERAL
            ):
                return error(404, 10008, "Unknown Message")
            if message_id in emu.threads:
                return error(400, 160004, "A thread has already been created for this message")
            body = rec.body or {}
            thread = {
                "id": str(message_id),
                "type": 11,  # PUBLIC_THREAD
                "guild_id": str(guild.guild_id),
                "parent_id": str(channel_id),
                "owner_id": emu.bot_user["id"],
                "name": body["name"],
                "last_message_id": None,
                "rate_limit_per_user": 0,
                "message_count": 0,
                "member_count": 1,
                "total_message_sent": 0,
                "flags": 0,
                "thread_metadata": {
                    "archived": False,
                    "auto_archive_duration": body.get("auto_archive_duration", 4320),
                    "archive_timestamp": iso_now(),
                    "locked": False,
                    "create_timestamp": iso_now(),
                },
                "member": {
                    "id": str(message_id),
                    "user_id": emu.bot_user["id"],
                    "join_timestamp": iso_now(),
                    "flags": 0,
                },
            }
            emu.threads[message_id] = thread
            message["thread"] = thread
            return json_response(thread, 201)

    async def edit_message(
        self, request: web.Request, rec: RecordedRequest, args: dict[str, str]
    ) -> web.Response:
        emu = self.emu
        with emu.lock:
            message = emu.messages.get(int(args["message"]))
            if message is None or message["channel_id"] != args["channel"]:
                return error(404, 10008, "Unknown Message")
            if int(message["flags"]) & EPHEMERAL:
                return error(
                    404, 10008, "Unknown Message"
                )  # only the interaction's token reaches it
            return json_response(
                emu.edit_stored_message(int(args["message"]), rec.body or {}, rec.files)
            )
