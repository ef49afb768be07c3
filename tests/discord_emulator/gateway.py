"""The gateway: HELLO, IDENTIFY → READY + GUILD_CREATE, heartbeats, RESUME, dispatches.

Frames are plain JSON text (nextcord asks for ``compress=zlib-stream`` but only
inflates binary frames). Each IDENTIFY opens a session for one shard; its
dispatches are numbered and kept, so a client that RESUMEs after a dropped
connection is sent what it missed, then RESUMED.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

if TYPE_CHECKING:
    from tests.discord_emulator.server import DiscordEmulator

DISPATCH, HEARTBEAT, IDENTIFY, RESUME, RECONNECT, INVALID_SESSION, HELLO, HEARTBEAT_ACK = (
    0,
    1,
    2,
    6,
    7,
    9,
    10,
    11,
)


def control(op: int, data: Any = None) -> str:
    """A non-dispatch frame: nextcord reads ``s`` and ``t`` from every frame."""
    return json.dumps({"op": op, "d": data, "s": None, "t": None})


@dataclass
class Session:
    session_id: str
    shard_id: int
    shard_count: int
    seq: int = 0
    sent: list[dict[str, Any]] = field(default_factory=list)
    ws: web.WebSocketResponse | None = None
    heartbeats: int = 0
    resumes: int = 0


class Gateway:
    def __init__(self, emulator: DiscordEmulator) -> None:
        self.emulator = emulator
        self.sessions: dict[str, Session] = {}
        self.identifies: list[tuple[int, int]] = []  # (shard id, shard count) per IDENTIFY
        self.connections = 0

    def session_for_guild(self, guild_id: int) -> Session | None:
        for session in reversed(
            list(self.sessions.values())
        ):  # the newest session of the owning shard
            if (guild_id >> 22) % session.shard_count == session.shard_id:
                return session
        return None

    async def _send(self, session: Session, event: str, data: dict[str, Any]) -> float | None:
        session.seq += 1
        frame = {"op": DISPATCH, "t": event, "s": session.seq, "d": data}
        session.sent.append(frame)
        if session.ws is None or session.ws.closed:
            return None  # kept for the RESUME
        await session.ws.send_str(json.dumps(frame))
        return self.emulator.clock()

    async def dispatch(self, guild_id: int, event: str, data: dict[str, Any]) -> float | None:
        """Send an event to the shard of ``guild_id``; the time it went on the wire."""
        session = self.session_for_guild(guild_id)
        if session is None:
            raise RuntimeError(f"no gateway session serves guild {guild_id}: is the bot connected?")
        return await self._send(session, event, data)

    async def drop(self, code: int = 4000) -> int:
        """Close every live connection as Discord does on an error (4000: resumable)."""
        dropped = 0
        for session in self.sessions.values():
            if session.ws is not None and not session.ws.closed:
                await session.ws.close(code=code, message=b"emulator dropped the connection")
                dropped += 1
            session.ws = None
        return dropped

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True, max_msg_size=0)
        await ws.prepare(request)
        self.connections += 1
        interval = self.emulator.heartbeat_interval_ms
        await ws.send_str(control(HELLO, {"heartbeat_interval": interval}))
        session: Session | None = None
        async for message in ws:
            if message.type is not WSMsgType.TEXT:
                continue
            frame = json.loads(message.data)
            op, data = frame.get("op"), frame.get("d") or {}
            if op == HEARTBEAT:
                if session is not None:
                    session.heartbeats += 1
                await ws.send_str(control(HEARTBEAT_ACK))
            elif op == IDENTIFY:
                if data.get("token") != self.emulator.token:
                    await ws.close(code=4004, message=b"Authentication failed.")
                    break
                shard_id, shard_count = data.get("shard") or [0, 1]
                self.identifies.append((int(shard_id), int(shard_count)))
                session = Session(secrets.token_hex(16), int(shard_id), int(shard_count), ws=ws)
                self.sessions[session.session_id] = session
                await self._ready(session)
            elif op == RESUME:
                session = self.sessions.get(str(data.get("session_id")))
                if session is None or data.get("token") != self.emulator.token:
                    await ws.send_str(control(INVALID_SESSION, False))
                    continue
                session.ws = ws
                session.resumes += 1
                missed = [f for f in session.sent if f["s"] > int(data.get("seq") or 0)]
                for missed_frame in missed:
                    await ws.send_str(json.dumps(missed_frame))
                await self._send(session, "RESUMED", {})
        if session is not None and session.ws is ws:
            session.ws = None
        return ws

    async def _ready(self, session: Session) -> None:
        emulator = self.emulator
        guilds = [
            g
            for g in emulator.guilds
            if (g.guild_id >> 22) % session.shard_count == session.shard_id
        ]
        await self._send(
            session,
            "READY",
            {
                "v": 10,
                "user": emulator.bot_user,
                "guilds": [{"id": str(g.guild_id), "unavailable": True} for g in guilds],
                "session_id": session.session_id,
                "resume_gateway_url": emulator.gateway_url,
                "shard": [session.shard_id, session.shard_count],
                "application": {"id": str(emulator.application_id), "flags": 0},
                "private_channels": [],
                "relationships": [],
                "presences": [],
                "guild_join_requests": [],
                "geo_ordered_rtc_regions": [],
                "user_settings": {},
            },
        )
        await asyncio.sleep(0)
        for guild in guilds:
            await self._send(session, "GUILD_CREATE", guild.guild_create_payload(emulator.bot_user))
